"""EVT 3.0 encoder (the word stream a Prophesee Gen4/IMX636 sensor sends; see decoders.evt3).

One stream time base: the first packet fixes ``time_base`` to the start of the
2^24 us period holding its first item, so a stream of sensor times (a RAW
file, ``metavision_driver``) keeps ``time_base = 0`` like the driver. Every
packet starts with TIME_HIGH and TIME_LOW (each packet carries its time) and
re-sends ADDR_Y before its first event. A 2^24 us rollover is written as
TIME_HIGH 0xFFF then 0x000 (which the decoder counts), once per period
crossed. Events are written in input order: a run of at least three
consecutive events with the same time, row and polarity and rising columns
within 12 pixels becomes VECT_BASE_X + VECT_12 (or VECT_8 when the remaining
columns fit 8), everything else ADDR_X; so the decoder returns exactly the
input order. An item earlier than the current TIME_HIGH would need the time
to go back: it is dropped and counted. Triggers go before the events of the
same time (id kept modulo 16: four bits on the wire).
"""
from __future__ import annotations

from numba import njit

from .base import StreamTimeEncoder, write_run

PERIOD_BITS = 24


@njit(cache=True, nogil=True)
def _set_time(out, k, st, tr):
    """Words moving the stream time to ``tr`` (us since the base, >= the current time)."""
    nh = tr >> 12
    nl = tr & 0xFFF
    high = st[0]
    if nh != high:
        while (nh >> 12) > (high >> 12):  # cross 2^24 periods: 0xFFF then 0x000, which the decoder counts
            if (high & 0xFFF) != 0xFFF:
                out[k] = 0x8FFF
                k += 1
            out[k] = 0x8000
            k += 1
            high = ((high >> 12) + 1) << 12
        if nh != high:
            out[k] = 0x8000 | (nh & 0xFFF)
            k += 1
            high = nh
        st[0] = high
    if nl != st[1]:
        out[k] = 0x6000 | nl
        k += 1
        st[1] = nl
    return k


@njit(cache=True, nogil=True)
def evt3_encode_kernel(x, y, p, t, tt, te, ti, base_us, st, out):
    """Words for events (t us, non-decreasing) and triggers; ``st`` = [high, low] carried over.

    Returns (words, events written, triggers written)."""
    n = t.shape[0]
    m = tt.shape[0]
    k = 0
    out[k] = 0x8000 | (st[0] & 0xFFF)
    out[k + 1] = 0x6000 | st[1]
    k += 2
    cy = -1
    i = j = 0
    n_ev = n_tr = 0
    while i < n or j < m:
        cur = st[0] << 12  # earlier than this needs a TIME_HIGH going back: not written
        if j < m and (i >= n or tt[j] <= t[i]):
            tr = tt[j] - base_us
            if tr >= cur:
                k = _set_time(out, k, st, tr)
                out[k] = 0xA000 | ((ti[j] & 0xF) << 8) | (te[j] & 1)
                k += 1
                n_tr += 1
            j += 1
            continue
        tr = t[i] - base_us
        if tr < cur:
            i += 1
            continue
        k = _set_time(out, k, st, tr)
        if y[i] != cy:
            cy = y[i]
            out[k] = cy
            k += 1
        pol = p[i]
        r = i + 1
        while r < n and t[r] == t[i] and y[r] == cy and p[r] == pol and x[r] > x[r - 1]:
            r += 1
        k = write_run(x, i, r, pol, out, k, 0x2000, 0x3000, 0x4000, 12, 0x5000, 8)
        n_ev += r - i
        i = r
    return k, n_ev, n_tr


class Evt3Encoder(StreamTimeEncoder):
    encoding = "evt3"
    period_bits = PERIOD_BITS
    low_bits = 12
    kernel = evt3_encode_kernel
