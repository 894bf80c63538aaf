"""The numba decoders against plain-Python decoders written from the format descriptions.

Random word streams (every word type, hostile values, small sensors so that events fall
outside) cut into random packets: events, triggers and every counter must match, whichever
kernel the decoder picks for a packet (the group kernel or the word kernel, which it
switches between by content) and whichever output path a packet takes (slab views, a larger
slab, arrays of its own, the continuation of a full output, the event cap).
"""
from __future__ import annotations

import numpy as np
import pytest

from seal_ros.events.decoders import make_decoder
from seal_ros.events.decoders.slab import SLAB_MAX_EVENTS

COUNTERS = ("on", "off", "dropped_out_of_range", "dropped_invalid_time", "unknown_words", "triggers",
            "triggers_rising", "rollovers")


class RefEvt3:
    """EVT 3.0 as seal_ros.events.decoders.evt3 describes it, one word at a time."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.valid = self.have_high = self.high = self.low = self.y = self.bx = self.pol = 0
        self.c = dict.fromkeys(COUNTERS, 0)

    def _time_high(self, w):
        th, last = w & 0xFFF, (self.high >> 12) & 0xFFF
        if th < last and last - th > 10:
            self.high += 1 << 24
            self.c["rollovers"] += 1
        self.high = (self.high & ~0xFFFFFF) | (th << 12)

    def _emit(self, out, x, p, t):
        if x < self.w and self.y < self.h:
            out.append((x, self.y, p, t))
            self.c["on" if p else "off"] += 1
        else:
            self.c["dropped_out_of_range"] += 1

    def decode(self, words, tb):
        ev, tr = [], []
        for w in (int(v) for v in words):
            code = w >> 12
            if not self.valid:
                if code == 8:
                    self._time_high(w)
                    self.have_high = 1
                elif code == 6:
                    self.low = w & 0xFFF
                    self.valid = self.have_high
                elif code in (2, 10):
                    self.c["dropped_invalid_time"] += 1
                elif code in (4, 5):
                    self.c["dropped_invalid_time"] += bin(w & (0xFFF if code == 4 else 0xFF)).count("1")
                elif code in (1, 9, 11, 12, 13):
                    self.c["unknown_words"] += 1
                continue
            t = tb + (self.high | self.low) * 1000
            if code == 0:
                self.y = w & 0x7FF
            elif code == 2:
                self._emit(ev, w & 0x7FF, (w >> 11) & 1, t)
            elif code == 3:
                self.bx, self.pol = w & 0x7FF, (w >> 11) & 1
            elif code in (4, 5):
                n = 12 if code == 4 else 8
                for i in range(n):
                    if w >> i & 1:
                        self._emit(ev, self.bx + i, self.pol, t)
                self.bx = (self.bx + n) & 0xFFFF
            elif code == 6:
                self.low = w & 0xFFF
            elif code == 8:
                self._time_high(w)
            elif code == 10:
                tr.append((t, w & 1, (w >> 8) & 0xF))
                self.c["triggers"] += 1
                self.c["triggers_rising"] += w & 1
            elif code not in (7, 14, 15):
                self.c["unknown_words"] += 1
        return ev, tr


class RefLibcaerCmp:
    """libcaer_cmp as seal_ros.events.decoders.libcaer_cmp describes it (dt restarts each packet)."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.x = self.by = self.pol = 0
        self.c = dict.fromkeys(COUNTERS, 0)

    def _emit(self, out, y, p, t):
        if self.x < self.w and y < self.h:
            out.append((self.x, y, p, t))
            self.c["on" if p else "off"] += 1
        else:
            self.c["dropped_out_of_range"] += 1

    def decode(self, words, tb):
        ev, high, low = [], 0, 0
        for w in (int(v) for v in words):
            code, t = w >> 12, tb + (high | low) * 1000
            if code == 0:
                high = (w & 0xFFF) << 12
            elif code == 1:
                low = w & 0xFFF
            elif code == 2:
                self.x = w & 0x7FF
            elif code == 3:
                self._emit(ev, w & 0x7FF, (w >> 11) & 1, t)
            elif code == 4:
                self.by, self.pol = w & 0x7FF, (w >> 11) & 1
            elif code == 5:
                for i in range(8):
                    if w >> i & 1:
                        self._emit(ev, self.by + i, self.pol, t)
                self.by = (self.by + 8) & 0xFFFF
            else:
                self.c["unknown_words"] += 1
        return ev, []


