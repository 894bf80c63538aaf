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

Rollovers stop being counted once 2^52 us have rolled over (142 years, which
only a forged stream reaches), so ``t`` never overflows int64.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import C_NOTIME, C_OFF, C_ON, C_RANGE, C_RISING, C_ROLLOVER, C_TRIG, C_UNKNOWN, MAX_ROLLED_US, Decoder

S_VALID, S_HIGH = range(2)
# Prophesee's decoder: the largest TIME_HIGH time, and how close to a whole loop a
# step back must come to count as a rollover.
MAX_TIME_HIGH_US = ((1 << 28) - 1) << 6
LOOP_THRESHOLD_US = 10_000
TIME_LOOP_US = 1 << 34
_u = np.uint64
_U32 = np.dtype("<u4")


@njit(cache=True, nogil=True, boundscheck=False)
def evt2_kernel(words, start, time_base, width, height, state, counts, xs, ys, ps, ts, tt, te, ti):
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
    counts[C_ON] += on
    counts[C_OFF] += ne - on
    counts[C_RANGE] += n_range
    counts[C_NOTIME] += n_notime
    counts[C_UNKNOWN] += n_unknown
    counts[C_TRIG] += nt
    counts[C_RISING] += rising
    counts[C_ROLLOVER] += n_roll
    return i, ne, nt


class Evt2Decoder(Decoder):
    encoding = "evt2"
    word_bytes = 4
    _word_dtype = _U32
    max_events_per_word = 1

    def reset(self) -> None:
        self._state = np.zeros(2, np.int64)

    @property
    def has_valid_time(self) -> bool:
        return bool(self._state[S_VALID])

    def _decode_words(self, words, time_base):
        return self._run_chunks(evt2_kernel, words, time_base, self._state)
