"""Reusable output memory for the decoders: packets decode into views, not fresh arrays.

A :class:`Slab` is one ``uint8`` arena holding the outputs of many packets
(``x``, ``y``, ``p``, ``t`` of change-detection events; ``t``, ``edge``,
``id`` of triggers) plus the scratch of the evt3 kernel. The kernels write
each packet behind the previous one and the decoder hands out views of what
was written: no allocation, no copy per packet, and the events of
consecutive packets lie next to each other in memory.

Views keep their slab alive (numpy's ``base``), so nothing handed out is ever
overwritten: a slab is written again from its start only when no view of it
is left (its reference count is back to what the slab itself holds). A
decoder keeps a few slabs (:class:`SlabPool`) and allocates another when all
of them are still in use, so memory follows what consumers hold, plus one
slab.

Each kernel has an entry ``<kernel>_arena(buf, time_base, state, arena)`` built
from :func:`open_arena` and :func:`close_arena` (four arguments: numba's dispatch
cost grows with every array argument, and this runs once a message).

Arena layout (``H`` = 64-byte header of int64 ``[cap, tcap, pos, tpos]``)::

    H | t: 8 cap | tt: 8 tcap | x: 2 cap | y: 2 cap | p: cap | te: tcap | ti: tcap | steps: cap + 16
"""
from __future__ import annotations

import sys

import numpy as np
from numba import njit

HEADER = 64
# Events and triggers of the default slab (about 1 MB); streams of larger packets get larger slabs, up
# to SLAB_MAX_EVENTS; a packet needing more than a quarter of that decodes into arrays of its own.
SLAB_EVENTS = 1 << 16
SLAB_MAX_EVENTS = 1 << 17
SLAB_TRIGGERS = 1 << 12
# Trigger room a slab must have left for the next packet (more triggers continue in chunks).
SLAB_MIN_TRIGGERS = 256
# Slabs a decoder keeps for reuse (more are allocated while consumers hold views of these).
POOL_SIZE = 4

# Slots of a kernel decoder's int64 state array: 0..6 the encoding's stream state, then the
# kernel for the next packet, the counters (base.COUNTER_NAMES order), the sensor size, the
# packet/byte/event totals and the sizing of the first output (what the slab entry checks).
S_MODE = 7
S_COUNTS = 8
S_WIDTH, S_HEIGHT = 16, 17
S_PACKETS, S_BYTES, S_EVENTS = 18, 19, 20
S_RATIO, S_SLACK, S_PER, S_CAP = 21, 22, 23, 24  # events a word x 256 the first output is sized for
S_LEN = 25
RATIO_ONE = 256
# What a slab entry returns instead of the words left when it did not decode the packet.
NO_ROOM, TOO_BIG, OVER_CAP = -1, -2, -3


@njit(cache=True, nogil=True, inline="always")
def layout(cap, tcap):
    """Byte offsets of t, tt, x, y, p, te, ti, steps and the arena size."""
    t = HEADER
    tt = t + 8 * cap
    x = tt + 8 * tcap
    y = x + 2 * cap
    p = y + 2 * cap
    te = p + cap
    ti = te + tcap
    steps = ti + tcap
    return t, tt, x, y, p, te, ti, steps, steps + cap + 16


@njit(cache=True, nogil=True, boundscheck=False)
def t_summary(t, pos, n):
    """(min, max, 1 when non-decreasing else 0) of ``t[pos:pos + n]`` ((0, 0, 1) when empty)."""
    if n == 0:
        return 0, 0, 1
    lo = hi = t[pos]
    back = 0
    for i in range(pos + 1, pos + n):
        v = t[i]
        lo = min(lo, v)
        hi = max(hi, v)
        back += v < t[i - 1]
    return lo, hi, np.int64(back == 0)


@njit(cache=True, nogil=True, inline="always")
def arena_views(arena):
    """(cap, tcap, pos, tpos) and the typed views of an arena, inside numba."""
    hdr = arena[0:HEADER].view(np.int64)
    cap = hdr[0]
    t, tt, x, y, p, te, ti, st, _ = layout(cap, hdr[1])
    return (hdr, arena[x:y].view(np.uint16), arena[y:p].view(np.uint16), arena[p:te], arena[t:tt].view(np.int64),
            arena[tt:x].view(np.int64), arena[te:ti], arena[ti:st], arena[st:st + cap + 16])


