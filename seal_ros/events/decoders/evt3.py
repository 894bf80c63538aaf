"""EVT 3.0 (Prophesee, ``metavision_driver``): 16-bit little-endian words.

Word type in bits 15..12:

====  ============  ===================================================
type  name          payload
====  ============  ===================================================
0     ADDR_Y        y = bits 0..10 (bit 11: system type, ignored)
2     ADDR_X        x = bits 0..10, polarity bit 11; emits one event
3     VECT_BASE_X   base x = bits 0..10, polarity bit 11
4     VECT_12       12-bit mask: bit i gives x = base + i; then base += 12
5     VECT_8        8-bit mask: bit i gives x = base + i; then base += 8
6     TIME_LOW      t bits 0..11
8     TIME_HIGH     t bits 12..23 (the low bits are kept)
10    EXT_TRIGGER   edge bit 0, id bits 8..11
7,14,15             continuation/other words: no events
else                unknown (e.g. 9, padding): skipped and counted
====  ============  ===================================================

Time in us = rollovers << 24 | high << 12 | low; a rollover is counted when a
TIME_HIGH is lower than the previous one by more than 10 (smaller steps back
are sensor bit errors). ``t_ns = time_base + t_us * 1000``. Until the stream
has seen a TIME_HIGH followed by a TIME_LOW, only time words are used (like
the reference decoder of ``event_camera_codecs``) and events are dropped and
counted as ``dropped_invalid_time``. Events outside the sensor are dropped and
counted as ``dropped_out_of_range``. The validity flag, time, row, vector base
and polarity carry over from packet to packet.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import _U16, C_NOTIME, C_OFF, C_ON, C_RANGE, C_RISING, C_ROLLOVER, C_TRIG, C_UNKNOWN, Decoder, cttz

# state slots
S_VALID, S_HAVE_HIGH, S_HIGH, S_LOW, S_Y, S_BASE_X, S_POL = range(7)
# A TIME_HIGH this much lower than the previous one is a bit error, not a rollover.
ROLLOVER_MIN_STEP = 10


@njit(cache=True, nogil=True, boundscheck=False)
def evt3_kernel(words, start, time_base, width, height, state, counts, xs, ys, ps, ts, tt, te, ti):
    n = words.shape[0]
    cap = xs.shape[0]
    tcap = tt.shape[0]
    valid = state[S_VALID]
    have_high = state[S_HAVE_HIGH]
    high = state[S_HIGH]
    low = state[S_LOW]
    ey = state[S_Y]
    bx = state[S_BASE_X]
    pol = state[S_POL]
    ne = nt = on = n_range = n_notime = n_unknown = nroll = 0
    i = start
    while valid == 0 and i < n:
        w = np.int64(words[i])
        code = w >> 12
        if code == 8:
            th = w & 0xFFF
            last = (high >> 12) & 0xFFF
            if th < last and last - th > ROLLOVER_MIN_STEP:
                high += 1 << 24
                nroll += 1
            high = (high & ~np.int64(0xFFFFFF)) | (th << 12)
            have_high = 1
        elif code == 6:
            low = w & 0xFFF
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
    tcur = time_base + (high | low) * 1000
    yok = ey < height
    stop = n
    # invariant: ne + (n - j) <= len(xs), so a single event always has room
    j = i - 1
    while j < n - 1:
        j += 1
        w = np.int64(words[j])
        code = w >> 12
        if code == 2:
            x = w & 0x7FF
            if x < width and yok:
                p = (w >> 11) & 1
                xs[ne] = x
                ys[ne] = ey
                ps[ne] = p
                ts[ne] = tcur
                ne += 1
                on += p
            else:
                n_range += 1
        elif code == 0:
            ey = w & 0x7FF
            yok = ey < height
            if j + 1 < n and (np.int64(words[j + 1]) >> 12) == 2:  # ADDR_Y ADDR_X
                j += 1
                w = np.int64(words[j])
                x = w & 0x7FF
                if x < width and yok:
                    p = (w >> 11) & 1
                    xs[ne] = x
                    ys[ne] = ey
                    ps[ne] = p
                    ts[ne] = tcur
                    ne += 1
                    on += p
                else:
                    n_range += 1
        elif code == 6:
            low = w & 0xFFF
            tcur = time_base + (high | low) * 1000
            # fast path for the commonest run, TIME_LOW ADDR_Y ADDR_X (fewer dispatches)
            if j + 2 < n:
                w2 = np.int64(words[j + 1])
                w3 = np.int64(words[j + 2])
                if (w2 >> 12) == 0 and (w3 >> 12) == 2:
                    j += 2
                    ey = w2 & 0x7FF
                    yok = ey < height
                    x = w3 & 0x7FF
                    if x < width and yok:
                        p = (w3 >> 11) & 1
                        xs[ne] = x
                        ys[ne] = ey
                        ps[ne] = p
                        ts[ne] = tcur
                        ne += 1
                        on += p
                    else:
                        n_range += 1
        elif code == 8:
            th = w & 0xFFF
            last = (high >> 12) & 0xFFF
            if th < last and last - th > ROLLOVER_MIN_STEP:
                high += 1 << 24
                nroll += 1
            high = (high & ~np.int64(0xFFFFFF)) | (th << 12)
            tcur = time_base + (high | low) * 1000
        elif code == 3:
            bx = w & 0x7FF
            pol = (w >> 11) & 1
        elif code == 4 or code == 5:
            if ne + 12 + (n - j) > cap:  # keeps room for every word left
                stop = j
                break
            m = w & (0xFFF if code == 4 else 0xFF)
            nb = 12 if code == 4 else 8
            if yok:
                # one pass per set bit (count-trailing-zeros), range check branch-free
                ne0 = ne
                while m:
                    x = bx + cttz(m)
                    m &= m - 1
                    xs[ne] = x
                    ys[ne] = ey
                    ps[ne] = pol
                    ts[ne] = tcur
                    ok = np.int64(x < width)
                    ne += ok
                    n_range += 1 - ok
                on += pol * (ne - ne0)
            else:
                while m:
                    m &= m - 1
                    n_range += 1
            bx = (bx + nb) & 0xFFFF
        elif code == 10:
            if nt >= tcap:
                stop = j
                break
            e = w & 1
            tt[nt] = tcur
            te[nt] = e
            ti[nt] = (w >> 8) & 0xF
            counts[C_RISING] += e
            nt += 1
        elif code == 7 or code == 14 or code == 15:
            pass
        else:
            n_unknown += 1
    state[S_VALID] = valid
    state[S_HAVE_HIGH] = have_high
    state[S_HIGH] = high
    state[S_LOW] = low
    state[S_Y] = ey
    state[S_BASE_X] = bx
    state[S_POL] = pol
    counts[C_ON] += on
    counts[C_OFF] += ne - on
    counts[C_RANGE] += n_range
    counts[C_NOTIME] += n_notime
    counts[C_UNKNOWN] += n_unknown
    counts[C_TRIG] += nt
    counts[C_ROLLOVER] += nroll
    return stop, ne, nt


class Evt3Decoder(Decoder):
    encoding = "evt3"
    word_bytes = 2
    _word_dtype = _U16
    max_events_per_word = 12

    def reset(self) -> None:
        self._state = np.zeros(8, np.int64)

    @property
    def has_valid_time(self) -> bool:
        return bool(self._state[S_VALID])

    def _decode_words(self, words, time_base):
        return self._run_chunks(evt3_kernel, words, time_base, self._state)
