"""Event time as a timeline: discontinuities, outliers, and the sensor-to-ROS clock (no ROS).

:class:`TimeGuard` sits between decoding and windowing. Each packet's events get
a reference time (the middle event; the median when the packet spans more than
the bound) and are compared with the stream's current reference:

* going back, by any distance, or forward by more than ``max_jump_ns`` beyond
  what the packets' header stamps advanced meanwhile, is **off the timeline**;
* an off-timeline packet is *held* (one packet at most) until the next packet
  with events decides: if that one continues the old timeline, the held packet
  was an outlier (its events are dropped, counted in ``dropped_time_outlier``;
  the in-order data loses nothing); if it continues from the held packet (later,
  by what the header stamps advanced, within 0.5 s), the jump is real: counted (``time_jumps``, ``max_time_jump_s``,
  ``last_time_jump_s``), both packets are released and the first is marked
  ``resync`` so that windows and temporal state start afresh;
* inside one packet, events further than ``max_jump_ns`` from the packet's
  median are dropped (``dropped_time_outlier``): no real packet spans seconds.

A silence longer than the bound is no discontinuity when the header stamps
advanced by about as much (a static scene, a paused camera).

:class:`ClockMapper` maps the sensor clock to ROS time. Drivers stamp a packet
in ROS time after its first event happened, so ``header.stamp - first event
time`` is the clock offset plus a transport delay that is never negative; the
offset is estimated as the smallest such difference over a sliding horizon of
sensor time (default 10 s): robust to delay jitter, and it follows slow drift
between the two clocks.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from seal_ros.events.types import EventArray

STAMP_SOURCES = ("header", "sensor")
DEFAULT_MAX_JUMP_S = 5.0
DEFAULT_CLOCK_HORIZON_S = 10.0
_MAX_CLOCK_SAMPLES = 4096
# A packet confirms a jump when it follows the held packet by what the header stamps advanced, within this.
CONFIRM_NS = 500_000_000


@dataclass(slots=True)
class Batch:
    """The events of one packet on their way from decoding to windows."""

    events: EventArray
    lost_packets: int
    stamp_ns: int  # the packet's header stamp (ROS time)
    width: int
    height: int
    frame_id: str
    seq: int
    resync: str = ""  # set on the first batch of a new timeline (why: restart, time_jump, size_change,
    # reset): consumers start afresh
    t_summary: Optional[tuple] = None  # (min, max, in order) of the events' times when known (the decoder's)


class TimeGuard:
    """Detects time discontinuities and outliers; see the module docstring."""

    COUNTERS = ("time_jumps", "time_outlier_packets", "dropped_time_outlier")

    def __init__(self, max_jump_ns: int = int(DEFAULT_MAX_JUMP_S * 1e9)):
        if int(max_jump_ns) <= 0:
            raise ValueError(f"max_jump_ns must be > 0, got {max_jump_ns}")
        self.max_jump_ns = int(max_jump_ns)
        self.confirm_ns = min(self.max_jump_ns, CONFIRM_NS)
        self._counts = {k: 0 for k in self.COUNTERS}
        self.max_jump_s = 0.0
        self.last_jump_s = 0.0
        self.last_note: Optional[str] = None
        self.reset()

    def reset(self) -> None:
        """Forget the timeline (a new stream); a held packet is dropped, counted."""
        held = getattr(self, "_held", None)
        if held is not None:
            self._drop(held[0])
        self._ref: Optional[int] = None
        self._stamp_ref = 0
        self._held: Optional[tuple] = None  # (batch, ref)

    @property
    def reference_ns(self) -> Optional[int]:
        """The stream's current time (the newest accepted packet's middle event), None before any."""
        return self._ref

    @property
    def held_events(self) -> int:
        return len(self._held[0].events) if self._held is not None else 0

    def counters(self) -> dict:
        out = dict(self._counts)
        out.update(max_time_jump_s=round(self.max_jump_s, 6), last_time_jump_s=round(self.last_jump_s, 6),
                   held_events=self.held_events)
        return out

    # ------------------------------------------------------------------
    def _trim(self, b: Batch) -> Optional[int]:
        """The batch's reference time, after dropping its own outliers (None: nothing left)."""
        t = b.events.t
        n = len(t)
        lo, hi = (b.t_summary[0], b.t_summary[1]) if b.t_summary is not None else (int(t.min()), int(t.max()))
        if hi - lo <= self.max_jump_ns:
            return int(t[n // 2])
        med = int(np.median(t))
        keep = np.abs(t - med) <= self.max_jump_ns
        k = int(np.count_nonzero(keep))
        self._counts["dropped_time_outlier"] += n - k
        b.events = b.events[keep]
        b.t_summary = None
        return med if k else None

    def _off(self, ref: int, stamp: int, t_ref: Optional[int], stamp_ref: int) -> int:
        """0 when ``ref`` continues the timeline at ``t_ref``, else the signed jump (ns)."""
        if t_ref is None:
            return 0
        d = ref - t_ref
        if d < 0:
            return d
        if d > self.max_jump_ns and abs(d - (stamp - stamp_ref)) > self.max_jump_ns:
            return d
        return 0

    def _continues(self, ref: int, stamp: int, href: int, hstamp: int) -> bool:
        """True when a packet follows the held one closely: later, by about what the header stamps advanced."""
        d = ref - href
        return d >= 0 and abs(d - (stamp - hstamp)) <= self.confirm_ns

    def _accept(self, b: Batch, ref: int) -> None:
        self._ref = ref if self._ref is None else max(self._ref, ref)
        self._stamp_ref = int(b.stamp_ns)

    def _drop(self, b: Batch, heir: Optional[Batch] = None) -> None:
        self._counts["time_outlier_packets"] += 1
        self._counts["dropped_time_outlier"] += len(b.events)
        if heir is not None:  # packets lost before the dropped one are announced with the next
            heir.lost_packets += b.lost_packets

    def feed(self, b: Batch) -> list:
        """The batches to pass on now (0, 1 or 2), in order."""
        if not len(b.events):
            return [b]
        ref = self._trim(b)
        if ref is None:
            return [b]  # keeps its lost-packet count
        if self._held is None:
            if self._off(ref, b.stamp_ns, self._ref, self._stamp_ref) == 0:
                self._accept(b, ref)
                return [b]
            self._held = (b, ref)
            return []
        held, href = self._held
        if self._off(ref, b.stamp_ns, self._ref, self._stamp_ref) == 0:
            self._held = None  # the held packet was an outlier
            self._drop(held, b)
            self.last_note = (f"dropped {len(held.events)} events of packet seq {held.seq}: their time is "
                              f"{(href - self._ref) / 1e9:+.3f} s off the stream")
            self._accept(b, ref)
            return [b]
        if self._continues(ref, b.stamp_ns, href, held.stamp_ns):
            self._held = None  # the jump is real: resynchronise
            jump = href - self._ref
            self._counts["time_jumps"] += 1
            self.last_jump_s = jump / 1e9
            self.max_jump_s = max(self.max_jump_s, abs(self.last_jump_s))
            self.last_note = (f"event time jumped {'back' if jump < 0 else 'forward'} by {abs(jump) / 1e9:.3f} s "
                              f"at packet seq {held.seq}; resynchronised")
            self._ref = None
            self._accept(held, href)
            self._accept(b, ref)
            held.resync = "time_jump"
            return [held, b]
        self._drop(held, b)  # neither: the held one is dropped, this one waits in its place
        self._held = (b, ref)
        return []


class ClockMapper:
    """Sensor clock -> ROS time (see the module docstring); ``source='sensor'`` maps nothing."""

    def __init__(self, source: str = "header", horizon_ns: int = int(DEFAULT_CLOCK_HORIZON_S * 1e9)):
        if source not in STAMP_SOURCES:
            raise ValueError(f"stamp_source {source!r} is not one of {STAMP_SOURCES}")
        self.source = source
        self.horizon_ns = int(horizon_ns)
        self._samples: deque = deque()  # (sensor t, offset), offsets increasing: a sliding minimum
        self.offset: Optional[int] = None

    def observe(self, header_stamp_ns: int, first_event_ns: int) -> None:
        t, off = int(first_event_ns), int(header_stamp_ns) - int(first_event_ns)
        s = self._samples
        while s and s[-1][1] >= off:
            s.pop()
        s.append((t, off))
        while s[0][0] < t - self.horizon_ns or len(s) > _MAX_CLOCK_SAMPLES:
            s.popleft()
        self.offset = s[0][1]

    def reset(self) -> None:
        self._samples.clear()
        self.offset = None

    def to_ros(self, t_ns: int) -> int:
        if self.source == "sensor" or self.offset is None:
            return int(t_ns)
        return int(t_ns) + self.offset

    def to_sensor(self, stamp_ns: int) -> Optional[int]:
        """A ROS stamp in the sensor clock (None: no offset known yet in header mode)."""
        if self.source == "sensor":
            return int(stamp_ns)
        return None if self.offset is None else int(stamp_ns) - self.offset

    __call__ = to_ros
