"""EVT 2.0 encoder (Prophesee Gen3 sensors; see decoders.evt2).

One stream time base, like :mod:`.evt3`: the start of the 2^34 us period
holding the first item (0 for sensor times). Every packet starts with a
TIME_HIGH; a TIME_HIGH is written whenever ``t >> 6`` changes; a 2^34 us
rollover is written as TIME_HIGH 2^28-1 then 0 (which the decoder counts),
once per period crossed. One word per event (CD_OFF / CD_ON), in input order;
triggers go before the events of the same time (id kept modulo 32).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import StreamTimeEncoder

PERIOD_BITS = 34
_MASK28 = (1 << 28) - 1


@njit(cache=True, nogil=True)
def evt2_encode_kernel(x, y, p, t, tt, te, ti, base_us, st, out):
    """Words for events (t us, non-decreasing) and triggers; ``st[0]`` = TIME_HIGH (periods included).

    Returns (words, events written, triggers written)."""
    n = t.shape[0]
    m = tt.shape[0]
    high = st[0]
    k = 0
    out[k] = (8 << 28) | (high & _MASK28)
    k += 1
    i = j = 0
    n_ev = n_tr = 0
    while i < n or j < m:
        trig = j < m and (i >= n or tt[j] <= t[i])
        tr = (tt[j] if trig else t[i]) - base_us
        if tr < (high << 6):
            if trig:
                j += 1
            else:
                i += 1
            continue
        nh = tr >> 6
        if nh != high:
            while (nh >> 28) > (high >> 28):  # cross 2^34 periods: 2^28-1 then 0, which the decoder counts
                if (high & _MASK28) != _MASK28:
                    out[k] = (8 << 28) | _MASK28
                    k += 1
                out[k] = 8 << 28
                k += 1
                high = ((high >> 28) + 1) << 28
            if nh != high:
                out[k] = (8 << 28) | (nh & _MASK28)
                k += 1
                high = nh
        low = tr & 0x3F
        if trig:
            out[k] = (10 << 28) | (low << 22) | ((ti[j] & 0x1F) << 8) | (te[j] & 1)
            j += 1
            n_tr += 1
        else:
            out[k] = (p[i] << 28) | (low << 22) | (x[i] << 11) | y[i]
            i += 1
            n_ev += 1
        k += 1
    st[0] = high
    return k, n_ev, n_tr


class Evt2Encoder(StreamTimeEncoder):
    encoding = "evt2"
    period_bits = PERIOD_BITS
    low_bits = 6  # in the CD / trigger words; the state keeps only TIME_HIGH
    word_dtype = np.uint32
    words_per_item = 2
    kernel = evt2_encode_kernel
