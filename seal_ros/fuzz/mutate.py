"""Batches of hostile packets made from a corpus of real packets, built with vectorised numpy.

One :class:`Batch` holds ``n`` packets back to back in one buffer (each starting at a multiple of 8
bytes, so every word view is aligned) and, per packet, its kind, length and ``time_base``. Kinds:

``real``      a corpus packet, unchanged (its own ``time_base``)
``flip``      a corpus packet with 1-8 bits flipped
``words``     a corpus packet with 1-6 words overwritten by random words of the encoding's types
``truncate``  a corpus packet cut at any byte (odd lengths too), within its first 2 KiB
``slice``     any run of the corpus' bytes (starting anywhere: words misaligned), up to 2 KiB
``random``    random bytes, up to 600
``grammar``   random words of the encoding's types (addresses mostly inside the sensor), up to 512
``amplify``   the densest words (evt3 full VECT_12, libcaer_cmp full VECT_8): the most events a byte;
              for evt3 and evt2 half of them TIME_HIGH pairs instead: a time rollover every two words
``empty``     no bytes

``time_base``: the corpus packet's own for most kinds, else (and for a fifth of the rest) a random
one in [0, 2^62), 0 or 2^62 - 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seal_ros.events.decoders.base import MAX_TIME_BASE

KINDS = ("real", "flip", "words", "truncate", "slice", "random", "grammar", "amplify", "empty")
WEIGHTS = np.array([8, 12, 12, 12, 14, 12, 22, 4, 4], np.float64)
WHOLE_BYTES = 2048
REAL, FLIP, WORDS, TRUNCATE, SLICE, RANDOM, GRAMMAR, AMPLIFY, EMPTY = range(len(KINDS))
_FROM_CORPUS = np.array([k in (REAL, FLIP, WORDS, TRUNCATE, SLICE) for k in range(len(KINDS))])
WORD_BYTES = {"evt3": 2, "libcaer_cmp": 2, "evt2": 4, "libcaer": 8, "mono": 8, "trigger": 8}
# Word-type codes and their odds (the code in the top 4 bits of a 16-bit word, or of a 32-bit word
# for evt2); addresses drawn inside a 2048-pixel sensor mostly.
_CODES = {
    "evt3": ((0, 2, 3, 4, 5, 6, 8, 10, 1, 7, 9, 11, 12, 13, 14, 15),
             (15, 25, 5, 8, 5, 15, 10, 5, 1, 1, 2, 1, 1, 1, 2, 3)),
    "libcaer_cmp": ((0, 1, 2, 3, 4, 5, 6, 9, 15), (8, 15, 20, 30, 7, 10, 3, 3, 4)),
    "evt2": ((0, 1, 8, 10, 14, 15, 2, 5, 12), (30, 30, 15, 5, 4, 4, 4, 4, 4)),
}


@dataclass
class Batch:
    buf: np.ndarray  # uint8, the packets back to back
    starts: np.ndarray  # int64 byte offset of each packet (multiples of 8)
    lengths: np.ndarray  # int64 bytes of each packet
    time_bases: np.ndarray  # int64
    kinds: np.ndarray  # index into KINDS

    def __len__(self) -> int:
        return len(self.starts)

    def payload(self, i: int) -> np.ndarray:
        s = int(self.starts[i])
        return self.buf[s: s + int(self.lengths[i])]


def random_words(rng, encoding: str, n: int, side: int = 2048) -> np.ndarray:
    """``n`` random words of ``encoding``'s types, as bytes (``n`` x word bytes)."""
    if encoding in _CODES:
        codes, odds = _CODES[encoding]
        code = rng.choice(np.array(codes, np.uint64), n, p=np.array(odds, np.float64) / sum(odds))
        bits = 28 if encoding == "evt2" else 12
        body = rng.integers(0, 1 << bits, n, dtype=np.uint64)
        if encoding == "evt2":  # CD: y bits 0..10, x bits 11..21 mostly inside
            inside = rng.random(n) < 0.8
            xy = rng.integers(0, side, n, dtype=np.uint64) << np.uint64(11) | rng.integers(0, side, n, dtype=np.uint64)
            body = np.where(inside, (body & ~np.uint64(0x3FFFFF)) | xy, body)
            return ((code << np.uint64(28)) | body).astype("<u4").view(np.uint8)
        inside = rng.random(n) < 0.8
        body = np.where(inside, (body & np.uint64(0x800)) | rng.integers(0, side, n, dtype=np.uint64), body)
        return ((code << np.uint64(12)) | body).astype("<u2").view(np.uint8)
    if encoding == "libcaer":
        x = rng.integers(0, side, n, dtype=np.uint32)
        y = rng.integers(0, side, n, dtype=np.uint32)
        data = (x << np.uint32(17)) | (y << np.uint32(2)) | rng.integers(0, 4, n, dtype=np.uint32)
        data = np.where(rng.random(n) < 0.9, data, rng.integers(0, 1 << 32, n, dtype=np.uint32))
        ts = np.cumsum(rng.integers(0, 1 << 12, n)).astype(np.int64) + int(rng.integers(0, 1 << 31))
        ts = np.where(rng.random(n) < 0.02, rng.integers(-(1 << 31), 1 << 31, n), ts)
        rec = np.empty(n, [("data", "<u4"), ("ts", "<i4")])
        rec["data"], rec["ts"] = data, (ts & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
        return rec.view(np.uint8)
    # mono / trigger: bit 63 polarity or edge, bits 48..62 y or id, 32..47 x, 0..31 dt (ns)
    p = rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63)
    y = rng.integers(0, side, n, dtype=np.uint64) << np.uint64(48)
    x = rng.integers(0, side, n, dtype=np.uint64) << np.uint64(32)
    dt = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    w = np.where(rng.random(n) < 0.9, p | y | x | dt, rng.integers(0, 1 << 63, n, dtype=np.uint64) << np.uint64(1))
    return w.astype("<u8").view(np.uint8)


