"""The shortcuts of the node path give exactly what the full computation gives.

* A duration windower fed the decoder's time summary (min, max, in order) cuts the same
  windows, with the same lost-packet and late counts, as one that looks at every event.
* Consecutive packets' events are views of one slab: windows join them without a copy,
  and equal the concatenation of copies.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import EVT3_BAG, LIBCAER_CMP_BAG

from seal_ros.events.buffer import DurationWindower
from seal_ros.events.decoders import make_decoder
from seal_ros.events.source import WindowSource
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader


def packet_events(rng, t0, n, ordered):
    t = t0 + np.cumsum(rng.integers(0, 40_000, n))
    if not ordered:
        t -= rng.integers(0, 2, n) * rng.integers(0, 300_000, n)  # evt3-like steps back
    z = rng.integers(0, 64, n).astype(np.uint16)
    return EventArray(z, z, (z & 1).astype(np.uint8), t.astype(np.int64))


def summary(ev):
    return int(ev.t.min()), int(ev.t.max()), bool((np.diff(ev.t) >= 0).all())


def windows_of(w):
    return [(x.t0, x.t1, x.lost_packets, x.events.t.tolist(), x.events.x.tolist()) for x in w]


@pytest.mark.parametrize("seed", range(8))
def test_duration_windows_with_and_without_the_time_summary(seed):
    rng = np.random.default_rng(seed)
    full, fast = DurationWindower(5_000_000), DurationWindower(5_000_000)
    out_full, out_fast = [], []
    t = 10**12
    for i in range(300):
        n = int(rng.integers(0, 400))
        ev = packet_events(rng, t, n, ordered=rng.random() < 0.8)
        if rng.random() < 0.05:
            ev.t[: n // 3] -= 20_000_000  # late: before the open window
        t = int(ev.t.max()) if n else t
        lost = int(rng.integers(0, 3)) if rng.random() < 0.1 else 0
        out_full += full.feed(ev, lost)
        out_fast += fast.feed(ev, lost, summary(ev) if n else None)
    out_full += full.flush()
    out_fast += fast.flush()
    assert len(out_full) > 20 and windows_of(out_fast) == windows_of(out_full)
    assert fast.late_events == full.late_events > 0


@pytest.mark.parametrize("bag", [EVT3_BAG, LIBCAER_CMP_BAG])
def test_windows_join_consecutive_packets_without_a_copy(bag):
    packets = list(itertools.islice(BagReader(bag).event_packets(), 120))
    src = WindowSource("duration", 20_000_000)
    wins = [w for p in packets for w in src.push(p).windows]
    dec = make_decoder(packets[0].encoding, packets[0].width, packets[0].height)
    copies = EventArray.concatenate([EventArray(*(a.copy() for a in (e.x, e.y, e.p, e.t)))
                                     for e in (dec.decode(p.events, p.time_base)[0] for p in packets)])
    got = EventArray.concatenate([w.window.events for w in wins])
    n = len(got)
    assert n > 10_000
    for f in "xypt":
        np.testing.assert_array_equal(getattr(got, f), getattr(copies, f)[:n])
    # neighbouring windows are views of one slab, not copies
    same = sum(a.window.events.t.base is not None and a.window.events.t.base is b.window.events.t.base
               for a, b in zip(wins, wins[1:]))
    assert same >= len(wins) // 2


def test_slices_of_views_stay_joinable():
    dec = make_decoder("evt3", 640, 480)
    words = np.array([0x8001, 0x6001] + [0x0005, 0x2003] * 50, np.uint16).view(np.uint8)
    a, _ = dec.decode(words, 0)
    b, _ = dec.decode(words[4:], 0)
    joined = EventArray.concatenate([a[10:], b[:7]])
    assert np.shares_memory(joined.t, a.t) and len(joined) == 40 + 7
    np.testing.assert_array_equal(joined.x, np.concatenate([a.x[10:], b.x[:7]]))
    gap = EventArray.concatenate([a[:10], b])  # not adjacent: a copy
    assert not np.shares_memory(gap.t, a.t) and len(gap) == 60
