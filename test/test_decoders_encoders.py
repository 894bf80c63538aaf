"""The product encoders (seal_ros.events.encoders): word layouts, round trips, limits; and test helpers.

Word layouts are checked against the format definitions in docs/events.md
(hand-written words), round trips against the decoders (written from the same
definitions, and checked against the shared recordings' upstream values).
"""
from __future__ import annotations

import numpy as np
import pytest

from seal_ros.events.decoders import make_decoder
from seal_ros.events.encoders import SUPPORTED_ENCODINGS, EncodeError, make_encoder
from seal_ros.events.types import EventArray, TriggerArray

# Words every decoder skips (EVT 3.0: 9 is padding some cameras send, 7/14/15 carry no events).
PADS = (0x9000, 0x9ABC, 0x7123, 0xE456, 0xF000)


def random_cd(rng, n, width, height, t_start_us, t_span_us, unique_pixels=True):
    """n events sorted by time (us) with no repeated (t, x, y); ``p`` in {0, 1}."""
    t = np.sort(rng.integers(t_start_us, t_start_us + t_span_us, n))
    x = rng.integers(0, width, n)
    y = rng.integers(0, height, n)
    p = rng.integers(0, 2, n)
    if unique_pixels:
        key = (t * height + y) * width + x
        _, keep = np.unique(key, return_index=True)
        keep.sort()
        t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    return t.astype(np.int64), x.astype(np.int64), y.astype(np.int64), p.astype(np.int64)


def sensor_order(t, x, y, p):
    """Indices ordering events the way a sensor sends a row: by time, then row, polarity, column."""
    return np.lexsort((x, p, y, t))


def events(t_ns, x, y, p) -> EventArray:
    return EventArray(np.asarray(x, np.uint16), np.asarray(y, np.uint16), np.asarray(p, np.uint8),
                      np.asarray(t_ns, np.int64))


def triggers(t_ns, edge, tid) -> TriggerArray:
    return TriggerArray(np.asarray(t_ns, np.int64), np.asarray(edge, np.uint8), np.asarray(tid, np.uint8))


def padded(rng, words: np.ndarray, prob: float) -> np.ndarray:
    """16-bit ``words`` with ignorable words inserted at random (about ``prob`` per word)."""
    if not prob or not len(words):
        return words
    at = np.flatnonzero(rng.random(len(words)) < prob)
    return np.insert(words, at, rng.choice(PADS, len(at)).astype(np.uint16))


def decode_all(enc, w, h, packets):
    d = make_decoder(enc, w, h)
    out = [d.decode(pl, tb) for pl, tb in packets]
    return d, EventArray.concatenate([o[0] for o in out]), TriggerArray.concatenate([o[1] for o in out])


# ---------------------------------------------------------------- word layouts
def test_evt3_words_single_and_vector():
    enc = make_encoder("evt3", 640, 480)
    # t = 0x123456 us: a single event; a row of 5 ON events within 12 columns (one VECT_12);
    # three within 8 (VECT_8); 16 consecutive ones (VECT_12 then VECT_8 from the advanced base)
    xs = [300] + [10, 11, 13, 20, 21] + [30, 31, 33] + list(range(40, 56))
    ys = [7] + [9] * 5 + [11] * 3 + [12] * 16
    ps = [0] + [1] * 5 + [0] * 3 + [1] * 16
    ev = events([0x123456 * 1000] * len(xs), xs, ys, ps)
    payload, tb = enc.encode(ev, triggers([0x123456 * 1000], [1], [3]))
    words = payload.view(np.uint16).tolist()
    assert tb == 0
    assert words == [0x8123, 0x6456,            # the packet's time
                     0xA301,                    # the trigger goes before the events of its time
                     0x0007, 0x212C,            # ADDR_Y 7, ADDR_X 300 OFF
                     0x0009, 0x3800 | 10,       # ADDR_Y 9, VECT_BASE_X 10 ON
                     0x4000 | 0b110000001011,   # VECT_12: 10, 11, 13, 20, 21
                     0x000B, 0x3000 | 30,       # ADDR_Y 11, VECT_BASE_X 30 OFF
                     0x5000 | 0b1011,           # VECT_8: 30, 31, 33
                     0x000C, 0x3800 | 40,       # ADDR_Y 12, VECT_BASE_X 40 ON
                     0x4FFF, 0x500F]            # 40..51, then 52..55 from base 52
    assert enc.stats == {"events": len(xs), "triggers": 1, "dropped_out_of_order": 0, "triggers_not_encoded": 0}
    _, got, tr = decode_all("evt3", 640, 480, [(payload, tb)])
    assert got.x.tolist() == xs and got.y.tolist() == ys and got.p.tolist() == ps and tr.id.tolist() == [3]


def test_evt3_rollover_words_and_time_base():
    enc = make_encoder("evt3", 64, 64)
    base = 5 << 24  # us: the stream's period; time_base keeps it
    p1, tb = enc.encode(events([(base + 0xFFFFF0) * 1000], [1], [2], [1]))
    p2, tb2 = enc.encode(events([(base + (1 << 24) + 5) * 1000], [3], [4], [0]))
    assert tb == tb2 == base * 1000
    assert p2.view(np.uint16).tolist() == [0x8FFF, 0x6FF0, 0x8000, 0x6005, 0x0004, 0x2003]
    d, ev, _ = decode_all("evt3", 64, 64, [(p1, tb), (p2, tb2)])
    assert ev.t.tolist() == [(base + 0xFFFFF0) * 1000, (base + (1 << 24) + 5) * 1000] and d.stats["rollovers"] == 1


