"""Round trips: product encoders -> random packet cuts (anywhere, padding inserted) -> one stateful decoder."""
from __future__ import annotations

import numpy as np
import pytest
from test_decoders_encoders import events, padded, random_cd, sensor_order, triggers

from seal_ros.events.decoders import make_decoder
from seal_ros.events.encoders import make_encoder
from seal_ros.events.types import EventArray, TriggerArray


def cut(rng, n, k):
    """k random cut points in 0..n (sorted, may repeat: empty packets too)."""
    return np.sort(rng.integers(0, n + 1, k))


def sensor_stream(rng, n, W, H, start, span):
    t, x, y, p = random_cd(rng, n, W, H, start, span)
    o = sensor_order(t, x, y, p)
    return t[o], x[o], y[o], p[o]


@pytest.mark.parametrize("enc", ["evt3", "evt2"])
@pytest.mark.parametrize("seed", range(4))
def test_prophesee_words_cut_anywhere(enc, seed):
    """One stream encoded at once, then cut at arbitrary word boundaries (inside vectors too)."""
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(20, 700)), int(rng.integers(20, 500))
    period = 24 if enc == "evt3" else 34
    base = int(rng.integers(0, 1 << 10)) << period
    start = base + (1 << period) - int(rng.integers(1, 200_000))  # crosses a rollover
    t, x, y, p = sensor_stream(rng, int(rng.integers(1, 4000)), W, H, start, int(rng.integers(250_000, 20_000_000)))
    nt = int(rng.integers(0, 50))
    tt = np.sort(rng.integers(start, t[-1] + 1, nt))
    te, ti = rng.integers(0, 2, nt), rng.integers(0, 16, nt)
    payload, tb = make_encoder(enc, W, H).encode(events(t * 1000, x, y, p), triggers(tt * 1000, te, ti))
    assert tb == base * 1000
    words = payload.view(np.uint16 if enc == "evt3" else "<u4")
    if enc == "evt3":
        words = padded(rng, words, 0.05)
    d = make_decoder(enc, W, H)
    evs, trs = [], []
    bounds = [0, *cut(rng, len(words), int(rng.integers(0, 40))).tolist(), len(words)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        ev, tr = d.decode(words[a:b].view(np.uint8), tb)
        evs.append(ev)
        trs.append(tr)
    ev, tr = EventArray.concatenate(evs), TriggerArray.concatenate(trs)
    assert (ev.x.tolist(), ev.y.tolist(), ev.p.tolist()) == (x.tolist(), y.tolist(), p.tolist())
    assert ev.t.tolist() == (t * 1000).tolist()
    assert tr.t.tolist() == (tt * 1000).tolist() and tr.edge.tolist() == te.tolist()
    assert tr.id.tolist() == ti.tolist()
    s = d.stats
    assert s["rollovers"] == 1
    if enc == "evt3":
        assert s["unknown_words"] == int(np.count_nonzero((words >> 12) == 9))
    assert s["dropped_out_of_range"] == 0 and s["dropped_invalid_time"] == 0


@pytest.mark.parametrize("seed", range(3))
def test_out_of_range_is_dropped(seed):
    rng = np.random.default_rng(100 + seed)
    t, x, y, p = sensor_stream(rng, 2000, 100, 80, 1000, 50_000)
    payload, tb = make_encoder("evt3", 100, 80).encode(events(t * 1000, x, y, p))
    d = make_decoder("evt3", 60, 50)  # smaller than the encoded sensor
    ev, _ = d.decode(payload, tb)
    keep = (x < 60) & (y < 50)
    assert ev.x.tolist() == x[keep].tolist() and ev.y.tolist() == y[keep].tolist()
    assert d.stats["dropped_out_of_range"] == int(np.count_nonzero(~keep))


@pytest.mark.parametrize("seed", range(4))
def test_libcaer_cmp_packets(seed):
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(8, 400)), int(rng.integers(8, 300))
    t, x, y, p = random_cd(rng, int(rng.integers(1, 5000)), W, H, 0, 3_000_000)
    o = np.lexsort((y, p, x, t))  # libcaer_cmp groups a column's rows
    t, x, y, p = t[o], x[o], y[o], p[o]
    T = 1_700_000_000_000_000_000
    e, d = make_encoder("libcaer_cmp", W, H), make_decoder("libcaer_cmp", W, H)
    bounds = [0, *cut(rng, len(t), int(rng.integers(0, 30))).tolist(), len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        payload, tb = e.encode(events(T + t[a:b] * 1000, x[a:b], y[a:b], p[a:b]))
        ev, tr = d.decode(payload, tb)
        assert len(tr) == 0
        assert (ev.x.tolist(), ev.y.tolist(), ev.p.tolist()) == (x[a:b].tolist(), y[a:b].tolist(), p[a:b].tolist())
        assert ev.t.tolist() == (T + t[a:b] * 1000).tolist()
    assert d.stats["events"] == len(t) and d.stats["unknown_words"] == 0


@pytest.mark.parametrize("seed", range(3))
def test_libcaer_mono_packets(seed):
    rng = np.random.default_rng(seed)
    W, H = 346, 260
    t, x, y, p = random_cd(rng, 3000, W, H, 0, 5_000_000_000, unique_pixels=False)  # spans > 2^31 us
    T = 10**18
    for enc, unit in (("libcaer", 1000), ("mono", 1)):
        e, d = make_encoder(enc, W, H), make_decoder(enc, W, H)
        span = e.max_span_ns // unit  # what one packet can hold, in the units of t
        bounds = [0, *cut(rng, len(t), 10).tolist(), len(t)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            sl = np.arange(a, b)[t[a:b] - (t[a] if b > a else 0) <= span]
            payload, tb = e.encode(events(T + t[sl] * unit, x[sl], y[sl], p[sl]))
            ev, _ = d.decode(payload, tb)
            assert (ev.x.tolist(), ev.y.tolist(), ev.p.tolist()) == (x[sl].tolist(), y[sl].tolist(), p[sl].tolist())
            assert ev.t.tolist() == (T + t[sl] * unit).tolist()
