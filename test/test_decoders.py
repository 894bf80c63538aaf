"""Decoders: the issue's vectors, the shared recordings' known values, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import EVT3_BAG, LIBCAER_CMP_BAG

from seal_ros.events.decoders import SUPPORTED_ENCODINGS, DecodeError, make_decoder
from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.bags import BagReader


def u16(words):
    return np.array(words, np.uint16).view(np.uint8)


def test_supported_encodings():
    assert set(SUPPORTED_ENCODINGS) == {"evt3", "evt2", "libcaer_cmp", "libcaer", "mono", "trigger"}


def test_evt3_vector():
    d = make_decoder("evt3", 640, 480)
    ev, tr = d.decode(u16([0x8064, 0x6005, 0x0003, 0x2007, 0x8063, 0x2008, 0x8065, 0x6006, 0x2009]), 0)
    assert ev.x.tolist() == [7, 8, 9]
    assert ev.y.tolist() == [3, 3, 3]
    assert ev.t.tolist() == [409605_000, 405509_000, 413702_000]
    assert ev.x.dtype == np.uint16 and ev.y.dtype == np.uint16 and ev.p.dtype == np.uint8 and ev.t.dtype == np.int64
    assert len(tr) == 0
    assert d.stats["rollovers"] == 0  # 0x63 < 0x64 by 1: a glitch, not a rollover


def test_evt3_vector_with_time_base_and_split_packets():
    words = [0x8064, 0x6005, 0x0003, 0x2007, 0x8063, 0x2008, 0x8065, 0x6006, 0x2009]
    tb = 1_700_000_000_000_000_000
    for cut in range(len(words) + 1):
        d = make_decoder("evt3", 640, 480)
        a, _ = d.decode(u16(words[:cut]), tb)
        b, _ = d.decode(u16(words[cut:]), tb)
        ev = EventArray.concatenate([a, b])
        assert (ev.t - tb).tolist() == [409605_000, 405509_000, 413702_000], cut


def test_evt3_rollover_vectors_and_triggers():
    d = make_decoder("evt3", 64, 32)
    words = [
        0x8FFF, 0x6FFE,          # t = 0xFFFFFE us
        0x0005, 0x3802, 0x4005,  # y 5, ON vector base 2: x = 2, 4
        0xA301, 0xA300,          # trigger id 3 rising, then falling
        0x9000,                  # padding (type 9): skipped, counted
        0x8000, 0x6001,          # rollover -> t = 2^24 + 1
        0x50FF,                  # 8-bit vector from base 14: x = 14..21, polarity still ON
        0x203F, 0x2040,          # x 63 ok, x 64 out of range
        0x8FF8,                  # a higher TIME_HIGH: no rollover
    ]
    ev, tr = d.decode(u16(words), 0)
    T0, T1 = 0xFFFFFE, (1 << 24) + 1
    assert ev.x.tolist() == [2, 4] + list(range(14, 22)) + [63]
    assert ev.y.tolist() == [5] * 11
    assert ev.p.tolist() == [1] * 10 + [0]
    assert (ev.t // 1000).tolist() == [T0, T0] + [T1] * 9
    assert tr.t.tolist() == [T0 * 1000] * 2 and tr.edge.tolist() == [1, 0] and tr.id.tolist() == [3, 3]
    s = d.stats
    assert s["rollovers"] == 1 and s["unknown_words"] == 1 and s["dropped_out_of_range"] == 1
    assert s["triggers"] == 2 and s["triggers_rising"] == 1 and s["on"] == 10 and s["off"] == 1


def test_evt3_drops_events_before_valid_time():
    d = make_decoder("evt3", 64, 64)
    # mid-stream start: events, a TIME_LOW without TIME_HIGH, then TIME_HIGH (not yet valid), TIME_LOW
    ev, _ = d.decode(u16([0x0001, 0x2002, 0x6003, 0x3001, 0x400F, 0x8001]), 0)
    assert len(ev) == 0
    ev, _ = d.decode(u16([0x2003, 0x6002, 0x0004, 0x2005]), 0)  # x3 still invalid, then valid from 0x6002
    assert ev.x.tolist() == [5] and ev.y.tolist() == [4] and ev.t.tolist() == [(1 << 12 | 2) * 1000]
    assert d.stats["dropped_invalid_time"] == 1 + 4 + 1


def test_libcaer_cmp_vector():
    T = 1_744_227_144_732_712_000
    d = make_decoder("libcaer_cmp", 346, 260)
    ev, tr = d.decode(u16([0x2005, 0x3807, 0x1003, 0x3008]), T)
    assert ev.x.tolist() == [5, 5] and ev.y.tolist() == [7, 8] and ev.p.tolist() == [1, 0]
    assert ev.t.tolist() == [T, T + 3000]
    # dt restarts per packet, the column carries over
    ev, _ = d.decode(u16([0x3009, 0x0001, 0x4805, 0x5081]), T + 10)
    assert ev.x.tolist() == [5, 5, 5] and ev.y.tolist() == [9, 5, 12] and ev.p.tolist() == [0, 1, 1]
    assert ev.t.tolist() == [T + 10, T + 10 + 4096_000, T + 10 + 4096_000]


def test_libcaer_mono_trigger_layouts():
    rec = np.zeros(3, np.dtype([("data", "<u4"), ("ts", "<i4")]))
    rec["data"] = [(5 << 17) | (7 << 2) | 2 | 1, (6 << 17) | (8 << 2) | 1, (400 << 17) | 1]
    rec["ts"] = [2**31 - 2, 3, 4]  # counter wraps after the first event
    d = make_decoder("libcaer", 346, 260)
    ev, _ = d.decode(rec.view(np.uint8), 1000)
    assert ev.x.tolist() == [5, 6] and ev.y.tolist() == [7, 8] and ev.p.tolist() == [1, 0]
    assert ev.t.tolist() == [1000 + (2**31 - 2) * 1000, 1000 + (2**31 + 3) * 1000]
    assert d.stats["dropped_out_of_range"] == 1 and d.stats["rollovers"] == 1

    w = np.array([(1 << 63) | (3 << 48) | (9 << 32) | 77, (2 << 48) | (1 << 32) | 5], "<u8")
    ev, tr = make_decoder("mono", 10, 10).decode(w.view(np.uint8), 100)
    assert ev.x.tolist() == [9, 1] and ev.y.tolist() == [3, 2] and ev.p.tolist() == [1, 0]
    assert ev.t.tolist() == [177, 105] and len(tr) == 0
    ev, tr = make_decoder("trigger", 10, 10).decode(w.view(np.uint8), 100)
    assert len(ev) == 0 and tr.edge.tolist() == [1, 0] and tr.id.tolist() == [3, 2] and tr.t.tolist() == [177, 105]


@pytest.mark.parametrize("enc", ["evt3", "evt2", "libcaer_cmp", "libcaer", "mono", "trigger"])
def test_bad_construction_and_partial_words(enc):
    for w, h in [(0, 10), (10, 0), (-1, 5), (10**9, 10)]:
        with pytest.raises(DecodeError):
            make_decoder(enc, w, h)
    d = make_decoder(enc, 32, 32)
    ev, tr = d.decode(np.zeros(0, np.uint8), 0)
    assert len(ev) == 0 and len(tr) == 0
    ev, tr = d.decode(np.zeros(d.word_bytes * 3 + 1, np.uint8), 0)
    assert d.stats["truncated_bytes"] == 1
    with pytest.raises(DecodeError):
        d.decode(np.zeros(8, np.uint8), -5)


def test_unknown_encoding():
    with pytest.raises(DecodeError, match="unsupported encoding 'evt21'"):
        make_decoder("evt21", 10, 10)


def _decode_bag(path):
    packets = list(BagReader(path).event_packets())
    d = make_decoder(packets[0].encoding, packets[0].width, packets[0].height)
    out = [d.decode(p.events, p.time_base) for p in packets]
    return (packets, d, EventArray.concatenate([o[0] for o in out]),
            TriggerArray.concatenate([o[1] for o in out]))


def test_evt3_bag_known_values():
    packets, d, ev, tr = _decode_bag(EVT3_BAG)
    assert len(packets) == 517 and all(p.time_base == 0 for p in packets)
    assert int(np.count_nonzero(ev.p == 0)) == 218_291
    assert int(np.count_nonzero(ev.p == 1)) == 125_183
    assert int((ev.t // 1000).sum()) == 2_851_601_611_994
    assert np.all(ev.t % 1000 == 0)
    assert int(ev.x.astype(np.int64).sum()) == 116_731_888
    assert int(ev.y.astype(np.int64).sum()) == 80_879_209
    assert len(tr) == 4157 and int(tr.edge.sum()) == 2079
    assert int((tr.t // 1000).sum()) == 33_999_437_880
    s = d.stats
    assert (s["on"], s["off"], s["triggers"], s["triggers_rising"]) == (125_183, 218_291, 4157, 2079)


def test_libcaer_cmp_bag_known_values():
    packets, d, ev, _ = _decode_bag(LIBCAER_CMP_BAG)
    assert len(packets) == 100
    assert int(np.count_nonzero(ev.p == 0)) == 360_223
    assert int(np.count_nonzero(ev.p == 1)) == 211_043
    t_us = ev.t // 1000
    t0 = 1_744_227_144_732_712
    assert int(t_us.min()) == t0 == int(t_us[0])
    assert int((t_us - t0).sum()) == 335_555_680_277


def test_dense_vectors_and_many_triggers():
    # up to 12 events per word and many triggers: output sized from the words, exactly filled
    d = make_decoder("evt3", 2048, 16)
    words = [0x8001, 0x6002, 0x0003, 0x3800]
    for i in range(3000):
        words += [0x4FFF] if i % 170 else [0x3800 | (i % 7), 0xAF01]
    ev, tr = d.decode(u16(words), 0)
    n_vec = sum(1 for i in range(3000) if i % 170)
    assert len(tr) == 3000 - n_vec and tr.id.tolist() == [15] * len(tr)
    assert d.stats["dropped_out_of_range"] + len(ev) == 12 * n_vec
    assert len(ev) > 6 * len(words)
    assert np.all(ev.x < 2048) and np.all(ev.t == (1 << 12 | 2) * 1000)
    d2 = make_decoder("libcaer_cmp", 16, 2048)
    ev, _ = d2.decode(u16([0x2003, 0x4800] + [0x50FF] * 5000), 0)
    assert d2.stats["dropped_out_of_range"] + len(ev) == 8 * 5000 and ev.y.tolist() == list(range(2048))


def test_input_forms_bytes_and_strided_arrays():
    words = [0x8064, 0x6005, 0x0003, 0x2007]
    raw = np.array(words, np.uint16).view(np.uint8)
    for buf in (raw.tobytes(), bytearray(raw.tobytes()), np.repeat(raw, 2)[::2], np.array(words, np.uint16)):
        ev, _ = make_decoder("evt3", 640, 480).decode(buf, 0)
        assert ev.x.tolist() == [7] and ev.t.tolist() == [409605_000]


def u32(words):
    return np.array(words, "<u4").view(np.uint8)


def cd2(p, t_low, x, y):
    return (p << 28) | (t_low << 22) | (x << 11) | y


def test_evt2_words_triggers_and_rollover():
    """EVT 2.0 from Prophesee's word layout: CD y bits 0..10, x 11..21, t low 22..27; TIME_HIGH 28 bits."""
    d = make_decoder("evt2", 640, 480)
    max_th = (1 << 28) - 1
    words = [
        cd2(1, 5, 3, 4),                         # before any TIME_HIGH: no valid time, dropped
        (8 << 28) | 100,                         # t = 100 << 6
        cd2(1, 7, 639, 479), cd2(0, 9, 640, 0),  # ON at 6407 us; x = 640 is out of range
        (10 << 28) | (33 << 22) | (17 << 8) | 1,  # trigger id 17, rising, t low 33
        (14 << 28) | 123, (15 << 28) | 5,       # OTHERS, CONTINUED: no events
        (3 << 28),                               # reserved: counted
        (8 << 28) | 99,                          # a step back by one: no rollover
        cd2(0, 0, 1, 2),
        (8 << 28) | max_th, (8 << 28) | 2,       # wraps: one rollover
        cd2(0, 63, 5, 6),
    ]
    ev, tr = d.decode(u32(words), 1000)
    T_LOOP = 1 << 34
    assert ev.x.tolist() == [639, 1, 5] and ev.y.tolist() == [479, 2, 6] and ev.p.tolist() == [1, 0, 0]
    assert ev.t.tolist() == [1000 + (100 * 64 + 7) * 1000, 1000 + 99 * 64 * 1000,
                             1000 + (T_LOOP + 2 * 64 + 63) * 1000]
    assert tr.t.tolist() == [1000 + (100 * 64 + 33) * 1000] and tr.edge.tolist() == [1] and tr.id.tolist() == [17]
    s = d.stats
    assert (s["dropped_invalid_time"], s["dropped_out_of_range"], s["unknown_words"], s["rollovers"]) == (1, 1, 1, 1)
    assert (s["on"], s["off"], s["triggers"], s["triggers_rising"]) == (1, 2, 1, 1)


def test_evt2_state_carries_across_packets():
    words = [(8 << 28) | 7, cd2(1, 1, 2, 3), (8 << 28) | 8, cd2(0, 2, 4, 5)]
    for cut in range(len(words) + 1):
        d = make_decoder("evt2", 64, 64)
        a, _ = d.decode(u32(words[:cut]), 0)
        b, _ = d.decode(u32(words[cut:]), 0)
        ev = EventArray.concatenate([a, b])
        assert ev.t.tolist() == [(7 * 64 + 1) * 1000, (8 * 64 + 2) * 1000], cut
