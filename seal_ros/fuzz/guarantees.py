"""What each decoder guarantees for ANY payload, and the checks of a decoded batch of packets.

Every encoding, every packet, whatever its bytes (``tb`` = the packet's ``time_base``):

* no exception; ``x``/``y`` uint16 inside the decoder's sensor, ``p`` uint8 in {0, 1}, ``t`` int64;
* at most ``max_events_per_word`` events a whole word (evt3 12, libcaer_cmp 8, every other 1) and at
  most one trigger a word, and never more than ``max_events`` (``max_packet_events``) events;
* ``tb <= t < tb + span``: no event before its packet's time base, no int64 overflow; ``span`` is
  what the encoding's time fields can reach (below);
* time order inside a packet, as far as the words decide it (below);
* the counters add up: ``events = on + off`` = the events returned, ``triggers`` likewise.

==============  ============================================  ===========================================
encoding        time order inside one packet                   span above ``time_base``
==============  ============================================  ===========================================
``evt3``        goes back only at a TIME_LOW / TIME_HIGH word  (rollovers + 1) x 2^24 us
``evt2``        goes back by more than 63 us only at a         (rollovers + 1) x 2^34 us
                TIME_HIGH word (each event adds its own 6
                low bits)
``libcaer_cmp`` goes back only at a TIME_HIGH / TIME_LOW word  2^24 us (dt restarts in every packet)
``libcaer``     never goes back (a smaller ``ts`` is           words x 2^31 us
                libcaer's overflow: + 2^31 us)
``mono``        none: each word carries its own offset         2^32 ns
``trigger``     none: each word carries its own offset         2^32 ns
==============  ============================================  ===========================================

``rollovers`` is the decoder's counter after the packet (a stream's rollovers add up across packets).
Decoded from their start, the recordings themselves (the bag packets as recorded, the encoders'
streams) are in time order in every encoding: :func:`stream_order_problem` checks that.
"""
from __future__ import annotations

import numpy as np

# encoding -> (word dtype, codes of the words at which time may go back, shift of the word code,
#              smallest decrease (ns) that needs such a word)
_TIME_WORDS = {
    "evt3": ("<u2", (6, 8), 12, 1),
    "libcaer_cmp": ("<u2", (0, 1), 12, 1),
    "evt2": ("<u4", (8,), 28, 64_000),
}
US = 1000


def time_span_ns(encoding: str, rollovers: int, words: np.ndarray) -> np.ndarray:
    """Per packet (``words``: whole words in each), the most ``t - time_base`` can reach, exclusive."""
    words = np.asarray(words, np.int64)
    if encoding == "evt3":
        return np.full(len(words), ((rollovers + 1) << 24) * US, np.int64)
    if encoding == "evt2":
        return np.full(len(words), ((rollovers + 1) << 34) * US, np.int64)
    if encoding == "libcaer_cmp":
        return np.full(len(words), (1 << 24) * US, np.int64)
    if encoding == "libcaer":
        return np.maximum(words, 1) * ((1 << 31) * US)
    return np.full(len(words), 1 << 32, np.int64)  # mono, trigger: a 32-bit ns offset


def time_word_counts(encoding: str, buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    """Per packet, how many words at which time may go back (None: the encoding has no such words).

    ``buf`` holds the packets back to back at ``starts`` (multiples of 8), ``lengths`` bytes each."""
    spec = _TIME_WORDS.get(encoding)
    if spec is None:
        return None
    dtype, codes, shift, _ = spec
    wb = np.dtype(dtype).itemsize
    usable = len(buf) // wb * wb
    code = buf[:usable].view(dtype) >> shift
    hit = code == codes[0]
    for c in codes[1:]:
        hit |= code == c
    cs = np.concatenate(([0], np.cumsum(hit, dtype=np.int64)))
    first = starts // wb
    return cs[first + lengths // wb] - cs[first]


def order_problems(encoding: str, t: np.ndarray, pid: np.ndarray, n_packets: int, time_words) -> np.ndarray:
    """Indices of packets whose times go back more often than their words allow (see the table)."""
    if len(t) < 2 or encoding in ("mono", "trigger"):
        return np.empty(0, np.int64)
    d = np.diff(t)
    same = pid[1:] == pid[:-1]
    if encoding == "libcaer":
        return np.unique(pid[1:][same & (d < 0)])
    step = _TIME_WORDS[encoding][3]
    back = np.bincount(pid[1:][same & (d <= -step)], minlength=n_packets)
    return np.flatnonzero(back > time_words)


def stream_order_problem(t: np.ndarray):
    """Index of the first event of a stream earlier than the one before it, or None."""
    if len(t) < 2:
        return None
    bad = np.flatnonzero(np.diff(t) < 0)
    return int(bad[0]) + 1 if len(bad) else None


def check_batch(encoding, dec, b, out, cap, rollovers) -> list:
    """Problems of one decoded batch, as (packet index, text), in packet order.

    ``b``: the :class:`~seal_ros.fuzz.mutate.Batch`; ``out``: per packet ``(events, triggers)``."""
    n = len(out)
    wb, per = dec.word_bytes, dec.max_events_per_word
    words = b.lengths // wb
    n_ev = np.fromiter((len(o[0]) for o in out), np.int64, n)
    n_tr = np.fromiter((len(o[1]) for o in out), np.int64, n)
    problems = []

    def flag(idx, text):
        for i in np.unique(np.asarray(idx, np.int64))[:3]:
            problems.append((int(i), text))

    limit = per * words if cap is None else np.minimum(per * words, cap)
    flag(np.flatnonzero(n_ev > limit), "more events than the packet can encode (or than max_events)")
    flag(np.flatnonzero(n_tr > words), "more triggers than words")
    span = time_span_ns(encoding, rollovers, words)
    tw = time_word_counts(encoding, b.buf, b.starts, b.lengths)
    for kind, count in (("events", n_ev), ("triggers", n_tr)):
        if not count.sum():
            continue
        pid = np.repeat(np.arange(n), count)
        parts = [o[0] if kind == "events" else o[1] for o in out]
        t = np.concatenate([a.t for a in parts])
        if t.dtype != np.int64:
            flag([0], f"{kind}: t is {t.dtype}, not int64")
        rel = t - b.time_bases[pid]
        flag(pid[(t < b.time_bases[pid]) | (rel >= span[pid])], f"{kind}: time outside [time_base, time_base + span)")
        flag(order_problems(encoding, t, pid, n, tw), f"{kind}: time goes back where no word allows it")
        if kind == "events":
            ev = parts
            x = np.concatenate([a.x for a in ev])
            y = np.concatenate([a.y for a in ev])
            p = np.concatenate([a.p for a in ev])
            if (x.dtype, y.dtype, p.dtype) != (np.uint16, np.uint16, np.uint8):
                flag([0], f"events: dtypes {x.dtype}, {y.dtype}, {p.dtype}")
            flag(pid[(x >= dec.width) | (y >= dec.height) | (p > 1)], "events: outside the sensor or polarity > 1")
    return sorted(problems)
