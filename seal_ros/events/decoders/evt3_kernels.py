"""The EVT 3.0 numba kernels (the format and its rules: :mod:`.evt3`).

Two exact kernels with one signature, ``(words, start, time_base, state, xs, ys,
ps, ts, tt, te, ti, steps) -> (stop, n_events, n_triggers)``, and the decoder
picks per packet the one that suits the stream:

* :func:`groups_kernel`, for streams of single events (Prophesee Gen3 sensors,
  the shared recording): a vectorised pre-pass marks, at every word, the length
  of a ``[TIME_HIGH] [TIME_LOW] ADDR_Y ADDR_X`` group starting there (``steps``);
  the main loop then jumps from group to group with branch-free updates of the
  time, row and column, so the irregular mix of group shapes real sensors send
  costs no branch mispredictions. Every other word goes through the word loop.
* :func:`words_kernel`, one word at a time with look-ahead for the common runs:
  faster on vector-heavy or very regular streams (Gen4 sensors, the synthetic
  benchmark stream).

Each kernel counts the single-event groups it met (``hits``) and sets
``state[S_MODE]`` for the next packet: the group kernel pays off when such groups
cover at least a quarter of the words. Both keep the rules of :mod:`.evt3`
(validity, rollovers, counters, room for every word left) and produce the same
events, triggers, state and counters.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import C_RANGE, C_RISING, C_ROLLOVER, MAX_ROLLED_US
from .kernel import S_COUNTS, S_HEIGHT, S_WIDTH, cttz, end_packet, finish_groups
from .slab import close_arena, open_arena, refused

# Stream-state slots of the decoder's state array (base.KernelDecoder: the kernel choice,
# counters and size follow).
S_VALID, S_HAVE_HIGH, S_HIGH, S_LOW, S_Y, S_BASE_X, S_POL = range(7)
# A TIME_HIGH this much lower than the previous one is a bit error, not a rollover.
ROLLOVER_MIN_STEP = 10
# Rollovers stop being counted past MAX_ROLLED_US (142 years: only hostile input gets there), so
# time never overflows int64; MAX_ROLLED_HR is the same bound in the group kernel's 4096-us units.
MAX_ROLLED_HR = MAX_ROLLED_US >> 12
# unsigned indices: numba then skips the negative-index wraparound (they are never negative)
_u = np.uint64


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _until_valid(words, start, state):
    """Until a TIME_HIGH then a TIME_LOW: only time words count; (next word, no-time, unknown, rollovers)."""
    n = words.shape[0]
    valid = state[S_VALID]
    have_high = state[S_HAVE_HIGH]
    high = state[S_HIGH]
    n_notime = n_unknown = nroll = 0
    i = start
    while valid == 0 and i < n:
        w = np.int64(words[_u(i)])
        code = w >> 12
        if code == 8:
            th = w & 0xFFF
            last = (high >> 12) & 0xFFF
            if th < last and last - th > ROLLOVER_MIN_STEP and high < MAX_ROLLED_US:
                high += 1 << 24
                nroll += 1
            high = (high & ~np.int64(0xFFFFFF)) | (th << 12)
            have_high = 1
        elif code == 6:
            state[S_LOW] = w & 0xFFF
            if have_high != 0:
                valid = 1
        elif code == 2 or code == 10:
            n_notime += 1
        elif code == 4 or code == 5:
            m = w & (0xFFF if code == 4 else 0xFF)
            while m:
                m &= m - 1
                n_notime += 1
        elif code == 1 or code == 9 or code == 11 or code == 12 or code == 13:
            n_unknown += 1
        i += 1
    state[S_VALID] = valid
    state[S_HAVE_HIGH] = have_high
    state[S_HIGH] = high
    return i, n_notime, n_unknown, nroll


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def words_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti, steps):
    # Tuned for register pressure (measured): the rare counters and the vector base/polarity
    # live in ``state`` (memory), not in locals, in the main loop.
    i, n_notime, n_unknown, nroll = _until_valid(words, start, state)
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
    n = words.shape[0]
    cap = xs.shape[0]
    tcap = tt.shape[0]
    high = state[S_HIGH]
    low = state[S_LOW]
    ey = state[S_Y]
    ne = nt = on = hits = 0
    tcur = time_base + (high | low) * 1000
    yok = ey < height
    stop = n
    # invariant: ne + (n - j) <= len(xs), so a single event always has room
    j = i - 1
    while j < n - 1:
        j += 1
        w = np.int64(words[_u(j)])
        code = w >> 12
        if code == 2:
            x = w & 0x7FF
            if x < width and yok:
                p = (w >> 11) & 1
                xs[_u(ne)] = x
                ys[_u(ne)] = ey
                ps[_u(ne)] = p
                ts[_u(ne)] = tcur
                ne += 1
                on += p
            else:
                state[S_COUNTS + C_RANGE] += 1
        elif code == 0:
            ey = w & 0x7FF
            yok = ey < height
            if j + 1 < n and (np.int64(words[_u(j + 1)]) >> 12) == 2:  # ADDR_Y ADDR_X
                j += 1
                hits += 1
                w = np.int64(words[_u(j)])
                x = w & 0x7FF
                if x < width and yok:
                    p = (w >> 11) & 1
                    xs[_u(ne)] = x
                    ys[_u(ne)] = ey
                    ps[_u(ne)] = p
                    ts[_u(ne)] = tcur
                    ne += 1
                    on += p
                else:
                    state[S_COUNTS + C_RANGE] += 1
        elif code == 6:
            low = w & 0xFFF
            tcur = time_base + (high | low) * 1000
            # the commonest run, TIME_LOW ADDR_Y ADDR_X, in one step
            if j + 2 < n:
                w2 = np.int64(words[_u(j + 1)])
                w3 = np.int64(words[_u(j + 2)])
                if (w2 >> 12) == 0 and (w3 >> 12) == 2:
                    j += 2
                    hits += 1
                    ey = w2 & 0x7FF
                    yok = ey < height
                    x = w3 & 0x7FF
                    if x < width and yok:
                        p = (w3 >> 11) & 1
                        xs[_u(ne)] = x
                        ys[_u(ne)] = ey
                        ps[_u(ne)] = p
                        ts[_u(ne)] = tcur
                        ne += 1
                        on += p
                    else:
                        state[S_COUNTS + C_RANGE] += 1
        elif code == 8:
            th = w & 0xFFF
            last = (high >> 12) & 0xFFF
            if th < last and last - th > ROLLOVER_MIN_STEP and high < MAX_ROLLED_US:
                high += 1 << 24
                state[S_COUNTS + C_ROLLOVER] += 1
            high = (high & ~np.int64(0xFFFFFF)) | (th << 12)
            tcur = time_base + (high | low) * 1000
        elif code == 3:
            state[S_BASE_X] = w & 0x7FF
            state[S_POL] = (w >> 11) & 1
        elif code == 4 or code == 5:
            if ne + 12 + (n - j) > cap:  # keeps room for every word left
                stop = j
                break
            bx = state[S_BASE_X]
            pol = state[S_POL]
            m = w & (0xFFF if code == 4 else 0xFF)
            nb = 12 if code == 4 else 8
            if yok:
                # one pass per set bit (count-trailing-zeros), range check branch-free
                ne0 = ne
                while m:
                    x = bx + cttz(m)
                    m &= m - 1
                    xs[_u(ne)] = x
                    ys[_u(ne)] = ey
                    ps[_u(ne)] = pol
                    ts[_u(ne)] = tcur
                    ok = np.int64(x < width)
                    ne += ok
                    state[S_COUNTS + C_RANGE] += 1 - ok
                on += pol * (ne - ne0)
            else:
                while m:
                    m &= m - 1
                    state[S_COUNTS + C_RANGE] += 1
            state[S_BASE_X] = (bx + nb) & 0xFFFF
        elif code == 10:
            if nt >= tcap:
                stop = j
                break
            e = w & 1
            tt[_u(nt)] = tcur
            te[_u(nt)] = e
            ti[_u(nt)] = (w >> 8) & 0xF
            state[S_COUNTS + C_RISING] += e
            nt += 1
        elif code == 7 or code == 14 or code == 15:
            pass
        else:
            n_unknown += 1
    state[S_HIGH] = high
    state[S_LOW] = low
    state[S_Y] = ey
    end_packet(state, stop - i, hits, on, ne, 0, n_notime, n_unknown, nt, nroll)
    return stop, ne, nt


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _mark_groups(words, i, steps):
    """steps[q] = length of the group [TIME_HIGH] [TIME_LOW] ADDR_Y ADDR_X at q (2..4), else 0;
    zero from n - 3 to n (vectorised by LLVM)."""
    n = words.shape[0]
    for q in range(i, n - 3):
        a = np.int64(words[_u(q)]) >> 12
        b = np.int64(words[_u(q + 1)]) >> 12
        c = np.int64(words[_u(q + 2)]) >> 12
        d = np.int64(words[_u(q + 3)]) >> 12
        s2 = (a == 0) & (b == 2)
        s3 = ((a == 6) | (a == 8)) & (b == 0) & (c == 2)
        s4 = (a == 8) & (b == 6) & (c == 0) & (d == 2)
        steps[_u(q)] = np.uint8(2 * s2 + 3 * s3 + 4 * s4)
    for q in range(max(i, n - 3), n + 1):
        steps[_u(q)] = 0


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def groups_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti, steps):
    # Time is kept as ``hr`` = rollovers << 12 | TIME_HIGH and ``low``, written to ``ts``
    # in microseconds and converted to ns at the end (fewer live values in the group loop).
    i, n_notime, n_unknown, nroll = _until_valid(words, start, state)
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
    n = words.shape[0]
    cap = xs.shape[0]
    tcap = tt.shape[0]
    low = state[S_LOW]
    ey = state[S_Y]
    _mark_groups(words, i, steps)
    hr = state[S_HIGH] >> 12
    hr0 = hr
    tus = (hr << 12) | low
    yok = ey < height
    ne = nt = hits = n_range = 0
    stop = n
    j = i
    while j < n:
        if steps[_u(j)] != 0:
            while True:  # one group a turn, no branch on its shape; every event written, range checked after
                s = np.int64(steps[_u(j)])
                w0 = np.int64(words[_u(j)])
                w1 = np.int64(words[_u(j + 1)])
                h = np.int64((w0 >> 12) == 8)  # the group starts with TIME_HIGH
                mh = -h
                ml = h + 2 - s  # -1 when it has a TIME_LOW (at j + h)
                k = j + s - 2  # its ADDR_Y
                th = w0 & 0xFFF
                roll = h & np.int64((hr & 0xFFF) - th > ROLLOVER_MIN_STEP) & np.int64(hr < MAX_ROLLED_HR)
                hr = (hr & ~mh) | (((((hr >> 12) + roll) << 12) | th) & mh)
                wl = (w1 & mh) | (w0 & ~mh)
                low = (low & ~ml) | (wl & 0xFFF & ml)
                wy = np.int64(words[_u(k)])
                wx = np.int64(words[_u(k + 1)])
                xs[_u(ne)] = wx & 0x7FF
                ys[_u(ne)] = wy & 0x7FF
                ps[_u(ne)] = (wx >> 11) & 1
                ts[_u(ne)] = (hr << 12) | low
                ne += 1
                hits += 1
                j = k + 2
                if steps[_u(j)] == 0:
                    break
            ey = np.int64(words[_u(j - 2)]) & 0x7FF
            yok = ey < height
            tus = (hr << 12) | low
            continue
        w = np.int64(words[_u(j)])
        code = w >> 12
        if code == 2:
            x = w & 0x7FF
            if x < width and yok:
                xs[_u(ne)] = x
                ys[_u(ne)] = ey
                ps[_u(ne)] = (w >> 11) & 1
                ts[_u(ne)] = tus
                ne += 1
            else:
                n_range += 1
        elif code == 0:
            ey = w & 0x7FF
            yok = ey < height
        elif code == 6:
            low = w & 0xFFF
            tus = (hr << 12) | low
        elif code == 8:
            th = w & 0xFFF
            if (hr & 0xFFF) - th > ROLLOVER_MIN_STEP and hr < MAX_ROLLED_HR:
                hr += 1 << 12
            hr = (hr & ~np.int64(0xFFF)) | th
            tus = (hr << 12) | low
        elif code == 3:
            state[S_BASE_X] = w & 0x7FF
            state[S_POL] = (w >> 11) & 1
        elif code == 4 or code == 5:
            if ne + 12 + (n - j) > cap:  # keeps room for every word left
                stop = j
                break
            bx = state[S_BASE_X]
            pol = state[S_POL]
            m = w & (0xFFF if code == 4 else 0xFF)
            if yok:
                while m:
                    x = bx + cttz(m)
                    m &= m - 1
                    xs[_u(ne)] = x
                    ys[_u(ne)] = ey
                    ps[_u(ne)] = pol
                    ts[_u(ne)] = tus
                    ok = np.int64(x < width)
                    ne += ok
                    n_range += 1 - ok
            else:
                while m:
                    m &= m - 1
                    n_range += 1
            state[S_BASE_X] = (bx + (12 if code == 4 else 8)) & 0xFFFF
        elif code == 10:
            if nt >= tcap:
                stop = j
                break
            e = w & 1
            tt[_u(nt)] = tus
            te[_u(nt)] = e
            ti[_u(nt)] = (w >> 8) & 0xF
            state[S_COUNTS + C_RISING] += e
            nt += 1
        elif code == 7 or code == 14 or code == 15:
            pass
        else:
            n_unknown += 1
        j += 1
    ne, bad, on = finish_groups(xs, ys, ps, ts, tt, ne, nt, width, height, time_base)
    n_range += bad
    state[S_HIGH] = hr << 12
    state[S_LOW] = low
    state[S_Y] = ey
    end_packet(state, stop - i, hits, on, ne, n_range, n_notime, n_unknown, nt, nroll + (hr >> 12) - (hr0 >> 12))
    return stop, ne, nt


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


# The decoder's kernels and slab entries, by state[S_MODE] (0: groups, 1: words).
KERNELS = (groups_kernel, words_kernel)
ARENA_ENTRIES = (groups_arena, words_arena)
