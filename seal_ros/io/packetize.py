"""Any recording as a driver's stream of ``EventPacket``s (and frames), for ``seal-ros convert`` and ``bag_player``.

:func:`event_packets` picks one of three paths:

* **as recorded**: a bag of EventPackets asked for in its own encoding: its
  packets, unchanged (payload, ``seq``, ``time_base``, header stamps);
* **words passed through**: a Prophesee RAW file asked for in its own encoding
  (``evt3`` or ``evt2``): the file's words, unchanged, cut into packets of
  ``packet_ns`` before a time word (TIME_HIGH / TIME_LOW for EVT 3.0,
  TIME_HIGH for EVT 2.0; decoders carry their state across packets, so any cut
  decodes to the same events);
* **encoded**: everything else: the recording's events (and triggers) cut into
  windows of ``packet_ns`` from the first event (empty windows send nothing)
  and written by :func:`seal_ros.events.encoders.make_encoder`.

Header stamps are ROS time as drivers set them: the time of the packet's first
event (for cut words, its first time word) plus the recording's clock offset
(:attr:`Recording.clock_offset_ns`: a bag's header stamps, a RAW file's
``% Date``; 0 when unknown) or, given ``start_ns``, shifted so the first
packet is stamped ``start_ns``. :func:`timeline` merges packets and frames
(and IMU) in stamp order.
"""
from __future__ import annotations

import heapq
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.packet import EventPacket
from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.recordings import Recording, RecordingError

DEFAULT_PACKET_NS = 1_000_000
MAX_PACKET_BYTES = 32 << 20  # a packet of cut words is closed early at this size
AS_RECORDED, PASSED_THROUGH, ENCODED = "as recorded", "words passed through", "encoded"


class Clock:
    """Event time -> header stamp: ``t + offset``; ``start_ns`` fixes the offset at the first packet.

    ``shift`` (= ``offset`` minus the recording's own offset) moves stamps that are
    already ROS time (a bag's header stamps) the same way."""

    def __init__(self, rec: Recording, start_ns: Optional[int]):
        self.base = rec.clock_offset_ns or 0
        self.offset = self.base
        self.start_ns = start_ns

    @property
    def shift(self) -> int:
        return self.offset - self.base

    def stamp(self, t_ns: int) -> int:
        if self.start_ns is not None:
            self.offset = self.start_ns - t_ns
            self.start_ns = None
        return int(t_ns) + self.offset


def event_packets(rec: Recording, encoding: Optional[str] = None, packet_ns: int = DEFAULT_PACKET_NS,
                  start_ns: Optional[int] = None, frame_id: str = "", clock: Optional[Clock] = None,
                  stats: Optional[dict] = None) -> Iterator[EventPacket]:
    """The recording's events as EventPackets (see the module docstring); ``stats`` gets the counters."""
    enc = encoding or rec.encoding or "evt3"
    clock = clock or Clock(rec, start_ns)
    stats = stats if stats is not None else {}
    if packet_ns <= 0:
        raise RecordingError(f"packet duration must be positive, got {packet_ns} ns")
    mode = mode_of(rec, enc)
    if mode == AS_RECORDED:
        return _as_recorded(rec, clock, stats)
    if mode == PASSED_THROUGH:
        return _cut_words(rec, packet_ns, clock, frame_id, stats)
    return _encoded(rec, enc, packet_ns, clock, frame_id, stats)


def mode_of(rec: Recording, encoding: Optional[str]) -> str:
    """Which path :func:`event_packets` takes for ``rec`` in ``encoding``."""
    enc = encoding or rec.encoding or "evt3"
    if enc == rec.encoding and rec.format in ("rosbag2", "rosbag1"):
        return AS_RECORDED
    if enc == rec.encoding and enc in ("evt3", "evt2"):
        return PASSED_THROUGH
    return ENCODED


def _as_recorded(rec, clock, stats):
    for pkt in rec.packets():
        pkt.stamp_ns = clock.stamp(pkt.stamp_ns - clock.base)
        stats["packets"] = stats.get("packets", 0) + 1
        yield pkt


