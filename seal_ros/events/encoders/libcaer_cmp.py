"""``libcaer_cmp`` encoder (what ``libcaer_driver`` sends; see decoders.libcaer_cmp).

Per packet: ``time_base`` is the packet's earliest event time (us, as ns) and
every event's ``dt`` (us since it) must fit 24 bits (a packet spans at most
16.7 s). TIME_HIGH / TIME_LOW are written when ``dt``'s bits change (both
start at 0 in every packet; the decoder sets them as they come, so any order
can be written), ADDR_X when the column changes (and before the
first event of every packet). A run of at least three consecutive events with
the same time, column and polarity and rising rows within 8 pixels becomes
VECT_BASE_Y + VECT_8 words, everything else ADDR_Y; events keep their input
order. The encoding has no trigger words.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import Encoder, relative_us, write_run

MAX_DT_US = (1 << 24) - 1


@njit(cache=True, nogil=True)
def libcaer_cmp_encode_kernel(x, y, p, dt, out):
    """Words for one packet (dt: us since its time base, any order). Returns (words, events written)."""
    n = dt.shape[0]
    k = 0
    ch = cl = 0
    cx = -1
    i = 0
    n_ev = 0
    while i < n:
        nh = dt[i] >> 12
        nl = dt[i] & 0xFFF
        if nh != ch:
            out[k] = nh
            k += 1
            ch = nh
        if nl != cl:
            out[k] = 0x1000 | nl
            k += 1
            cl = nl
        if x[i] != cx:
            cx = x[i]
            out[k] = 0x2000 | cx
            k += 1
        pol = p[i]
        r = i + 1
        while r < n and dt[r] == dt[i] and x[r] == cx and p[r] == pol and y[r] > y[r - 1]:
            r += 1
        k = write_run(y, i, r, pol, out, k, 0x3000, 0x4000, 0x5000, 8, 0x5000, 8)
        n_ev += r - i
        i = r
    return k, n_ev


class LibcaerCmpEncoder(Encoder):
    encoding = "libcaer_cmp"
    max_dim = 2048
    max_span_ns = MAX_DT_US * 1000

    def _encode(self, events, triggers):
        if not len(events):
            return np.zeros(0, np.uint8), 0, 0, 0
        dt, tb_us = relative_us(events, MAX_DT_US, self.encoding)
        out = np.empty(4 * len(events), np.uint16)
        k, n_ev = libcaer_cmp_encode_kernel(events.x.astype(np.int64), events.y.astype(np.int64),
                                            events.p.astype(np.int64), dt, out)
        return out[:k].view(np.uint8).copy(), tb_us * 1000, n_ev, 0
