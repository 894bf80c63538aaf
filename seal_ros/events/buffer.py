"""Bounded, time-indexed event buffers and windowers.

* :class:`EventBuffer` keeps at most ``max_events`` events of one stream
  (overflow drops the oldest, counted) and cuts windows ``[t0, t1)`` at any
  timestamps, e.g. between two camera frames.
* :class:`DurationWindower` cuts the stream into fixed-duration windows
  ``[origin + k*d, origin + (k+1)*d)`` (origin: the first event's time unless
  given); a window is emitted once an event at or after its end arrives (or on
  ``flush()``); windows with no events are not emitted; events older than the
  open window ("late", e.g. evt3 time glitches) are dropped and counted.
* :class:`CountWindower` cuts windows of exactly ``count`` events (E2VID uses
  ``W*H*0.35``); their ``[t0, t1)`` spans their first to one past their last time.
* :class:`TickWindower` collects until ``flush()`` (a timer's tick) and emits
  what came since the previous tick as one window, at most ``max_events``.

Every window reports how many packets were lost inside it: lost packets are
announced with the events that follow the gap and counted in the window that
receives the first of those events.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from seal_ros.events.types import EventArray


@dataclass
class Window:
    """Events with ``t0 <= t < t1`` (ns) and the packets lost inside the window."""

    t0: int
    t1: int
    events: EventArray
    lost_packets: int = 0

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def lost(self) -> bool:
        return self.lost_packets > 0

    def __len__(self) -> int:
        return len(self.events)


def _select(ev: EventArray, lo: int, hi: int, tmin: int, tmax: int) -> Optional[EventArray]:
    if tmax < lo or tmin >= hi:
        return None
    if tmin >= lo and tmax < hi:
        return ev
    m = (ev.t >= lo) & (ev.t < hi)
    return ev[m] if m.any() else None


class EventBuffer:
    """At most ``max_events`` of the newest events of one stream, in arrival order."""

    def __init__(self, max_events: int):
        if int(max_events) < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.max_events = int(max_events)
        self._chunks: deque = deque()  # [EventArray, tmin, tmax]
        self._lost: deque = deque()  # (t_ns, count), time order of arrival
        self._pending_lost = 0
        self._n = 0
        self.dropped_overflow = 0
        self.appended = 0

    def __len__(self) -> int:
        return self._n

    @property
    def t_range(self):
        """(min, max) event time held, or None when empty."""
        if not self._chunks:
            return None
        return min(c[1] for c in self._chunks), max(c[2] for c in self._chunks)

    @property
    def stats(self) -> dict:
        return {"events": self._n, "appended": self.appended, "dropped_overflow": self.dropped_overflow,
                "max_events": self.max_events}

    def append(self, events: EventArray, lost_packets: int = 0) -> None:
        self._pending_lost += int(lost_packets)
        n = len(events)
        if n == 0:
            return
        self.appended += n
        if self._pending_lost:
            self._lost.append((int(events.t[0]), self._pending_lost))
            self._pending_lost = 0
        if n > self.max_events:  # keep only the newest
            self.dropped_overflow += n - self.max_events
            events = events[n - self.max_events:]
            n = len(events)
        self._chunks.append([events, int(events.t.min()), int(events.t.max())])
        self._n += n
        excess = self._n - self.max_events
        while excess > 0:
            ev = self._chunks[0][0]
            if len(ev) <= excess:
                self._chunks.popleft()
                k = len(ev)
            else:
                rest = ev[excess:]
                self._chunks[0] = [rest, int(rest.t.min()), int(rest.t.max())]
                k = excess
            self._n -= k
            self.dropped_overflow += k
            excess -= k

    def window(self, t0_ns: int, t1_ns: int) -> Window:
        t0, t1 = int(t0_ns), int(t1_ns)
        parts = [p for c in self._chunks if (p := _select(c[0], t0, t1, c[1], c[2])) is not None]
        lost = sum(k for t, k in self._lost if t0 <= t < t1)
        return Window(t0, t1, EventArray.concatenate(parts), lost)

    def windows_between(self, stamps: Iterable[int]) -> list:
        """Windows between consecutive timestamps (e.g. camera frame stamps)."""
        s = [int(v) for v in stamps]
        return [self.window(a, b) for a, b in zip(s[:-1], s[1:])]

    def drop_before(self, t_ns: int) -> None:
        """Forget events with ``t < t_ns`` (not counted as overflow)."""
        t_ns = int(t_ns)
        kept = deque()
        n = 0
        for ev, tmin, tmax in self._chunks:
            if tmin >= t_ns:
                kept.append([ev, tmin, tmax])
            elif tmax >= t_ns:
                rest = ev[ev.t >= t_ns]
                kept.append([rest, int(rest.t.min()), int(rest.t.max())])
            else:
                continue
            n += len(kept[-1][0])
        self._chunks = kept
        self._n = n
        while self._lost and self._lost[0][0] < t_ns:
            self._lost.popleft()

    def clear(self) -> None:
        self._chunks.clear()
        self._lost.clear()
        self._n = 0


class _Parts:
    """Event arrays of one open window, at most ``cap`` events (the oldest go first)."""

    def __init__(self, cap: Optional[int] = None):
        self.cap = cap
        self._parts: list = []
        self.n = 0

    def add(self, ev: EventArray) -> int:
        """Append; returns how many (old) events were dropped to stay within the cap."""
        self._parts.append(ev)
        self.n += len(ev)
        if self.cap is None or self.n <= self.cap:
            return 0
        extra = dropped = self.n - self.cap  # drop the oldest, part by part (no big copy)
        self.n = self.cap
        while extra:
            head = self._parts[0]
            if len(head) <= extra:
                self._parts.pop(0)
                extra -= len(head)
            else:
                self._parts[0] = head[extra:]
                extra = 0
        return dropped

    def take(self) -> EventArray:
        ev = EventArray.concatenate(self._parts)
        self._parts, self.n = [], 0
        return ev


def _by_window(events: EventArray, idx: np.ndarray):
    """(window index, its events in arrival order) in window order: one pass for time-ordered
    events, one stable sort otherwise (never a pass per window: a packet spanning many windows
    costs O(n log n), not O(n x windows))."""
    lo, hi = int(idx.min()), int(idx.max())
    if lo == hi:
        return [(lo, events)]
    order = None if bool(np.all(idx[1:] >= idx[:-1])) else np.argsort(idx, kind="stable")
    sidx = idx if order is None else idx[order]
    cuts = np.concatenate(([0], np.flatnonzero(sidx[1:] != sidx[:-1]) + 1, [len(sidx)]))
    return [(int(sidx[a]), events[a:b] if order is None else events[order[a:b]])
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist())]


class DurationWindower:
    """Fixed-duration windows ``[origin + k*d, origin + (k+1)*d)``."""

    def __init__(self, duration_ns: int, origin_ns: Optional[int] = None, max_events: Optional[int] = None):
        if int(duration_ns) <= 0:
            raise ValueError(f"duration_ns must be > 0, got {duration_ns}")
        if max_events is not None and int(max_events) < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.duration_ns = int(duration_ns)
        self.origin_ns = None if origin_ns is None else int(origin_ns)
        self.max_events = None if max_events is None else int(max_events)
        self._k = None  # index of the open window
        self._parts = _Parts(self.max_events)
        self._lost = 0  # lost packets of the open window
        self._lost_next = 0  # announced before the next events
        self.late_events = 0
        self.dropped_overflow = 0

    def _close(self) -> list:
        if not self._parts.n:
            return []
        t0 = self.origin_ns + self._k * self.duration_ns
        w = Window(t0, t0 + self.duration_ns, self._parts.take(), self._lost)
        self._lost = 0
        return [w]

    def _add(self, ev: EventArray) -> None:
        self.dropped_overflow += self._parts.add(ev)

    def feed(self, events: EventArray, lost_packets: int = 0, t_summary: Optional[tuple] = None) -> list:
        """The windows these events complete. ``t_summary``: (min, max, in order) of their times
        when known; events in order are cut at the window ends without per-event work."""
        lost = self._lost_next + int(lost_packets)
        self._lost_next = 0
        if len(events) == 0:
            self._lost_next = lost
            return []
        if self.origin_ns is None:
            self.origin_ns = int(events.t[0])
        if t_summary is not None:
            lo = (t_summary[0] - self.origin_ns) // self.duration_ns
            hi = (t_summary[1] - self.origin_ns) // self.duration_ns
            if self._k is None:
                self._k = lo
            if lo == hi and lo >= self._k:  # the common case: all in one window, none late
                out = self._close() if lo != self._k else []
                self._k = lo
                self._lost += lost
                self.dropped_overflow += self._parts.add(events)
                return out
            if lo >= self._k and t_summary[2]:  # in time order, none late: cut at the window ends
                ends = self.origin_ns + self.duration_ns * np.arange(lo + 1, hi + 1, dtype=np.int64)
                cuts = [0, *np.searchsorted(events.t, ends).tolist(), len(events)]
                return self._place([(u, events[a:b]) for u, a, b in zip(range(lo, hi + 1), cuts, cuts[1:])], lo, lost)
        idx = (events.t - self.origin_ns) // self.duration_ns
        if self._k is None:
            self._k = int(idx.min())
        late = idx < self._k
        if late.any():
            self.late_events += int(np.count_nonzero(late))
            events, idx = events[~late], idx[~late]
            if len(events) == 0:
                self._lost_next = lost
                return []
        return self._place(_by_window(events, idx), int(idx[0]), lost)

    def _place(self, parts, first: int, lost: int) -> list:
        """Add ``(window index, events)`` parts in window order (empty ones skipped); the packets
        lost before these events go to the window of the first one. The windows closed."""
        out = []
        for u, part in parts:
            if not len(part):
                continue
            if u != self._k:
                out += self._close()
                self._k = u
            if u == first:
                self._lost += lost
            self._add(part)
        return out

    @property
    def pending(self) -> int:
        """Events in the open window."""
        return self._parts.n

    def flush(self) -> list:
        """Emit the open window (partial) now."""
        return self._close()


class CountWindower:
    """Windows of exactly ``count`` events."""

    def __init__(self, count: int):
        if int(count) < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self.count = int(count)
        self._parts: list = []
        self._n = 0
        self._lost = 0  # lost packets of the open window
        self._lost_next = 0  # announced before any event of the next window

    def _make(self, ev: EventArray, lost: int) -> Window:
        return Window(int(ev.t.min()), int(ev.t.max()) + 1, ev, lost)

    def feed(self, events: EventArray, lost_packets: int = 0, t_summary: Optional[tuple] = None) -> list:
        if len(events) == 0:
            self._lost_next += int(lost_packets)
            return []
        self._lost += self._lost_next + int(lost_packets)
        self._lost_next = 0
        self._parts.append(events)
        self._n += len(events)
        if self._n < self.count:
            return []
        ev = EventArray.concatenate(self._parts)
        out = []
        i = 0
        while len(ev) - i >= self.count:
            out.append(self._make(ev[i:i + self.count], self._lost))
            self._lost = 0
            i += self.count
        rest = ev[i:]
        self._parts = [rest] if len(rest) else []
        self._n = len(rest)
        return out

    @property
    def pending(self) -> int:
        return self._n

    def flush(self) -> list:
        """Emit the remaining (fewer than ``count``) events as a window."""
        if not self._n:
            return []
        ev = EventArray.concatenate(self._parts)
        w = self._make(ev, self._lost)
        self._parts, self._n, self._lost = [], 0, 0
        return [w]


class TickWindower:
    """Everything since the previous ``flush()`` as one window (a publishing rate set by a timer).

    ``feed`` only collects, at most ``max_events`` (the oldest dropped, counted in
    ``dropped_overflow``); ``flush`` emits ``[first, last + 1)`` of what was collected.
    """

    def __init__(self, max_events: int):
        if int(max_events) < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.max_events = int(max_events)
        self._parts = _Parts(self.max_events)
        self._lost = 0
        self.dropped_overflow = 0

    def feed(self, events: EventArray, lost_packets: int = 0, t_summary: Optional[tuple] = None) -> list:
        self._lost += int(lost_packets)
        if len(events):
            self.dropped_overflow += self._parts.add(events)
        return []

    @property
    def pending(self) -> int:
        return self._parts.n

    def flush(self) -> list:
        if not self._parts.n:
            return []
        ev = self._parts.take()
        w = Window(int(ev.t.min()), int(ev.t.max()) + 1, ev, self._lost)
        self._lost = 0
        return [w]
