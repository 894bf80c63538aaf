"""Event packets -> stamped windows: the one path of every node (no ROS).

:class:`PacketIngest` is the shared front: decoding and packet checks
(:class:`~seal_ros.events.stream.EventStream`), time discontinuities and
outliers (:class:`~seal_ros.events.timeline.TimeGuard`) and the sensor-to-ROS
clock (:class:`~seal_ros.events.timeline.ClockMapper`). ``push(packet)`` gives
the packet's events as :class:`~seal_ros.events.timeline.Batch` es (none while
a packet off the timeline waits for the next one to confirm or refute it); a
batch with ``resync`` set starts a new timeline and says why: ``restart``
(``seq`` went back), ``time_jump`` (confirmed), ``size_change`` or ``reset``.
``pair_recorder`` uses it directly (its windows are the images' exposures).

:class:`WindowSource` adds the windows: ``duration`` (fixed length), ``count``
(fixed event count) or ``tick`` (everything since the previous ``tick()``, the
reconstructor's publishing rate), each bounded by ``max_window_events``. On a
resync the open window is emitted first (its events are good, and stamped with
the clock they were recorded in), then windows, clock and the consumer's
temporal state (``StampedWindow.resync``) start afresh.

Window boundaries stay in the sensor clock (``StampedWindow.window``);
``t0_ns``/``t1_ns`` are the stamps to publish: ROS time with ``stamp_source:
header`` (the default), the sensor clock with ``sensor``. Mapped stamps never
go back within one timeline.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from seal_ros.events.buffer import CountWindower, DurationWindower, TickWindower, Window
from seal_ros.events.packet import EventPacket
from seal_ros.events.stream import (
    DEFAULT_MAX_PACKET_EVENTS, DEFAULT_MAX_SENSOR_SIDE, MAX_PACKET_BYTES, EventStream,
    PROBLEM_COUNTERS as STREAM_PROBLEMS,
)
from seal_ros.events.timeline import DEFAULT_MAX_JUMP_S, STAMP_SOURCES, Batch, ClockMapper, TimeGuard

WINDOW_MODES = ("duration", "count")  # what a node's window_mode parameter offers
SOURCE_MODES = WINDOW_MODES + ("tick",)
DEFAULT_MAX_WINDOW_EVENTS = 5_000_000
# Counters of lost, refused or discontinuous data: PacketIngest's, and WindowSource's (with the windows').
INGEST_PROBLEM_COUNTERS = STREAM_PROBLEMS + ("time_jumps", "time_outlier_packets", "dropped_time_outlier")
PROBLEM_COUNTERS = INGEST_PROBLEM_COUNTERS + ("dropped_overflow", "dropped_late")
__all__ = ["STAMP_SOURCES", "WINDOW_MODES", "PROBLEM_COUNTERS", "INGEST_PROBLEM_COUNTERS", "IngestConfig", "PacketIngest", "Ingested",
           "WindowSource", "Pushed", "StampedWindow", "Batch"]


@dataclass(frozen=True)
class IngestConfig:
    """The limits and clock of one event input (every node exposes these as parameters)."""

    stamp_source: str = "header"
    max_time_jump_s: float = DEFAULT_MAX_JUMP_S
    max_sensor_side: int = DEFAULT_MAX_SENSOR_SIDE
    max_packet_events: Optional[int] = DEFAULT_MAX_PACKET_EVENTS
    max_packet_bytes: int = MAX_PACKET_BYTES


@dataclass(slots=True)
class Ingested:
    batches: list  # Batch, in order
    error: Optional[str] = None  # the packet was rejected (counted)
    warning: Optional[str] = None  # decoded, but suspect (counted)
    notes: list = field(default_factory=list)  # restarts, time jumps, dropped outliers: one line each


class PacketIngest:
    """Packets -> time-guarded batches, with the clock that maps them to ROS time."""

    def __init__(self, config: IngestConfig = IngestConfig()):
        self.config = config
        self.stream = EventStream(config.max_packet_bytes, config.max_sensor_side, config.max_packet_events)
        self.guard = TimeGuard(int(config.max_time_jump_s * 1e9))
        self.mapper = ClockMapper(config.stamp_source)
        self._resync = ""  # the reason the next batch starts a new timeline
        self._size = None

    def push(self, packet: EventPacket, before_resync: Optional[Callable[[], None]] = None) -> Ingested:
        """Decode and check one packet. ``before_resync()`` runs before the clock of a new
        timeline replaces the old one (emit what belongs to the old timeline there)."""
        d = self.stream.push(packet)
        notes = []
        if d.restart:
            self.guard.reset()
            self._resync = "restart"
            notes.append(f"new stream: seq {int(packet.seq)} went back; decoder, windows and clock start afresh")
        if d.error:
            return Ingested([], d.error, d.warning, notes)
        size = (int(packet.width), int(packet.height))
        if size != self._size:  # a new geometry: windows of the old one end here
            if self._size is not None and not self._resync:
                self._resync = "size_change"
            self._size = size
        batches = self.guard.feed(Batch(d.events, d.lost_packets, int(packet.stamp_ns), size[0], size[1],
                                        str(packet.frame_id), int(packet.seq), "", d.t_summary))
        if self.guard.last_note:
            notes.append(self.guard.last_note)
            self.guard.last_note = None
        if batches and self._resync:
            batches[0].resync, self._resync = self._resync, ""
        for prev, b in zip(batches, batches[1:]):  # a held packet released with one of another size
            if (b.width, b.height) != (prev.width, prev.height) and not b.resync:
                b.resync = "size_change"
        for b in batches:
            if b.resync:
                if before_resync is not None:
                    before_resync()
                self.mapper.reset()
            if len(b.events):
                self.mapper.observe(b.stamp_ns, int(b.events.t[0]))
        return Ingested(batches, None, d.warning, notes)

    def reset(self) -> None:
        """Forget the stream (decoder, seq, timeline, clock); counters stay. The next batch resyncs."""
        self.stream.reset()
        self.guard.reset()
        self.mapper.reset()
        self._resync = "reset"

    def counters(self) -> dict:
        out = self.stream.counters()
        out.update(self.guard.counters())
        off = self.mapper.offset
        out["clock_offset_s"] = round(off / 1e9, 6) if off is not None and self.mapper.source == "header" else 0.0
        return out


@dataclass(slots=True)
class StampedWindow:
    window: Window  # events and [t0, t1) in the sensor clock
    t0_ns: int  # window start, in the output clock (stamp_source)
    t1_ns: int  # window end, in the output clock: the results' stamp
    width: int
    height: int
    frame_id: str
    seq: int  # running window number (cache key of the backbone)
    resync: str = ""  # first window of a new timeline (the reason): reset temporal state

    @property
    def count(self) -> int:
        return len(self.window.events)


@dataclass(slots=True)
class Pushed:
    windows: list  # StampedWindow
    error: Optional[str] = None
    warning: Optional[str] = None
    notes: list = field(default_factory=list)


class WindowSource:
    """Packets -> stamped windows; thread-safe."""

    def __init__(self, mode: str = "duration", duration_ns: int = 50_000_000, count: int = 100_000,
                 config: IngestConfig = IngestConfig(), max_window_events: int = DEFAULT_MAX_WINDOW_EVENTS):
        self._lock = threading.RLock()
        self.ingest = PacketIngest(config)
        self._seq = 0
        self._last_stamp: Optional[int] = None
        self._resync_next = ""
        self._totals = dict(windows_cut=0, dropped_overflow=0, dropped_late=0, dropped_reconfigure=0)
        self._windower = None
        self._meta = (0, 0, "")  # width, height, frame_id of the newest batch
        self.configure(mode, duration_ns, count, max_window_events)

    @property
    def mapper(self) -> ClockMapper:
        return self.ingest.mapper

    @property
    def stream(self) -> EventStream:
        return self.ingest.stream

    def configure(self, mode: str, duration_ns: int, count: int,
                  max_window_events: int = DEFAULT_MAX_WINDOW_EVENTS) -> None:
        """New window settings, from the next packet on; the open window's events are
        dropped (counted in ``dropped_reconfigure``)."""
        if mode not in SOURCE_MODES:
            raise ValueError(f"window mode {mode!r} is not one of {SOURCE_MODES}")
        with self._lock:
            self.mode, self._duration, self._count, self._cap = mode, int(duration_ns), int(count), int(max_window_events)
            self._replace_windower()

    def _replace_windower(self) -> None:
        old = self._windower
        if old is not None:
            self._totals["dropped_reconfigure"] += old.pending
            self._fold(old)
        if self.mode == "duration":
            self._windower = DurationWindower(self._duration, max_events=self._cap)
        elif self.mode == "count":
            self._windower = CountWindower(self._count)
        else:
            self._windower = TickWindower(self._cap)

    def _fold(self, w) -> None:
        self._totals["dropped_overflow"] += getattr(w, "dropped_overflow", 0)
        self._totals["dropped_late"] += getattr(w, "late_events", 0)

    # ------------------------------------------------------------------
    def push(self, packet: EventPacket) -> Pushed:
        """Decode one packet; the windows it completes (none in tick mode)."""
        with self._lock:
            out: list = []
            res = self.ingest.push(packet, lambda: out.extend(self._flush_for_resync()))
            for k, b in enumerate(res.batches):
                if b.resync:
                    if k:  # a held packet released with a packet of a new timeline: close the held one's window
                        out.extend(self._flush_for_resync())
                    self._resync_next, self._last_stamp = b.resync, None
                self._meta = (b.width, b.height, b.frame_id)
                closed = self._windower.feed(b.events, b.lost_packets, b.t_summary)
                if closed:
                    out += self._stamp(closed)
            return Pushed(out, res.error, res.warning, res.notes)

    def _flush_for_resync(self) -> list:
        """The open window of the old timeline, stamped with the old clock; then fresh windows."""
        flushed = self._stamp(self._windower.flush())
        self._replace_windower()
        return flushed

    def tick(self) -> list:
        """Tick mode: everything since the previous tick as one window ([] when nothing came)."""
        with self._lock:
            return self._stamp(self._windower.flush()) if self.mode == "tick" else []

    def reset(self) -> None:
        """Forget the stream and the open window (counted in ``dropped_reconfigure``); the
        next window has ``resync`` set."""
        with self._lock:
            self.ingest.reset()
            self._replace_windower()
            self._last_stamp = None

    def _stamp(self, windows) -> list:
        out = []
        m = self.ingest.mapper
        width, height, frame_id = self._meta
        for w in windows:
            t0, t1 = m.to_ros(w.t0), m.to_ros(w.t1)
            if self._last_stamp is not None and t1 <= self._last_stamp:  # a smaller offset estimate
                shift = self._last_stamp + 1 - t1
                t0, t1 = t0 + shift, t1 + shift
            self._last_stamp = t1
            self._seq += 1
            out.append(StampedWindow(w, t0, t1, width, height, frame_id, self._seq, self._resync_next))
            self._resync_next = ""
        self._totals["windows_cut"] += len(out)
        return out

    def counters(self) -> dict:
        with self._lock:
            out = self.ingest.counters()
            t = dict(self._totals)
            w = self._windower
            t["dropped_overflow"] += getattr(w, "dropped_overflow", 0)
            t["dropped_late"] += getattr(w, "late_events", 0)
            out.update(t)
            return out