def test_evt2_words():
    enc = make_encoder("evt2", 640, 480)
    payload, tb = enc.encode(events([6407_000, 6410_000], [639, 1], [479, 2], [1, 0]), triggers([6408_000], [0], [17]))
    w = payload.view("<u4").tolist()
    assert tb == 0
    assert w == [(8 << 28) | 100, (1 << 28) | (7 << 22) | (639 << 11) | 479, (10 << 28) | (8 << 22) | (17 << 8),
                 (0 << 28) | (10 << 22) | (1 << 11) | 2]


def test_libcaer_cmp_words():
    enc = make_encoder("libcaer_cmp", 346, 260)
    T = 1_744_227_144_732_712_000
    ev = events([T, T + 3000, T + 3000, T + 3000, T + 3000], [5, 5, 6, 6, 6], [7, 8, 1, 2, 4], [1, 0, 1, 1, 1])
    payload, tb = enc.encode(ev)
    assert tb == T
    assert payload.view(np.uint16).tolist() == [0x2005, 0x3807, 0x1003, 0x3008, 0x2006, 0x4801, 0x5000 | 0b1011]


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("enc", ["evt3", "evt2", "libcaer_cmp", "libcaer", "mono"])
@pytest.mark.parametrize("seed", range(3))
def test_round_trip_in_order(enc, seed):
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(20, 700)), int(rng.integers(20, 500))
    base_us = int(rng.integers(0, 1 << 20)) << 24
    t, x, y, p = random_cd(rng, int(rng.integers(1, 4000)), W, H, base_us + (1 << 24) - 300_000, 3_000_000)
    # dense rows too (vectors): 12 consecutive columns at a few instants
    for k in range(5):
        t = np.concatenate([t, np.full(12, t[0] + 1000 * k)])
        x = np.concatenate([x, np.arange(12) + int(rng.integers(0, W - 12))])
        y = np.concatenate([y, np.full(12, k % H)])
        p = np.concatenate([p, np.full(12, k % 2)])
    o = sensor_order(t, x, y, p)
    t, x, y, p = t[o], x[o], y[o], p[o]
    keep = np.ones(len(t), bool)
    keep[1:] = (t[1:] != t[:-1]) | (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    ev = events(t * 1000 + (int(rng.integers(0, 1000)) if enc == "mono" else 0), x, y, p)
    nt = 30
    tr = triggers(np.sort(rng.integers(t[0], t[-1] + 1, nt)) * 1000, rng.integers(0, 2, nt), rng.integers(0, 16, nt))
    e = make_encoder(enc, W, H)
    bounds = np.unique(np.concatenate([[0, len(ev)], rng.integers(0, len(ev), 12)]))
    packets, sent = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        sl = ev[a:b]
        lo, hi = sl.t_range
        ti = np.flatnonzero((tr.t >= lo) & (tr.t <= hi))  # the triggers inside this packet's span
        sent.extend(ti.tolist())
        packets.append(e.encode(sl, TriggerArray(tr.t[ti], tr.edge[ti], tr.id[ti])))
    d, got, gtr = decode_all(enc, W, H, packets)
    assert got.x.tolist() == ev.x.tolist() and got.y.tolist() == ev.y.tolist() and got.p.tolist() == ev.p.tolist()
    assert got.t.tolist() == ev.t.tolist()
    if enc in ("evt3", "evt2"):
        assert d.stats["rollovers"] == (1 if enc == "evt3" else 0)
        assert gtr.t.tolist() == tr.t[sent].tolist() and gtr.edge.tolist() == tr.edge[sent].tolist()
        assert gtr.id.tolist() == tr.id[sent].tolist() and e.stats["triggers"] == len(sent)
    else:
        assert len(gtr) == 0 and e.stats["triggers_not_encoded"] == len(sent)
    assert e.stats["events"] == len(ev) and e.stats["dropped_out_of_order"] == 0


def test_trigger_encoding_round_trip():
    tr = triggers([10, 500, 4_000_000_000], [1, 0, 1], [3, 200, 7])
    payload, tb = make_encoder("trigger", 1, 1).encode(EventArray.empty(), tr)
    d = make_decoder("trigger", 1, 1)
    _, got = d.decode(payload, tb)
    assert got.t.tolist() == tr.t.tolist() and got.id.tolist() == [3, 200, 7] and got.edge.tolist() == [1, 0, 1]


# ---------------------------------------------------------------- limits
def test_out_of_order_items_are_dropped_and_counted():
    e = make_encoder("evt3", 64, 64)
    e.encode(events([10_000_000], [1], [1], [1]))
    payload, tb = e.encode(events([1_000_000, 10_000_000], [2, 3], [2, 3], [0, 0]))  # 1 ms is 2 TIME_HIGHs ago
    _, ev, _ = decode_all("evt3", 64, 64, [(payload, tb)])
    assert e.stats["dropped_out_of_order"] == 1 and ev.x.tolist() == [3]


def test_limits_are_refused():
    with pytest.raises(EncodeError, match="outside 1..2048"):
        make_encoder("evt3", 4096, 10)
    with pytest.raises(EncodeError, match="no encoder"):
        make_encoder("evt21", 10, 10)
    with pytest.raises(EncodeError, match="outside the 10x10 sensor"):
        make_encoder("mono", 10, 10).encode(events([0], [10], [0], [0]))
    with pytest.raises(EncodeError, match="spans at most"):
        make_encoder("mono", 10, 10).encode(events([0, 5 * 10**9], [1, 1], [0, 0], [0, 0]))
    with pytest.raises(EncodeError, match="spans at most"):
        make_encoder("libcaer_cmp", 10, 10).encode(events([0, 20 * 10**9], [1, 1], [0, 0], [0, 0]))
    assert set(SUPPORTED_ENCODINGS) == {"evt3", "evt2", "libcaer_cmp", "libcaer", "mono", "trigger"}
