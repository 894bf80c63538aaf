"""``libcaer_cmp`` (iniVation, ``libcaer_driver`` default): 16-bit little-endian words.

Word type in bits 15..12:

====  ============  ===================================================
type  name          payload
====  ============  ===================================================
0     TIME_HIGH     dt bits 12..23 (low bits kept)
1     TIME_LOW      dt bits 0..11
2     ADDR_X        x = bits 0..10
3     ADDR_Y        y = bits 0..10, polarity bit 11; emits one event
4     VECT_BASE_Y   base y = bits 0..10, polarity bit 11
5     VECT_8        8-bit mask: bit i gives y = base + i; then base += 8
else                unknown: skipped and counted
====  ============  ===================================================

``dt`` (us) restarts at 0 in every packet; ``t_ns = time_base + dt * 1000``.
The column, vector base and polarity carry over from packet to packet.
Events outside the sensor are dropped and counted.

Two exact kernels, chosen per packet like evt3's (:mod:`.evt3_kernels`): a group
kernel for ``[TIME_LOW] ADDR_X ADDR_Y`` runs (what DAVIS cameras send: the
shared recording is 99.9 % such groups, in an irregular mix of the two shapes)
and the word-by-word kernel for everything else.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import _U16
from .kernel import S_HEIGHT, S_WIDTH, KernelDecoder, cttz, end_packet, finish_groups
from .slab import close_arena, open_arena, refused

S_X, S_BASE_Y, S_POL, S_HIGH, S_LOW = range(5)

# unsigned indices: numba skips the negative-index wraparound (never negative here)
_u = np.uint64


@njit(cache=True, nogil=True, inline="always")
def _store(state, ex, by, pol, high, low):
    state[S_X] = ex
    state[S_BASE_Y] = by
    state[S_POL] = pol
    state[S_HIGH] = high
    state[S_LOW] = low


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def words_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti, steps):
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
    n = words.shape[0]
    cap = xs.shape[0]
    if start == 0:  # dt restarts in every packet
        state[S_HIGH] = 0
        state[S_LOW] = 0
    ex = state[S_X]
    by = state[S_BASE_Y]
    pol = state[S_POL]
    high = state[S_HIGH]
    low = state[S_LOW]
    tcur = time_base + (high | low) * 1000
    ne = on = n_range = n_unknown = hits = 0
    i = start
    while i < n:
        w = np.int64(words[_u(i)])
        code = w >> 12
        if code == 3:
            y = w & 0x7FF
            if ex < width and y < height:
                p = (w >> 11) & 1
                xs[_u(ne)] = ex
                ys[_u(ne)] = y
                ps[_u(ne)] = p
                ts[_u(ne)] = tcur
                on += p
                ne += 1
            else:
                n_range += 1
        elif code == 1:
            low = w & 0xFFF
            tcur = time_base + (high | low) * 1000
        elif code == 0:
            high = (w & 0xFFF) << 12
            tcur = time_base + (high | low) * 1000
        elif code == 2:
            ex = w & 0x7FF
            hits += i + 1 < n and (np.int64(words[_u(i + 1)]) >> 12) == 3
        elif code == 4:
            by = w & 0x7FF
            pol = (w >> 11) & 1
        elif code == 5:
            if ne + 8 + (n - i) > cap:  # keeps room for every word left
                break
            m = w & 0xFF
            if ex < width:
                # one pass per set bit (count-trailing-zeros), range check branch-free
                ne0 = ne
                while m:
                    y = by + cttz(m)
                    m &= m - 1
                    xs[_u(ne)] = ex
                    ys[_u(ne)] = y
                    ps[_u(ne)] = pol
                    ts[_u(ne)] = tcur
                    ok = np.int64(y < height)
                    ne += ok
                    n_range += 1 - ok
                on += pol * (ne - ne0)
            else:
                while m:
                    m &= m - 1
                    n_range += 1
            by = (by + 8) & 0xFFFF
        else:
            n_unknown += 1
        i += 1
    _store(state, ex, by, pol, high, low)
    end_packet(state, i - start, hits, on, ne, n_range, 0, n_unknown, 0, 0)
    return i, ne, 0


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def groups_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti, steps):
    """Like evt3's group kernel (:mod:`.evt3_kernels`): jumps over ``[TIME_LOW] ADDR_X ADDR_Y``
    groups marked by a vectorised pre-pass, branch-free; other words one at a time."""
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
    n = words.shape[0]
    cap = xs.shape[0]
    if start == 0:  # dt restarts in every packet
        state[S_HIGH] = 0
        state[S_LOW] = 0
    for q in range(start, n - 2):
        a = np.int64(words[_u(q)]) >> 12
        b = np.int64(words[_u(q + 1)]) >> 12
        c = np.int64(words[_u(q + 2)]) >> 12
        steps[_u(q)] = np.uint8(2 * ((a == 2) & (b == 3)) + 3 * ((a == 1) & (b == 2) & (c == 3)))
    for q in range(max(start, n - 2), n + 1):
        steps[_u(q)] = 0
    ex = state[S_X]
    by = state[S_BASE_Y]
    pol = state[S_POL]
    high = state[S_HIGH]
    low = state[S_LOW]
    ne = n_range = n_unknown = hits = 0
    i = start
    while i < n:
        if steps[_u(i)] != 0:
            while True:
                s = np.int64(steps[_u(i)])
                w0 = np.int64(words[_u(i)])
                ml = 2 - s  # -1 when the group starts with TIME_LOW
                low = (low & ~ml) | (w0 & 0xFFF & ml)
                k = i + s - 2  # its ADDR_X
                wx = np.int64(words[_u(k)])
                wy = np.int64(words[_u(k + 1)])
                xs[_u(ne)] = wx & 0x7FF
                ys[_u(ne)] = wy & 0x7FF
                ps[_u(ne)] = (wy >> 11) & 1
                ts[_u(ne)] = high | low
                ne += 1
                hits += 1
                i = k + 2
                if steps[_u(i)] == 0:
                    break
            ex = np.int64(words[_u(i - 2)]) & 0x7FF
            continue
        w = np.int64(words[_u(i)])
        code = w >> 12
        if code == 3:
            y = w & 0x7FF
            if ex < width and y < height:
                xs[_u(ne)] = ex
                ys[_u(ne)] = y
                ps[_u(ne)] = (w >> 11) & 1
                ts[_u(ne)] = high | low
                ne += 1
            else:
                n_range += 1
        elif code == 1:
            low = w & 0xFFF
        elif code == 0:
            high = (w & 0xFFF) << 12
        elif code == 2:
            ex = w & 0x7FF
        elif code == 4:
            by = w & 0x7FF
            pol = (w >> 11) & 1
        elif code == 5:
            if ne + 8 + (n - i) > cap:  # keeps room for every word left
                break
            m = w & 0xFF
            if ex < width:
                while m:
                    y = by + cttz(m)
                    m &= m - 1
                    xs[_u(ne)] = ex
                    ys[_u(ne)] = y
                    ps[_u(ne)] = pol
                    ts[_u(ne)] = high | low
                    ok = np.int64(y < height)
                    ne += ok
                    n_range += 1 - ok
            else:
                while m:
                    m &= m - 1
                    n_range += 1
            by = (by + 8) & 0xFFFF
        else:
            n_unknown += 1
        i += 1
    ne, bad, on = finish_groups(xs, ys, ps, ts, tt, ne, 0, width, height, time_base)
    _store(state, ex, by, pol, high, low)
    end_packet(state, i - start, hits, on, ne, n_range + bad, 0, n_unknown, 0, 0)
    return i, ne, 0


@njit(cache=True, nogil=True, boundscheck=False)
def words_arena(buf, time_base, state, arena):
    words = buf.view(np.uint16)
    n = words.shape[0]
    status, hdr, pos, tpos, xs, ys, ps, ts, tt, te, ti, steps = open_arena(arena, state, n)
    if status:
        return refused(status, state)
    res = words_kernel(words, 0, time_base, state, xs, ys, ps, ts, tt, te, ti, steps)
    return close_arena(hdr, pos, tpos, ts, state, buf.shape[0], n, res)


@njit(cache=True, nogil=True, boundscheck=False)
def groups_arena(buf, time_base, state, arena):
    words = buf.view(np.uint16)
    n = words.shape[0]
    status, hdr, pos, tpos, xs, ys, ps, ts, tt, te, ti, steps = open_arena(arena, state, n)
    if status:
        return refused(status, state)
    res = groups_kernel(words, 0, time_base, state, xs, ys, ps, ts, tt, te, ti, steps)
    return close_arena(hdr, pos, tpos, ts, state, buf.shape[0], n, res)


class LibcaerCmpDecoder(KernelDecoder):
    encoding = "libcaer_cmp"
    word_bytes = 2
    _word_dtype = _U16
    max_events_per_word = 8
    slack = 16
    kernels = (groups_kernel, words_kernel)  # by state[S_MODE]
    arenas = (groups_arena, words_arena)