class _WordTimes:
    """Times (us) of the time words of a Prophesee word stream, block after block (as the decoders count)."""

    def __init__(self, encoding: str):
        from seal_ros.events.decoders.evt2 import LOOP_THRESHOLD_US, MAX_TIME_HIGH_US
        from seal_ros.events.decoders.evt3_kernels import ROLLOVER_MIN_STEP

        self.evt3 = encoding == "evt3"
        # a TIME_HIGH this far below the last one is a rollover: the decoders' rules, in TIME_HIGH units
        self.back = ROLLOVER_MIN_STEP + 1 if self.evt3 else -(-(MAX_TIME_HIGH_US - LOOP_THRESHOLD_US) >> 6)
        self.high = None  # last TIME_HIGH value as sent
        self.abs_high = None  # us, rollovers included
        self.low = 0

    def __call__(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the time words, their times in us; -1 before the first TIME_HIGH)."""
        if self.evt3:
            ty = words >> 12
            idx = np.flatnonzero((ty == 6) | (ty == 8))
            is_high = ty[idx] == 8
            val = (words[idx] & 0xFFF).astype(np.int64)
            period, shift = 1 << 24, 12
        else:
            idx = np.flatnonzero((words >> 28) == 8)
            is_high = np.ones(len(idx), bool)
            val = (words[idx] & 0xFFFFFFF).astype(np.int64)
            period, shift = 1 << 34, 6
        hv = val[is_high]
        if len(hv):
            prev = np.concatenate(([hv[0] if self.high is None else self.high], hv))
            step = np.diff(prev)
            roll = np.cumsum((step < 0) & (-step >= self.back))
            base = 0 if self.abs_high is None else self.abs_high - (self.high << shift)
            abs_h = base + roll * period + (hv << shift)
            self.high = int(hv[-1])
        else:
            abs_h = np.zeros(0, np.int64)
        times = np.full(len(idx), -1, np.int64)
        k = np.flatnonzero(is_high)
        last_h = np.maximum.accumulate(np.where(is_high, np.arange(len(idx)), -1)) if len(idx) else idx
        hi = np.where(last_h >= 0, abs_h[np.searchsorted(k, np.maximum(last_h, 0))] if len(k) else 0,
                      -1 if self.abs_high is None else self.abs_high)
        if self.evt3:
            lows = np.where(~is_high, val, -1)
            last_l = np.maximum.accumulate(np.where(lows >= 0, np.arange(len(idx)), -1)) if len(idx) else idx
            lo = np.where(last_l >= 0, val[np.maximum(last_l, 0)], self.low)
            if len(idx) and last_l[-1] >= 0:
                self.low = int(val[last_l[-1]])
        else:
            lo = np.zeros(len(idx), np.int64)
        times = np.where(hi >= 0, hi + lo, -1)
        if len(abs_h):
            self.abs_high = int(abs_h[-1])
        return idx, times


def _cut_words(rec, packet_ns, clock, frame_id, stats):
    times_of = _WordTimes(rec.encoding)
    period_us = max(1, packet_ns // 1000)
    origin = next_cut = None
    pending: list = []
    pending_bytes = 0
    start_t = None  # us: the pending packet's first time word
    last_t = None
    seq = 0
    wdt = np.uint16 if rec.encoding == "evt3" else np.dtype("<u4")

    def emit():
        nonlocal pending, pending_bytes, seq, start_t
        payload = np.concatenate(pending) if len(pending) > 1 else pending[0]
        t = start_t if start_t is not None else (last_t or 0)
        pkt = EventPacket(rec.encoding, rec.width, rec.height, seq, 0, payload.view(np.uint8),
                          clock.stamp(t * 1000), frame_id)
        seq += 1
        pending, pending_bytes, start_t = [], 0, None
        stats["packets"] = stats.get("packets", 0) + 1
        return pkt

    for block in rec.packets():
        words = block.events.view(wdt)
        idx, times = times_of(words)
        if start_t is None:
            start_t = next((t for t in times.tolist() if t >= 0), None)
        cuts = []
        for i, t in zip(idx.tolist(), times.tolist()):
            if t < 0:
                continue
            if origin is None:
                origin, next_cut = t, t + period_us
            if t >= next_cut:
                cuts.append((i, t))
                next_cut = origin + ((t - origin) // period_us + 1) * period_us
        a = 0
        for i, t in cuts:
            if i > a:
                pending.append(words[a:i])
                pending_bytes += (i - a) * words.itemsize
            if pending_bytes:
                yield emit()
            start_t, a = t, i
        if a < len(words):
            pending.append(words[a:])
            pending_bytes += (len(words) - a) * words.itemsize
        if len(times) and times[-1] >= 0:
            last_t = int(times[-1])
        if pending_bytes >= MAX_PACKET_BYTES:
            yield emit()
    if pending_bytes:
        yield emit()
    stats.update({k: v for k, v in rec.stats.items() if k == "truncated_bytes"})


def _encoded(rec, enc, packet_ns, clock, frame_id, stats):
    """Checks the encoding can hold the packets (now, before anything is written), then encodes."""
    from seal_ros.events.encoders import EncodeError, make_encoder

    try:
        encoder = make_encoder(enc, rec.width, rec.height)
    except EncodeError as exc:
        raise RecordingError(str(exc)) from None
    if encoder.max_span_ns is not None and packet_ns > encoder.max_span_ns:
        raise RecordingError(f"{enc} packets span at most {encoder.max_span_ns / 1e9:.3g} s; "
                             f"asked for {packet_ns / 1e9:.3g} s")
    return _encode_windows(rec, encoder, packet_ns, clock, frame_id, stats)


def _encode_windows(rec, encoder, packet_ns, clock, frame_id, stats):
    from seal_ros.events.encoders import EncodeError

    enc = encoder.encoding
    ev_parts: list = []
    tr_parts: list = []
    origin = end = None
    seq = 0

    def emit():
        nonlocal seq, ev_parts, tr_parts
        ev, tr = EventArray.concatenate(ev_parts), TriggerArray.concatenate(tr_parts)
        ev_parts, tr_parts = [], []
        t0 = min(int(a.t[0]) for a in (ev, tr) if len(a))
        try:
            payload, time_base = encoder.encode(ev, tr)
        except EncodeError as exc:
            raise RecordingError(str(exc)) from None
        pkt = EventPacket(enc, rec.width, rec.height, seq, time_base, payload, clock.stamp(t0), frame_id)
        seq += 1
        return pkt

    for chunk in rec.chunks():
        ev, tr = chunk.events, chunk.triggers
        while len(ev) or len(tr):
            t_first = min(int(a.t[0]) for a in (ev, tr) if len(a))
            if origin is None:
                origin, end = t_first, t_first + packet_ns
            if t_first >= end:
                if ev_parts or tr_parts:
                    yield emit()
                end = origin + ((t_first - origin) // packet_ns + 1) * packet_ns
            k = int(np.searchsorted(ev.t, end)) if len(ev) else 0
            j = int(np.searchsorted(tr.t, end)) if len(tr) else 0
            if k:
                ev_parts.append(ev[:k])
            if j:
                tr_parts.append(tr[:j])
            ev = ev[k:]
            tr = tr[j:]
            if not k and not j:  # items before the open window (out of order): into it
                ev_parts.append(ev)
                tr_parts.append(tr)
                break
    if ev_parts or tr_parts:
        yield emit()
    stats.update(encoder.stats)
    stats["packets"] = seq


def timeline(rec: Recording, packets: Iterator[EventPacket], clock: Clock, frames: bool = True, imu: bool = False):
    """(stamp ns, kind, item) in stamp order: ``events`` EventPacket, ``frame`` Frame, ``imu`` ImuArray.

    Frames and IMU samples of files are in the events' clock (stamped ``t + offset``);
    a bag's are header stamps already (moved by ``clock.shift`` only)."""
    streams = [((p.stamp_ns, 0, "events", p) for p in packets)]

    def moved(t):
        return t + (clock.shift if rec.ros_stamped_frames else clock.offset)

    if frames and rec.has_frames:
        streams.append(((moved(f.t_ns), 1, "frame", f) for f in rec.frames()))
    if imu and rec.has_imu:
        streams.append(((moved(int(a.t[0])), 2, "imu", a) for a in rec.imu() if len(a)))
    for stamp, _, kind, item in heapq.merge(*streams, key=lambda s: (s[0], s[1])):
        yield stamp, kind, item
