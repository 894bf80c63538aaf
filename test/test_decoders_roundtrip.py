"""Round trips: reference encoders -> random packet cuts -> one stateful decoder."""
from __future__ import annotations

import numpy as np
import pytest
from test_decoders_encoders import (
    encode_evt3, encode_libcaer, encode_libcaer_cmp, encode_mono, encode_trigger, random_cd,
)

from seal_ros.events.decoders import make_decoder
from seal_ros.events.types import EventArray, TriggerArray


def cut(rng, n, k):
    """k random cut points in 0..n (sorted, may repeat: empty packets too)."""
    return np.sort(rng.integers(0, n + 1, k))


@pytest.mark.parametrize("seed", range(6))
def test_evt3_roundtrip(seed):
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(20, 700)), int(rng.integers(20, 500))
    n = int(rng.integers(1, 4000))
    # a span crossing the 2^24 us rollover (twice for some seeds)
    start = (1 << 24) - int(rng.integers(1, 200_000))
    span = int(rng.integers(250_000, 20_000_000))
    t, x, y, p = random_cd(rng, n, W, H, start, span)
    nt = int(rng.integers(0, 50))
    tt = np.sort(rng.integers(start, start + span, nt))
    te, ti = rng.integers(0, 2, nt), rng.integers(0, 16, nt)
    words, order, torder = encode_evt3(rng, t, x, y, p, (tt, te, ti), pad_prob=0.05)
    tb = int(rng.integers(0, 1 << 60))
    d = make_decoder("evt3", W, H)
    evs, trs = [], []
    bounds = [0, *cut(rng, len(words), int(rng.integers(0, 40))).tolist(), len(words)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        ev, tr = d.decode(words[a:b].view(np.uint8), tb)
        evs.append(ev)
        trs.append(tr)
    ev, tr = EventArray.concatenate(evs), TriggerArray.concatenate(trs)
    exp_t = tb + t[order] * 1000  # the stream starts in epoch 0 (start < 2^24)
    assert ev.x.tolist() == x[order].tolist()
    assert ev.y.tolist() == y[order].tolist()
    assert ev.p.tolist() == p[order].tolist()
    assert ev.t.tolist() == exp_t.tolist()
    assert tr.t.tolist() == (tb + tt[torder] * 1000).tolist()
    assert tr.edge.tolist() == te[torder].tolist() and tr.id.tolist() == ti[torder].tolist()
    s = d.stats
    last = max(int(t[-1]), int(tt[-1]) if nt else 0)
    assert s["rollovers"] == last >> 24 and start >> 24 == 0
    assert s["unknown_words"] == int(np.count_nonzero((words >> 12) == 9))
    assert s["dropped_out_of_range"] == 0 and s["dropped_invalid_time"] == 0
    assert s["on"] == int(p.sum()) and s["off"] == len(p) - int(p.sum())


@pytest.mark.parametrize("seed", range(4))
def test_evt3_roundtrip_out_of_range_is_dropped(seed):
    rng = np.random.default_rng(100 + seed)
    t, x, y, p = random_cd(rng, 2000, 100, 80, 1000, 50_000)
    words, order, _ = encode_evt3(rng, t, x, y, p)
    d = make_decoder("evt3", 60, 50)  # smaller than the encoded sensor
    ev, _ = d.decode(words.view(np.uint8), 0)
    keep = (x[order] < 60) & (y[order] < 50)
    assert ev.x.tolist() == x[order][keep].tolist() and ev.y.tolist() == y[order][keep].tolist()
    assert d.stats["dropped_out_of_range"] == int(np.count_nonzero(~keep))


@pytest.mark.parametrize("seed", range(5))
def test_libcaer_cmp_roundtrip(seed):
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(8, 400)), int(rng.integers(8, 300))
    t, x, y, p = random_cd(rng, int(rng.integers(1, 5000)), W, H, 0, 3_000_000)
    T = 1_700_000_000_000_000_000
    d = make_decoder("libcaer_cmp", W, H)
    state = {}
    bounds = [0, *cut(rng, len(t), int(rng.integers(0, 30))).tolist(), len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        tb_us = int(t[a]) if b > a else 0
        words, order = encode_libcaer_cmp(rng, t[a:b] - tb_us, x[a:b], y[a:b], p[a:b], state)
        ev, tr = d.decode(words.view(np.uint8), T + tb_us * 1000)
        assert len(tr) == 0
        assert ev.x.tolist() == x[a:b][order].tolist()
        assert ev.y.tolist() == y[a:b][order].tolist()
        assert ev.p.tolist() == p[a:b][order].tolist()
        assert ev.t.tolist() == (T + t[a:b][order] * 1000).tolist()
    assert d.stats["events"] == len(t) and d.stats["unknown_words"] == 0


@pytest.mark.parametrize("seed", range(3))
def test_libcaer_mono_trigger_roundtrip(seed):
    rng = np.random.default_rng(seed)
    W, H = 346, 260
    t, x, y, p = random_cd(rng, 3000, W, H, 0, 5_000_000_000, unique_pixels=False)  # spans > 2^31 us
    T = 10**18
    dl, dm, dt = (make_decoder(e, W, H) for e in ("libcaer", "mono", "trigger"))
    bounds = [0, *cut(rng, len(t), 10).tolist(), len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        sl = slice(a, b)
        tb_us = int(t[a]) if b > a else 0
        ev, _ = dl.decode(encode_libcaer(t[sl] - tb_us, x[sl], y[sl], p[sl]), T + tb_us * 1000)
        assert (ev.x.tolist(), ev.y.tolist(), ev.p.tolist()) == (x[sl].tolist(), y[sl].tolist(), p[sl].tolist())
        assert ev.t.tolist() == (T + t[sl] * 1000).tolist()
        dt_ns = (t[sl] - tb_us) % (1 << 32)
        ev, _ = dm.decode(encode_mono(dt_ns, x[sl], y[sl], p[sl]), T)
        assert ev.x.tolist() == x[sl].tolist() and ev.t.tolist() == (T + dt_ns).tolist()
        _, tr = dt.decode(encode_trigger(dt_ns, p[sl], x[sl] % 256), T)
        assert tr.edge.tolist() == p[sl].tolist() and tr.id.tolist() == (x[sl] % 256).tolist()
        assert tr.t.tolist() == (T + dt_ns).tolist()
