"""Reference encoders for every encoding (test helpers) and their own sanity tests.

The encoders are written from the format definitions in docs/events.md, not
from the decoders, and are used by the round-trip and fuzz tests.
"""
from __future__ import annotations

import numpy as np

ROLL = 1 << 24


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


def encode_evt3(rng, t, x, y, p, trig=None, pad_prob=0.0, vectors=True):
    """EVT 3.0 words for events (t in us, sorted). Returns (words, order, trig_order).

    ``order`` gives the events in the order the stream carries them (the
    decoder must return exactly this); TIME_HIGH words are sent for every
    4096 us step like a sensor does, so 2^24 us rollovers are seen.
    ``trig``: (t_us, edge, id) arrays, sorted.
    """
    words = []
    order = []
    trig_order = []
    tt, te, ti = trig if trig is not None else (np.zeros(0, np.int64),) * 3

    def pad():
        while pad_prob and rng.random() < pad_prob:
            words.append(int(rng.choice([0x9000, 0x9ABC, 0x7000 | int(rng.integers(0, 4096)),
                                         0xE000 | int(rng.integers(0, 4096)), 0xF000])))

    times = np.union1d(t, tt)
    if len(times) == 0:
        return np.zeros(0, np.uint16), np.zeros(0, np.int64), np.zeros(0, np.int64)
    high_abs = int(times[0]) >> 12
    words += [0x8000 | (high_abs & 0xFFF), 0x6000 | (int(times[0]) & 0xFFF)]
    low = int(times[0]) & 0xFFF
    ey = None
    starts = np.searchsorted(t, times, "left")
    ends = np.searchsorted(t, times, "right")
    tstarts = np.searchsorted(tt, times, "left")
    tends = np.searchsorted(tt, times, "right")
    for k, tv in enumerate(times.tolist()):
        while (tv >> 12) > high_abs:
            high_abs += 1
            words.append(0x8000 | (high_abs & 0xFFF))
            pad()
        if (tv & 0xFFF) != low or rng.random() < 0.05:
            low = tv & 0xFFF
            words.append(0x6000 | low)
        for j in range(tstarts[k], tends[k]):
            words.append(0xA000 | (int(ti[j]) << 8) | int(te[j]))
            trig_order.append(j)
            pad()
        idx = np.arange(starts[k], ends[k])
        if not len(idx):
            continue
        # group by (y, p), x ascending
        idx = idx[np.lexsort((x[idx], p[idx], y[idx]))]
        i = 0
        while i < len(idx):
            j = i
            while j < len(idx) and y[idx[j]] == y[idx[i]] and p[idx[j]] == p[idx[i]]:
                j += 1
            grp = idx[i:j]
            if ey != y[grp[0]] or rng.random() < 0.1:
                ey = int(y[grp[0]])
                words.append(0x0000 | ey | (int(rng.integers(0, 2)) << 11))
            pol = int(p[grp[0]])
            g = 0
            while g < len(grp):
                if vectors and rng.random() < 0.5:
                    base = int(x[grp[g]])
                    words.append(0x3000 | (pol << 11) | base)
                    while g < len(grp):
                        kind = 12 if rng.random() < 0.5 else 8
                        mask = 0
                        while g < len(grp) and x[grp[g]] - base < kind:
                            mask |= 1 << int(x[grp[g]] - base)
                            order.append(grp[g])
                            g += 1
                        words.append((0x4000 if kind == 12 else 0x5000) | mask)
                        base += kind
                        if g < len(grp) and x[grp[g]] - base >= 12:
                            break  # start a new base
                        pad()
                else:
                    words.append(0x2000 | (pol << 11) | int(x[grp[g]]))
                    order.append(grp[g])
                    g += 1
                    pad()
            i = j
    return np.array(words, np.uint16), np.array(order, np.int64), np.array(trig_order, np.int64)


