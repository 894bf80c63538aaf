"""Event packets -> event windows stamped in ROS time.

Decoding is :class:`seal_ros.events.stream.EventStream`; windowing is
:class:`~seal_ros.events.buffer.DurationWindower` (``window_mode: duration``)
or :class:`~seal_ros.events.buffer.CountWindower` (``count``).

Time stamps. Decoded event times are in the camera's clock (Prophesee EVT3:
time since the sensor started; libcaer: already wall time). ``stamp_source:
sensor`` keeps that clock (as ``event_reconstructor`` does, so its images and
the segmenter's results share stamps). ``header`` gives ROS time, for fusing
with other sensors: each window's ``[t0, t1)`` is mapped with an offset learnt
from the packets: ``offset = min over packets of (header.stamp - first event time)``.
A driver stamps a packet when it has read it, i.e. after its first event
happened; the smallest difference is the one with the least transport delay,
so the offset only ever decreases towards the true one (by at most the
driver's jitter, a few ms). A time jump backwards of more than a second (camera restart, bag loop)
restarts the windows and the offset.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from seal_ros.events.buffer import CountWindower, DurationWindower, Window
from seal_ros.events.packet import EventPacket
from seal_ros.events.stream import EventStream

WINDOW_MODES = ("duration", "count")
STAMP_SOURCES = ("header", "sensor")
RESTART_JUMP_NS = 1_000_000_000


@dataclass
class StampedWindow:
    window: Window
    t0_ns: int  # mapped window start
    t1_ns: int  # mapped window end (the results' stamp)
    width: int
    height: int
    frame_id: str
    seq: int  # running window number (cache key of the backbone)

    @property
    def count(self) -> int:
        return len(self.window.events)


class StampMapper:
    """Camera clock -> ROS time (see the module docstring)."""

    def __init__(self, source: str = "header"):
        if source not in STAMP_SOURCES:
            raise ValueError(f"stamp_source {source!r} is not one of {STAMP_SOURCES}")
        self.source = source
        self.offset: Optional[int] = None

    def observe(self, header_stamp_ns: int, first_event_ns: int) -> None:
        off = int(header_stamp_ns) - int(first_event_ns)
        if self.offset is None or off < self.offset:
            self.offset = off

    def reset(self) -> None:
        self.offset = None

    def __call__(self, t_ns: int) -> int:
        if self.source == "sensor" or self.offset is None:
            return int(t_ns)
        return int(t_ns) + self.offset


class WindowSource:
    """Feeds packets through decoding and windowing; thread-safe ``push``."""

    def __init__(self, mode: str = "duration", duration_ns: int = 50_000_000, count: int = 100_000,
                 stamp_source: str = "sensor"):
        self._lock = threading.Lock()
        self.stream = EventStream()
        self.mapper = StampMapper(stamp_source)
        self.restarts = 0
        self._seq = 0
        self._last_t: Optional[int] = None
        self.configure(mode, duration_ns, count)

    def configure(self, mode: str, duration_ns: int, count: int) -> None:
        """New window settings (takes effect from the next packet; the open window is dropped)."""
        if mode not in WINDOW_MODES:
            raise ValueError(f"window_mode {mode!r} is not one of {WINDOW_MODES}")
        with self._lock:
            self.mode = mode
            self._windower = DurationWindower(int(duration_ns)) if mode == "duration" else CountWindower(int(count))

    def push(self, packet: EventPacket):
        """Decode one packet; returns (finished windows, error line or None)."""
        with self._lock:
            dec = self.stream.push(packet)
            ev = dec.events
            if len(ev):
                t_first = int(ev.t[0])
                if self._last_t is not None and t_first < self._last_t - RESTART_JUMP_NS:
                    self.restarts += 1
                    self.mapper.reset()
                    self._windower = DurationWindower(self._windower.duration_ns) if self.mode == "duration" \
                        else CountWindower(self._windower.count)
                self._last_t = int(ev.t[-1])
                self.mapper.observe(packet.stamp_ns, t_first)
            out = []
            for w in self._windower.feed(ev, dec.lost_packets):
                self._seq += 1
                out.append(StampedWindow(w, self.mapper(w.t0), self.mapper(w.t1), int(packet.width),
                                         int(packet.height), packet.frame_id, self._seq))
            return out, dec.error