REFS = {"evt3": RefEvt3, "libcaer_cmp": RefLibcaerCmp}
# word types and the runs real sensors send (single events as groups, rows, vectors)
ALPHABET = {"evt3": [0, 2, 6, 8, 3, 4, 5, 10, 7, 9, 14, 15, 1, 11], "libcaer_cmp": [0, 1, 2, 3, 4, 5, 6, 9]}
RUNS = {"evt3": [[6, 0, 2], [8, 6, 0, 2], [0, 2], [8, 0, 2], [8, 8, 6, 0, 2], [0, 2, 2, 2], [6, 0, 3, 4, 4, 5]],
        "libcaer_cmp": [[1, 2, 3], [2, 3], [0, 1, 2, 3], [2, 4, 5, 5]]}


def random_words(rng, enc, n):
    """Words of ``enc``: random types, or mostly the runs of real streams, with hostile values."""
    if rng.random() < 0.4:
        codes = rng.choice(ALPHABET[enc], n)
    else:
        runs = RUNS[enc]
        codes = np.concatenate([runs[i] for i in rng.integers(0, len(runs), n // 3 + 1)])[:n]
        noise = rng.random(len(codes)) < 0.03
        codes[noise] = rng.choice(ALPHABET[enc], int(noise.sum()))
    small = rng.random(len(codes)) < 0.8  # mostly in-range values, some anywhere
    values = np.where(small, rng.integers(0, 40, len(codes)) | (rng.integers(0, 2, len(codes)) << 11),
                      rng.integers(0, 4096, len(codes)))
    return ((codes.astype(np.int64) << 12) | values).astype(np.uint16)


def check_same(enc, packets, tbs, w, h, cap=None) -> set:
    """Decode with both; the kernels the decoder used (0: groups, 1: words)."""
    ref, dec = REFS[enc](w, h), make_decoder(enc, w, h)
    dec.max_events = cap
    kernels = set()
    for i, (p, tb) in enumerate(zip(packets, tbs)):
        kernels.add(dec._mode)
        ev, tr = dec.decode(p.view(np.uint8), int(tb))
        rev, rtr = ref.decode(p, int(tb))
        if cap is not None and len(rev) > cap:
            rev = rev[:cap]
        got = list(zip(ev.x.tolist(), ev.y.tolist(), ev.p.tolist(), ev.t.tolist()))
        assert got == rev, (enc, i)
        if cap is None:
            assert list(zip(tr.t.tolist(), tr.edge.tolist(), tr.id.tolist())) == rtr, (enc, i)
            if len(ev):
                assert dec.last_t_summary is None or dec.last_t_summary == (
                    int(ev.t.min()), int(ev.t.max()), bool((np.diff(ev.t) >= 0).all()))
    if cap is None:
        st = dec.stats
        assert {k: st[k] for k in COUNTERS} == ref.c
        assert st["packets"] == len(packets) and st["bytes"] == sum(p.nbytes for p in packets)
        assert st["events"] == st["on"] + st["off"]
    return kernels


@pytest.mark.parametrize("enc", ["evt3", "libcaer_cmp"])
@pytest.mark.parametrize("seed", range(6))
def test_random_streams_decode_as_the_reference(enc, seed):
    rng = np.random.default_rng(seed)
    words = random_words(rng, enc, int(rng.integers(2000, 20000)))
    cuts = np.sort(rng.integers(0, len(words) + 1, int(rng.integers(1, 60))))
    packets = np.split(words, cuts)
    w, h = (int(v) for v in rng.integers(1, 64, 2)) if seed % 2 else (2048, 2048)
    check_same(enc, packets, rng.integers(0, 1 << 61, len(packets)), w, h)


@pytest.mark.parametrize("enc", ["evt3", "libcaer_cmp"])
def test_every_output_path_decodes_as_the_reference(enc):
    """Packets for a slab, for a larger slab and too large for any (arrays of their own), and
    vector-dense ones that fill their first output and continue in chunks."""
    rng = np.random.default_rng(7)
    sizes = [3000, 20_000, SLAB_MAX_EVENTS // 4 + 5000, 500]
    packets = [random_words(rng, enc, n) for n in sizes]
    dense = {"evt3": [0x8001, 0x6000, 0x0005] + [0x3000, *([0x4FFF] * 40)] * 60,
             "libcaer_cmp": [0x2003, 0x4000] + [0x50FF] * 3000}[enc]
    packets += [np.array(dense, np.uint16)] * 3
    check_same(enc, packets, [0] * len(packets), 640, 480)


@pytest.mark.parametrize("enc", ["evt3", "libcaer_cmp"])
def test_the_decoder_switches_kernels_with_the_content(enc):
    """Group-run packets go through the group kernel, the others through the word kernel."""
    rng = np.random.default_rng(5)
    runs = RUNS[enc][:2]
    grouped = np.concatenate([runs[i] for i in rng.integers(0, 2, 900)])
    grouped = ((grouped.astype(np.int64) << 12) | rng.integers(0, 30, len(grouped))).astype(np.uint16)
    scattered = ((rng.choice(ALPHABET[enc], 2000).astype(np.int64) << 12) | rng.integers(0, 30, 2000)).astype(np.uint16)
    packets = [grouped, grouped, scattered, scattered, grouped, grouped]
    assert check_same(enc, packets, [9] * len(packets), 32, 32) == {0, 1}


@pytest.mark.parametrize("enc", ["evt3", "libcaer_cmp"])
def test_the_event_cap_keeps_the_first_events(enc):
    rng = np.random.default_rng(3)
    for _ in range(4):  # a capped packet stops the stream state there: one packet a decoder
        check_same(enc, [random_words(rng, enc, 6000)], [5], 2048, 2048, cap=700)


def test_views_handed_out_are_never_overwritten():
    """Packets decode into shared slabs: what a consumer keeps stays intact while the stream
    goes on, whether it looked at the arrays already or not (they are made on first use), and
    slabs are reused once nothing references them."""
    rng = np.random.default_rng(11)
    dec, twin = make_decoder("evt3", 2048, 2048), make_decoder("evt3", 2048, 2048)
    kept, copies, untouched, later, untouched_tr, later_tr = [], [], [], [], [], []
    for i in range(400):
        payload = random_words(rng, "evt3", 3000).view(np.uint8)
        ev, tr = dec.decode(payload, i)
        ref, rtr = twin.decode(payload, i)
        if i < 30 and i % 7 == 0:  # arrays made now (these keep the first slab in use)
            kept.append(ev)
            copies.append([a.copy() for a in (ev.x, ev.y, ev.p, ev.t)])
        elif i % 7 == 3:  # arrays not made until after hundreds more packets
            untouched.append(ev)
            later.append([a.copy() for a in (ref.x, ref.y, ref.p, ref.t)])
        elif i < 30 and i % 7 == 5 and len(tr):
            untouched_tr.append(tr)
            later_tr.append(rtr.t.copy())
    for ev, c in zip(kept, copies):
        for a, b in zip((ev.x, ev.y, ev.p, ev.t), c):
            np.testing.assert_array_equal(a, b)
    for ev, c in zip(untouched, later):
        for a, b in zip((ev.x, ev.y, ev.p, ev.t), c):
            np.testing.assert_array_equal(a, b)
    assert len(untouched_tr) > 2
    for tr, c in zip(untouched_tr, later_tr):
        np.testing.assert_array_equal(tr.t, c)
    pool = dec._pool
    assert sum(s.in_use() for s in [pool.current, *pool._spares]) >= 2
    del kept, untouched, untouched_tr, ev, tr
    assert not any(s.in_use() for s in pool._spares)