def encode_libcaer_cmp(rng, t_rel_us, x, y, p, state):
    """libcaer_cmp words for one packet (t_rel_us: us since the packet's time_base, sorted).

    ``state`` (dict with key 'x') carries the column across packets, as the
    decoder does. Returns (words, order).
    """
    words = []
    order = []
    high = low = 0
    i = 0
    n = len(t_rel_us)
    while i < n:
        tv = int(t_rel_us[i])
        if (tv >> 12) != high:
            high = tv >> 12
            words.append(0x0000 | high)
        if (tv & 0xFFF) != low:
            low = tv & 0xFFF
            words.append(0x1000 | low)
        j = i
        while j < n and t_rel_us[j] == tv:
            j += 1
        idx = np.arange(i, j)
        idx = idx[np.lexsort((y[idx], p[idx], x[idx]))]
        a = 0
        while a < len(idx):
            b = a
            while b < len(idx) and x[idx[b]] == x[idx[a]] and p[idx[b]] == p[idx[a]]:
                b += 1
            grp = idx[a:b]
            if state.get("x") != int(x[grp[0]]):
                state["x"] = int(x[grp[0]])
                words.append(0x2000 | state["x"])
            pol = int(p[grp[0]])
            g = 0
            while g < len(grp):
                if rng.random() < 0.5:
                    base = int(y[grp[g]])
                    words.append(0x4000 | (pol << 11) | base)
                    while g < len(grp) and y[grp[g]] - base < 8:
                        mask = 0
                        while g < len(grp) and y[grp[g]] - base < 8:
                            mask |= 1 << int(y[grp[g]] - base)
                            order.append(grp[g])
                            g += 1
                        words.append(0x5000 | mask)
                        base += 8
                else:
                    words.append(0x3000 | (pol << 11) | int(y[grp[g]]))
                    order.append(grp[g])
                    g += 1
            a = b
        i = j
    return np.array(words, np.uint16), np.array(order, np.int64)


def encode_libcaer(t_rel_us, x, y, p):
    """libcaer bytes; timestamps wrap at 2^31 us like libcaer's counter."""
    rec = np.zeros(len(t_rel_us), np.dtype([("data", "<u4"), ("ts", "<i4")]))
    x, y, p = (np.asarray(v, np.uint32) for v in (x, y, p))
    rec["data"] = (x << 17) | (y << 2) | (p << 1) | 1
    rec["ts"] = (np.asarray(t_rel_us, np.int64) % (1 << 31)).astype(np.int32)
    return rec.view(np.uint8)


def encode_mono(dt_ns, x, y, p):
    w = (np.asarray(p, np.uint64) << np.uint64(63)) | (np.asarray(y, np.uint64) << np.uint64(48)) \
        | (np.asarray(x, np.uint64) << np.uint64(32)) | np.asarray(dt_ns, np.uint64)
    return w.astype("<u8").view(np.uint8)


def encode_trigger(dt_ns, edge, tid):
    w = (np.asarray(edge, np.uint64) << np.uint64(63)) | (np.asarray(tid, np.uint64) << np.uint64(48)) \
        | np.asarray(dt_ns, np.uint64)
    return w.astype("<u8").view(np.uint8)


# ---------------------------------------------------------------- sanity of the encoders
def test_evt3_encoder_emits_each_event_once():
    rng = np.random.default_rng(1)
    t, x, y, p = random_cd(rng, 500, 64, 48, 0, 20000)
    words, order, _ = encode_evt3(rng, t, x, y, p)
    assert sorted(order.tolist()) == list(range(len(t)))
    assert set((words >> 12).tolist()) <= {0, 2, 3, 4, 5, 6, 8}


def test_libcaer_cmp_encoder_emits_each_event_once():
    rng = np.random.default_rng(2)
    t, x, y, p = random_cd(rng, 500, 64, 48, 0, 20000)
    words, order = encode_libcaer_cmp(rng, t, x, y, p, {})
    assert sorted(order.tolist()) == list(range(len(t)))
    assert set((words >> 12).tolist()) <= {0, 1, 2, 3, 4, 5}