def dense_words(rng, encoding: str, n: int, side: int = 2048) -> np.ndarray:
    """The most events per byte the encoding allows (``n`` words), as bytes, or for evt3 and evt2
    half the time the most time: TIME_HIGH pairs that each roll the time over; else random words."""
    if encoding in ("evt3", "evt2") and rng.random() < 0.5:
        hi, lo = (0x8FFF, 0x8000) if encoding == "evt3" else (0x8FFFFFFF, 0x80000000)
        words = np.tile(np.array([hi, lo], np.uint64), n // 2 + 1)[:n]
        return words.astype("<u2" if encoding == "evt3" else "<u4").view(np.uint8)
    if encoding == "evt3":  # TIME_HIGH, TIME_LOW, ADDR_Y, VECT_BASE_X 0, then full VECT_12s
        head = [0x8000 | int(rng.integers(0, 4096)), 0x6000 | int(rng.integers(0, 4096)),
                int(rng.integers(0, side)), 0x3000 | (int(rng.integers(0, 2)) << 11)]
        return np.array((head + [0x4FFF] * n)[:n], "<u2").view(np.uint8)
    if encoding == "libcaer_cmp":  # ADDR_X, VECT_BASE_Y 0, then full VECT_8s
        head = [0x2000 | int(rng.integers(0, side)), 0x4000]
        return np.array((head + [0x50FF] * n)[:n], "<u2").view(np.uint8)
    return random_words(rng, encoding, n, side)


def make_batch(rng, corpus, n: int) -> Batch:
    """``n`` packets of :data:`KINDS` from ``corpus`` (a :class:`~seal_ros.fuzz.corpus.Corpus`).

    A whole corpus packet longer than :data:`WHOLE_BYTES` is kept (``real``, ``flip``, ``words``)
    with odds ``WHOLE_BYTES / length`` and cut (``truncate``) otherwise, so that long recorded
    packets come up without making every batch megabytes long."""
    enc, wb = corpus.encoding, WORD_BYTES[corpus.encoding]
    kinds = rng.choice(len(KINDS), n, p=WEIGHTS / WEIGHTS.sum())
    src = rng.integers(0, corpus.count, n)
    src_start = corpus.starts[src].copy()
    lengths = corpus.starts[src + 1] - src_start
    whole = np.isin(kinds, (REAL, FLIP, WORDS))
    kinds[whole & (rng.random(n) * lengths > WHOLE_BYTES)] = TRUNCATE
    total = len(corpus.payload)
    m = kinds == TRUNCATE
    lengths[m] = (rng.random(m.sum()) * (np.minimum(lengths[m], WHOLE_BYTES) + 1)).astype(np.int64)
    m = kinds == SLICE
    src_start[m] = rng.integers(0, max(total, 1), m.sum())
    lengths[m] = np.minimum(rng.integers(0, WHOLE_BYTES + 1, m.sum()), total - src_start[m])
    m = kinds == RANDOM
    lengths[m] = rng.integers(0, 601, m.sum())
    for k, most in ((GRAMMAR, 512), (AMPLIFY, 4096)):
        m = kinds == k
        lengths[m] = rng.integers(0, most + 1, m.sum()) * wb
    lengths[kinds == EMPTY] = 0
    starts = np.concatenate(([0], np.cumsum((lengths + 7) // 8 * 8)))
    buf = np.zeros(int(starts[-1]), np.uint8)
    starts = starts[:-1]
    side = max(corpus.width, corpus.height) + 4
    noise = rng.integers(0, 256, int(lengths[kinds == RANDOM].sum()), dtype=np.uint8)
    words = random_words(rng, enc, int(lengths[kinds == GRAMMAR].sum()) // wb, side)
    used_noise = used_words = 0
    for i in np.flatnonzero(lengths > 0).tolist():
        s, k, ln = int(starts[i]), kinds[i], int(lengths[i])
        if _FROM_CORPUS[k]:
            a = int(src_start[i])
            buf[s: s + ln] = corpus.payload[a: a + ln]
        elif k == RANDOM:
            buf[s: s + ln] = noise[used_noise: used_noise + ln]
            used_noise += ln
        elif k == GRAMMAR:
            buf[s: s + ln] = words[used_words: used_words + ln]
            used_words += ln
        else:
            buf[s: s + ln] = dense_words(rng, enc, ln // wb, side)
    _flip_bits(rng, buf, starts, lengths, kinds == FLIP)
    _overwrite_words(rng, enc, wb, buf, starts, lengths, kinds == WORDS, side)
    tbs = corpus.time_bases[src].copy()
    wild = ~_FROM_CORPUS[kinds] | (rng.random(n) < 0.2)
    choice = rng.integers(0, 4, n)
    tbs[wild] = np.select([choice == 0, choice == 1, choice == 2],
                          [rng.integers(0, MAX_TIME_BASE, n), 0, MAX_TIME_BASE - 1], tbs)[wild]
    return Batch(buf, starts, lengths, tbs, kinds)


def _flip_bits(rng, buf, starts, lengths, mask) -> None:
    idx = np.flatnonzero(mask & (lengths > 0))
    count = rng.integers(1, 9, len(idx))
    pk = np.repeat(idx, count)
    pos = starts[pk] + (rng.random(len(pk)) * lengths[pk]).astype(np.int64)
    np.bitwise_xor.at(buf, pos, (1 << rng.integers(0, 8, len(pk))).astype(np.uint8))


def _overwrite_words(rng, enc, wb, buf, starts, lengths, mask, side) -> None:
    idx = np.flatnonzero(mask & (lengths >= wb))
    count = rng.integers(1, 7, len(idx))
    pk = np.repeat(idx, count)
    word = (rng.random(len(pk)) * (lengths[pk] // wb)).astype(np.int64)
    pos = starts[pk] + word * wb
    new = random_words(rng, enc, len(pk), side).reshape(len(pk), wb)
    buf[pos[:, None] + np.arange(wb)] = new
