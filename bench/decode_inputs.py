"""Inputs of the decoding benchmarks: the shared recordings as a node receives them, a synthetic
Gen4-like EVT 3.0 stream, and decoders held to their word kernel (the previous algorithm)."""
from __future__ import annotations

import array

import numpy as np

from seal_ros.events.stream import EventStream

ROLLOVER_NS = (1 << 24) * 1000  # EVT 3.0 time wraps every 2^24 us


def node_messages(path, passes: int = 1):
    """The recording's EventPacket messages as a node's callback gets them (rclpy messages, the
    payload an ``array.array``, when ``event_camera_msgs`` is importable; else the bag reader's),
    played ``passes`` times as one continuing stream: ``seq`` and the header stamps go on, and
    the event time moves on by what the header stamps moved (evt3: one time-high rollover a
    pass; others: the time base). Returns (messages, what they are)."""
    from seal_ros.io.bags import BagReader

    with BagReader(path) as bag:
        topic = bag.topic_of_type("event_camera_msgs/msg/EventPacket")
        raw = [m for _, m in bag.messages(topic)]
    try:
        from event_camera_msgs.msg import EventPacket as RosPacket
        kind = "rclpy messages"
    except ImportError:
        RosPacket, kind = None, "bag reader messages"
    first, last = raw[0], raw[-1]
    evt3 = first.encoding == "evt3"
    span = ROLLOVER_NS if evt3 else int(last.time_base) - int(first.time_base) + 10_000_000
    out = []
    for p in range(passes):
        for i, m in enumerate(raw):
            stamp = int(m.header.stamp.sec) * 1_000_000_000 + int(m.header.stamp.nanosec) + p * span
            tb = int(m.time_base) + (0 if evt3 else p * span)
            seq = p * len(raw) + i + int(first.seq)
            if RosPacket is None:
                out.append(_Msg(m, stamp, tb, seq))
                continue
            r = RosPacket()
            r.header.stamp.sec, r.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            r.header.frame_id = m.header.frame_id
            r.width, r.height, r.seq, r.time_base, r.encoding = m.width, m.height, seq, tb, m.encoding
            r.events = array.array("B", np.asarray(m.events).tobytes())
            out.append(r)
    return out, kind


class _Msg:
    """A bag message with its stamp, time base and seq moved (the fallback without ROS)."""

    def __init__(self, m, stamp, tb, seq):
        from types import SimpleNamespace

        sec, nsec = divmod(stamp, 1_000_000_000)
        self.header = SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nsec), frame_id=m.header.frame_id)
        self.width, self.height, self.seq, self.time_base, self.encoding = m.width, m.height, seq, tb, m.encoding
        self.is_bigendian, self.events = False, m.events


def words_only(cls):
    """``cls`` (a kernel decoder) always taking its word kernel: the decoding before the group kernels."""
    return type(f"{cls.__name__}WordsOnly", (cls,), {"kernels": (cls.kernels[-1],) * 2,
                                                    "arenas": (cls.arenas[-1],) * 2})


class WordsOnlyStream(EventStream):
    """An EventStream whose decoders take their word kernel only."""

    def _new_decoder(self, enc, w, h, restart):
        note = super()._new_decoder(enc, w, h, restart)
        if len(getattr(self.decoder, "kernels", ())) > 1:
            self.decoder = words_only(type(self.decoder))(w, h)
            self.decoder.max_events = self.max_packet_events
        return note


def synthetic_evt3(n_events: int, width=1280, height=720, seed=0) -> tuple[np.ndarray, int]:
    """Gen4-like EVT 3.0 words: per group a TIME_LOW, an ADDR_Y, then either one ADDR_X
    or a VECT_BASE_X + VECT_12 (random mask); a TIME_HIGH whenever the high bits change."""
    rng = np.random.default_rng(seed)
    g = int(n_events / 3.0) + 16  # ~3.5 events a group on average
    vec = rng.random(g) < 0.5
    masks = rng.integers(1, 1 << 12, g)
    per = np.where(vec, np.bitwise_count(masks.astype(np.uint16)).astype(np.int64), 1)
    g = min(int(np.searchsorted(np.cumsum(per), n_events)) + 1, g)
    vec, masks, per = vec[:g], masks[:g], per[:g]
    t = 1000 + np.cumsum(rng.integers(0, 2, g))  # ~0.5 us per group: a busy sensor
    high = t >> 12
    th = np.ones(g, bool)
    th[1:] = high[1:] != high[:-1]
    lens = th + 3 + vec
    start = np.concatenate(([0], np.cumsum(lens)[:-1]))
    out = np.empty(int(lens.sum()), np.uint16)
    pos = start.copy()
    out[pos[th]] = 0x8000 | (high[th] & 0xFFF)
    pos += th
    out[pos] = 0x6000 | (t & 0xFFF)
    out[pos + 1] = rng.integers(0, height, g)  # ADDR_Y
    pol = rng.integers(0, 2, g) << 11
    x = np.where(vec, rng.integers(0, width - 12, g), rng.integers(0, width, g))
    out[pos + 2] = np.where(vec, 0x3000, 0x2000) | pol | x
    out[pos[vec] + 3] = 0x4000 | masks[vec]
    return out, int(per.sum())
