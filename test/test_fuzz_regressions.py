"""What the encoding fuzz (test_fuzz_encodings.py, seal_ros/fuzz) found, each kept as a case."""
from __future__ import annotations

import time

import numpy as np
import pytest

from seal_ros.events.buffer import DurationWindower
from seal_ros.events.decoders import make_decoder
from seal_ros.events.decoders.base import MAX_ROLLED_US, MAX_TIME_BASE
from seal_ros.events.encoders import make_encoder
from seal_ros.events.packet import EventPacket
from seal_ros.events.source import WindowSource
from seal_ros.events.types import EventArray


@pytest.mark.parametrize("enc, unit", [("evt3", [0x4FFF]), ("libcaer_cmp", [0x50FF])])
def test_a_capped_packet_keeps_on_plus_off_equal_to_its_events(enc, unit):
    """The cap cut the last slice's overshoot from the events but not from the on/off counters."""
    head = [0x8001, 0x6000, 0x0005, 0x3800] if enc == "evt3" else [0x2003, 0x4800]  # ON vectors
    words = np.array(head + unit * 20_000, "<u2")
    dec = make_decoder(enc, 640, 480)
    dec.max_events = 1001
    ev, _ = dec.decode(words.view(np.uint8), 0)
    s = dec.stats
    assert len(ev) == 1001 == s["events"] == s["on"] + s["off"] and s["on"] == 1001 and s["capped_packets"] == 1


def test_libcaer_negative_timestamps_are_no_time():
    """libcaer's timestamps are 31 bits; a negative one put events before the packet's time base."""
    ts = np.array([5, 7, -3, 9, -(1 << 31), 2], np.int32)
    rec = np.empty(len(ts), [("data", "<u4"), ("ts", "<i4")])
    rec["data"], rec["ts"] = (np.arange(len(ts), dtype=np.uint32) << 17) | (1 << 2), ts
    dec = make_decoder("libcaer", 16, 16)
    ev, _ = dec.decode(rec.view(np.uint8), 1_000_000)
    np.testing.assert_array_equal(ev.x, [0, 1, 3, 5])
    # 5, 7, 9 us, then 2 after libcaer's overflow (+2^31 us): never back, never before time_base
    np.testing.assert_array_equal(ev.t, 1_000_000 + np.array([5, 7, 9, 2 + (1 << 31)]) * 1000)
    s = dec.stats
    assert s["dropped_invalid_time"] == 2 and s["rollovers"] == 1 and s["events"] == 4


