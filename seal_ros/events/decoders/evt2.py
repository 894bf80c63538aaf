"""EVT 2.0 (Prophesee Gen3 sensors, RAW files): 32-bit little-endian words.

Word type in bits 31..28 (Prophesee's EVT 2.0 format description):

====  =============  ==================================================
type  name           payload
====  =============  ==================================================
0     CD_OFF         y = bits 0..10, x = bits 11..21, t bits 0..5 in 22..27
1     CD_ON          as CD_OFF, polarity 1
8     EVT_TIME_HIGH  t bits 6..33 = bits 0..27
10    EXT_TRIGGER    edge = bit 0, id = bits 8..12, t bits 0..5 in 22..27
14    OTHERS         extensions (monitoring): no events
15    CONTINUED      extra data of the previous word: no events
else                 reserved: skipped and counted as ``unknown_words``
====  =============  ==================================================

Time in us = ``rollovers * 2^34 + high << 6 | low``. A rollover is counted
when a TIME_HIGH goes back by at least ``2^34 - 64 - 10000`` us (the loop
threshold of Prophesee's own decoder); smaller steps back are taken as they
come. ``t_ns = time_base + t_us * 1000``. Until the stream has seen its first
TIME_HIGH, CD and trigger words carry no valid time: they are dropped and
counted as ``dropped_invalid_time`` (Prophesee's decoder starts at the first
TIME_HIGH too). Events outside the sensor are dropped and counted as
``dropped_out_of_range``. The time and the validity carry over from packet to
packet.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import C_RISING, MAX_ROLLED_US
from .kernel import S_COUNTS, S_HEIGHT, S_WIDTH, KernelDecoder, end_packet
from .slab import close_arena, open_arena, refused

S_VALID, S_HIGH = range(2)
# Prophesee's decoder: the largest TIME_HIGH time, and how close to a whole loop a
# step back must come to count as a rollover.
MAX_TIME_HIGH_US = ((1 << 28) - 1) << 6
LOOP_THRESHOLD_US = 10_000
TIME_LOOP_US = 1 << 34
_u = np.uint64
_U32 = np.dtype("<u4")


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def evt2_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti, steps):
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
    n = words.shape[0]
    tcap = tt.shape[0]
    valid = state[S_VALID]
    high = state[S_HIGH]  # us, rollovers included, low 6 bits zero
    ne = nt = on = n_range = n_notime = n_unknown = n_roll = rising = 0
    i = start
    while i < n:
        w = np.int64(words[_u(i)])
        code = w >> 28
        if code <= 1:
            if valid == 0:
                n_notime += 1
            else:
                x = (w >> 11) & 0x7FF
                y = w & 0x7FF
                if x < width and y < height:
                    xs[_u(ne)] = x
                    ys[_u(ne)] = y
                    ps[_u(ne)] = code
                    ts[_u(ne)] = time_base + (high | ((w >> 22) & 0x3F)) * 1000
                    on += code
                    ne += 1
                else:
                    n_range += 1
        elif code == 8:
            th = (w & 0xFFFFFFF) << 6
            last = high & (TIME_LOOP_US - 1)
            if valid != 0 and th < last and last - th >= MAX_TIME_HIGH_US - LOOP_THRESHOLD_US and high < MAX_ROLLED_US:
                high += TIME_LOOP_US
                n_roll += 1
            high = (high - last) + th
            valid = 1
        elif code == 10:
            if valid == 0:
                n_notime += 1
            else:
                if nt >= tcap:
                    break
                e = w & 1
                tt[_u(nt)] = time_base + (high | ((w >> 22) & 0x3F)) * 1000
                te[_u(nt)] = e
                ti[_u(nt)] = (w >> 8) & 0x1F
                rising += e
                nt += 1
        elif code == 14 or code == 15:
            pass
        else:
            n_unknown += 1
        i += 1
    state[S_VALID] = valid
    state[S_HIGH] = high
    state[S_COUNTS + C_RISING] += rising
    end_packet(state, 0, 0, on, ne, n_range, n_notime, n_unknown, nt, n_roll)  # one kernel: no choice to make
    return i, ne, nt


@njit(cache=True, nogil=True, boundscheck=False)
def evt2_arena(buf, time_base, state, arena):
    words = buf.view(np.uint32)
    n = words.shape[0]
    status, hdr, pos, tpos, xs, ys, ps, ts, tt, te, ti, steps = open_arena(arena, state, n)
    if status:
        return refused(status, state)
    res = evt2_kernel(words, 0, time_base, state, xs, ys, ps, ts, tt, te, ti, steps)
    return close_arena(hdr, pos, tpos, ts, state, buf.shape[0], n, res)


class Evt2Decoder(KernelDecoder):
    encoding = "evt2"
    word_bytes = 4
    _word_dtype = _U32
    max_events_per_word = 1
    slack = 2
    kernels = (evt2_kernel,)
    arenas = (evt2_arena,)

    @property
    def has_valid_time(self) -> bool:
        return bool(self._state[S_VALID])
