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
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import _U16, Decoder, cttz

S_X, S_BASE_Y, S_POL, S_HIGH, S_LOW = range(5)


# unsigned indices: numba skips the negative-index wraparound (never negative here)
_u = np.uint64


@njit(cache=True, nogil=True, boundscheck=False)
def libcaer_cmp_kernel(words, start, time_base, width, height, state, counts, xs, ys, ps, ts, tt, te, ti):
    n = words.shape[0]
    cap = xs.shape[0]
    ex = state[S_X]
    by = state[S_BASE_Y]
    pol = state[S_POL]
    high = state[S_HIGH]
    low = state[S_LOW]
    tcur = time_base + (high | low) * 1000
    ne = 0
    on = 0
    n_range = 0
    n_unknown = 0
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
    state[S_X] = ex
    state[S_BASE_Y] = by
    state[S_POL] = pol
    state[S_HIGH] = high
    state[S_LOW] = low
    counts[0] += on
    counts[1] += ne - on
    counts[2] += n_range
    counts[4] += n_unknown
    return i, ne, 0


class LibcaerCmpDecoder(Decoder):
    encoding = "libcaer_cmp"
    word_bytes = 2
    _word_dtype = _U16
    max_events_per_word = 8

    def reset(self) -> None:
        self._state = np.zeros(8, np.int64)

    def _decode_words(self, words, time_base):
        self._state[S_HIGH] = 0  # dt restarts in every packet
        self._state[S_LOW] = 0
        return self._run_chunks(libcaer_cmp_kernel, words, time_base, self._state)