class Slab:
    """One arena and its Python-side views."""

    __slots__ = ("arena", "hdr", "x", "y", "p", "t", "tt", "te", "ti", "cap", "tcap", "_base_refs")

    def __init__(self, cap: int = SLAB_EVENTS, tcap: int = SLAB_TRIGGERS):
        t, tt, x, y, p, te, ti, steps, size = layout(cap, tcap)
        a = np.empty(size, np.uint8)
        self.arena = a
        self.hdr = a[:HEADER].view(np.int64)
        self.t, self.tt = a[t:tt].view(np.int64), a[tt:x].view(np.int64)
        self.x, self.y = a[x:y].view(np.uint16), a[y:p].view(np.uint16)
        self.p, self.te, self.ti = a[p:te], a[te:ti], a[ti:steps]
        self.cap, self.tcap = cap, tcap
        self.hdr[:] = 0
        self.hdr[0], self.hdr[1] = cap, tcap
        del a
        # numpy points every view at the array owning the memory: then the arena's reference count
        # tells whether a view is alive. Where it did not, the slab would never be reused.
        views_count = all(v[:0].base is self.arena for v in (self.t, self.tt, self.x, self.y, self.p, self.te, self.ti))
        self._base_refs = sys.getrefcount(self.arena) if views_count else 1 << 62

    @property
    def pos(self) -> int:
        """Events written (the next packet's first event goes there)."""
        return int(self.hdr[2])

    @property
    def tpos(self) -> int:
        return int(self.hdr[3])

    def in_use(self) -> bool:
        """True while a view or span handed out (or anything else) still references the arena."""
        return sys.getrefcount(self.arena) > self._base_refs or self._base_refs == 1 << 62

    def rewind(self) -> None:
        self.hdr[2] = self.hdr[3] = 0


class SlabPool:
    """The slabs of one decoder: the current one, and spares to rewind once their views are gone."""

    __slots__ = ("current", "_spares")

    def __init__(self):
        self.current = Slab()
        self._spares: list = []

    def next(self, need: int) -> Slab:
        """A slab with nothing in use and room for a packet needing ``need`` events (at most a
        quarter of it): a rewound spare or a new one, which becomes current."""
        old = self.current
        for i, s in enumerate(self._spares):
            if 4 * need <= s.cap and not s.in_use():
                del self._spares[i]
                s.rewind()
                break
        else:
            cap = SLAB_EVENTS
            while cap < 4 * need:
                cap *= 2
            s = Slab(cap)
        if len(self._spares) < POOL_SIZE - 1:
            self._spares.append(old)
        self.current = s
        return s


@njit(cache=True, nogil=True, inline="always")
def first_output(n, state):
    """Event room the first kernel call needs for ``n`` words (bounded by the most events a word)."""
    per = state[S_PER]
    r = state[S_RATIO]
    if r == RATIO_ONE:
        return n + state[S_SLACK]
    return min((n * r >> 8) + 1, per * n) + state[S_SLACK]


@njit(cache=True, nogil=True, inline="always")
def open_arena(arena, state, n):
    """(status, header, pos, tpos, xs, ys, ps, ts, tt, te, ti, steps): kernel outputs that start
    behind what the arena holds; status 0, or why the packet cannot go there (NO_ROOM, ...)."""
    hdr, x, y, p, t, tt, te, ti, steps = arena_views(arena)
    pos = hdr[2]
    tpos = hdr[3]
    status = 0
    if n * state[S_PER] > state[S_CAP]:
        status = OVER_CAP
    else:
        need = first_output(n, state)
        if 4 * need > hdr[0]:
            status = TOO_BIG
        elif need > hdr[0] - pos or hdr[1] - tpos < SLAB_MIN_TRIGGERS:
            status = NO_ROOM
    return status, hdr, pos, tpos, x[pos:], y[pos:], p[pos:], t[pos:], tt[tpos:], te[tpos:], ti[tpos:], steps


@njit(cache=True, nogil=True, inline="always")
def close_arena(hdr, pos, tpos, ts, state, nbytes, n, res):
    """Advance the header and the totals past a kernel's ``res = (stop, ne, nt)``; the entry's
    result: (words left, pos, ne, tpos, nt, (tmin, tmax, in order), kernel for the next packet)."""
    stop, ne, nt = res
    hdr[2] = pos + ne
    hdr[3] = tpos + nt
    state[S_PACKETS] += 1
    state[S_BYTES] += nbytes
    state[S_EVENTS] += ne
    tmin, tmax, ordered = t_summary(ts, 0, ne)
    return n - stop, pos, ne, tpos, nt, (tmin, tmax, ordered == 1), state[S_MODE]


@njit(cache=True, nogil=True, inline="always")
def refused(status, state):
    """The entry's result when it did not decode the packet."""
    return status, 0, 0, 0, 0, (0, 0, False), state[S_MODE]