def test_a_rollover_flood_cannot_overflow_evt2_time():
    """600,000 pairs of TIME_HIGH max, 0 (a 4.8 MB packet) rolled 2^34 us each into a negative t."""
    pairs = 600_000
    w = np.empty(2 * pairs + 2, "<u4")
    w[0:-2:2], w[1:-2:2] = 0x8FFFFFFF, 0x80000000
    w[-2:] = [0x80000005, (1 << 28) | (3 << 11) | 4]  # TIME_HIGH 5, CD_ON x 3 y 4
    tb = MAX_TIME_BASE - 1
    dec = make_decoder("evt2", 640, 480)
    ev, _ = dec.decode(w.view(np.uint8), tb)
    assert len(ev) == 1 and tb <= int(ev.t[0]) < tb + (MAX_ROLLED_US + (1 << 35)) * 1000
    assert dec.stats["rollovers"] == -(-MAX_ROLLED_US // (1 << 34))  # counted up to 2^52 us, then no more


def test_evt3_rollovers_stop_at_the_bound_too():
    """evt3 needs 2^28 rollovers (a gigabyte of words) to get there: the decoder's state is set near it."""
    from seal_ros.events.decoders.evt3_kernels import S_HIGH

    dec = make_decoder("evt3", 640, 480)
    dec.decode(np.array([0x8000, 0x6000], "<u2").view(np.uint8), 0)
    dec._state[S_HIGH] = MAX_ROLLED_US - (1 << 24)  # noqa: SLF001 - a stream 142 years long
    flood = np.array([0x8FFF, 0x8000] * 1000 + [0x0005, 0x2003], "<u2")
    ev, _ = dec.decode(flood.view(np.uint8), MAX_TIME_BASE - 1)
    assert len(ev) == 1 and MAX_TIME_BASE - 1 <= int(ev.t[0]) < MAX_TIME_BASE + (MAX_ROLLED_US + (1 << 25)) * 1000
    assert dec.stats["rollovers"] == 1


def _mono(seq, w, h, t0_us, stamp_ns, n=200):
    rng = np.random.default_rng(seq)
    t = np.sort(rng.integers(0, 1000, n)) * 1000 + t0_us * 1000
    ev = EventArray(rng.integers(0, w, n).astype(np.uint16), rng.integers(0, h, n).astype(np.uint16),
                    rng.integers(0, 2, n).astype(np.uint8), t)
    payload, tb = make_encoder("mono", w, h).encode(ev)
    return EventPacket("mono", w, h, seq, tb, payload, stamp_ns)


@pytest.mark.parametrize("mode", ["duration", "count"])
def test_a_held_packet_released_with_one_of_another_size_gets_its_own_window(mode):
    """A packet 1 h ahead (held) confirmed by the next one, of another size, shared its window: a
    17x17 window held x up to 639."""
    src = WindowSource(mode, 50_000_000, 300)
    windows = []
    for k in range(20):
        windows += src.push(_mono(k, 640, 480, 1000 * k, 10**11 + k * 10**6)).windows
    windows += src.push(_mono(20, 640, 480, 3600_000_000, 10**11 + 21 * 10**6)).windows  # held
    windows += src.push(_mono(21, 17, 17, 3600_001_000, 10**11 + 22 * 10**6)).windows  # confirms the jump
    windows += src.push(_mono(22, 17, 17, 3600_100_000, 10**11 + 121 * 10**6)).windows
    for w in windows:
        ev = w.window.events
        assert int(ev.x.max()) < w.width and int(ev.y.max()) < w.height, (w.width, w.height, w.resync)
    sizes = [(w.width, w.height) for w in windows]
    assert (640, 480) in sizes and (17, 17) in sizes and src.counters()["time_jumps"] == 1
    pending = src._windower.pending  # noqa: SLF001 - the open window
    assert sum(len(w.window.events) for w in windows) + pending == src.counters()["events"]


def test_a_packet_spanning_many_duration_windows_costs_one_pass():
    """Windows were cut with one scan of the packet per window: 10^6 events over 10^4 windows took
    6.4 s (11 M events over 5 s in 0.1 ms windows: minutes). The same windows now, in one pass."""
    rng = np.random.default_rng(3)
    n, span = 1_000_000, 10_000 * 100_000
    t = rng.integers(0, span, n).astype(np.int64)  # unordered too: a stable sort, then one pass
    ev = EventArray(rng.integers(0, 640, n).astype(np.uint16), np.zeros(n, np.uint16), np.ones(n, np.uint8), t)
    c0 = time.thread_time()
    windows = DurationWindower(100_000, origin_ns=0).feed(ev) + [None]
    cpu = time.thread_time() - c0
    windows.pop()
    assert len(windows) == 9_999  # the last one stays open
    k = np.sort(np.unique(t // 100_000))[:-1]
    for w, u in zip(windows[::997], k[::997]):
        sel = (t // 100_000) == u
        assert (w.t0, w.t1) == (u * 100_000, (u + 1) * 100_000)
        np.testing.assert_array_equal(w.events.t, t[sel])  # in arrival order, like before
        np.testing.assert_array_equal(w.events.x, ev.x[sel])
    assert cpu < 3.0, cpu  # a hang guard (it was 6.4 s for the ordered case), not a speed target
