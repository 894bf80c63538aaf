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

Rollovers stop being counted once 2^52 us have rolled over (142 years, which
only a forged stream reaches), so ``t`` never overflows int64.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seal_ros.events.types import EventArray, TriggerArray

from .base import (
    _EMPTY_TRIGGERS, _U16, C_NOTIME, C_OFF, C_ON, C_RANGE, C_RISING, C_ROLLOVER, C_TRIG, C_UNKNOWN,
    MAX_ROLLED_US, Decoder, _alloc, cttz,
)

# Slots of the one int64 array the kernel gets (fewer array arguments: cheaper numba
# dispatch): stream state, then the counters (base.COUNTER_NAMES order), then the size.
S_VALID, S_HAVE_HIGH, S_HIGH, S_LOW, S_Y, S_BASE_X, S_POL = range(7)
S_COUNTS = 8
S_WIDTH, S_HEIGHT = 16, 17
S_LEN = 18
# Packets of at least this many words decode straight into fresh arrays that are then
# shrunk in place; smaller ones into warm scratch arrays copied out (cheaper for them).
DIRECT_MIN_WORDS = 2048
_u = np.uint64
# A TIME_HIGH this much lower than the previous one is a bit error, not a rollover.
ROLLOVER_MIN_STEP = 10


@njit(cache=True, nogil=True, boundscheck=False)
def evt3_kernel(words, start, time_base, state, xs, ys, ps, ts, tt, te, ti):
    # Tuned for register pressure (measured): indices are cast to unsigned (_u), so numba
    # skips the negative-index wraparound on every access (they are never negative here),
    # ~15% faster; in the main loop the rare counters and the vector base/polarity live in
    # ``state`` (memory), not in locals, another ~12% on real (single-event) streams.
    width = state[S_WIDTH]
    height = state[S_HEIGHT]
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
    ne = nt = on = n_notime = n_unknown = nroll = 0
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
    state[S_BASE_X] = bx
    state[S_POL] = pol
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
            # fast path for the commonest run, TIME_LOW ADDR_Y ADDR_X (fewer dispatches)
            if j + 2 < n:
                w2 = np.int64(words[_u(j + 1)])
                w3 = np.int64(words[_u(j + 2)])
                if (w2 >> 12) == 0 and (w3 >> 12) == 2:
                    j += 2
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
                # (a local drop counter here measured 10% slower overall: register pressure)
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
            state[S_COUNTS + C_UNKNOWN] += 1
    state[S_VALID] = valid
    state[S_HAVE_HIGH] = have_high
    state[S_HIGH] = high
    state[S_LOW] = low
    state[S_Y] = ey
    state[S_COUNTS + C_ON] += on
    state[S_COUNTS + C_OFF] += ne - on
    state[S_COUNTS + C_NOTIME] += n_notime
    state[S_COUNTS + C_UNKNOWN] += n_unknown
    state[S_COUNTS + C_TRIG] += nt
    state[S_COUNTS + C_ROLLOVER] += nroll
    return stop, ne, nt


class Evt3Decoder(Decoder):
    encoding = "evt3"
    word_bytes = 2
    _word_dtype = _U16
    max_events_per_word = 12

    def reset(self) -> None:
        st = np.zeros(S_LEN, np.int64)
        st[S_COUNTS:S_COUNTS + 8] = self._counts  # the counters survive a reset
        st[S_WIDTH] = self.width
        st[S_HEIGHT] = self.height
        self._state = st
        self._counts = st[S_COUNTS:S_COUNTS + 8]

    @property
    def has_valid_time(self) -> bool:
        return bool(self._state[S_VALID])

    def decode(self, buf, time_base: int):
        """As :meth:`Decoder.decode`, with the per-packet Python work kept small.

        A packet decodes in one kernel call whenever its events fit the first output
        (``words + 24`` events: always for single events, usually for vectors): into
        the warm scratch arrays, copied out, for small packets; straight into fresh
        arrays shrunk in place (``ndarray.resize``, no copy) for packets of at least
        ``DIRECT_MIN_WORDS`` words. Otherwise :meth:`_more` continues in chunks.
        """
        buf, time_base = self._accept(buf, time_base)
        nbytes = buf.shape[0]
        if nbytes & 1:
            self._truncated += 1
            nbytes -= 1
            buf = buf[:nbytes]
        words = buf.view(_U16)
        n = nbytes >> 1
        st = self._state
        if self.max_events is not None and n * 12 > self.max_events:  # may exceed the event cap
            def call(w, start, out):
                return evt3_kernel(w, start, time_base, st, *out)
            ev, tr = self._decode_capped(call, words)
            self._events += ev.t.shape[0]
            return ev, tr
        sc = self._sc
        cap = sc[0].shape[0]  # the scratch grows to what vector-dense packets needed
        if n < DIRECT_MIN_WORDS:
            if cap < n + 24:
                sc = self._sc = _alloc(n + 24, sc[4].shape[0])
                cap = n + 24
            stop, ne, nt = evt3_kernel(words, 0, time_base, st, *sc)
            ev = EventArray._trusted(sc[0][:ne].copy(), sc[1][:ne].copy(), sc[2][:ne].copy(), sc[3][:ne].copy())
        else:
            cap = max(n + 24, min(cap, 12 * n + 24))
            x, y = np.empty(cap, np.uint16), np.empty(cap, np.uint16)
            p, t = np.empty(cap, np.uint8), np.empty(cap, np.int64)
            stop, ne, nt = evt3_kernel(words, 0, time_base, st, x, y, p, t, sc[4], sc[5], sc[6])
            x.resize(ne, refcheck=False)  # shrinks in place (realloc): no copy
            y.resize(ne, refcheck=False)
            p.resize(ne, refcheck=False)
            t.resize(ne, refcheck=False)
            ev = EventArray._trusted(x, y, p, t)
        tr = TriggerArray(sc[4][:nt].copy(), sc[5][:nt].copy(), sc[6][:nt].copy()) if nt else _EMPTY_TRIGGERS
        if stop < n:
            ev, tr = self._more(words, time_base, stop, ev, tr, ne, nt, cap, sc[4].shape[0])
        self._events += ev.t.shape[0]
        return ev, tr

    def _more(self, words, time_base, stop, ev, tr, ne, nt, cap, tcap):
        """Decode the rest of a packet whose events did not fit the first output.

        Later chunks are sized from the words left (bounded by 12 events a word, never
        by a value in the data); the scratch then grows to what the packet needed, so
        a steady vector-dense stream decodes in one call a packet.
        """
        n = words.shape[0]
        st = self._state
        ev_parts, tr_parts = [ev], [tr]
        while stop < n:
            left = n - stop
            if ne + 12 + left > cap:  # events were full: grow, bounded by the words left
                cap = min(12 * left, 2 * cap) + 24
            if nt >= tcap:
                tcap = min(left, 4 * tcap) + 1
            out = _alloc(cap, tcap)
            stop, ne, nt = evt3_kernel(words, stop, time_base, st, *out)
            ev_parts.append(EventArray._trusted(out[0][:ne], out[1][:ne], out[2][:ne], out[3][:ne]))
            tr_parts.append(TriggerArray(out[4][:nt], out[5][:nt], out[6][:nt]))
        ev, tr = EventArray.concatenate(ev_parts), TriggerArray.concatenate(tr_parts)
        # next time this much fits the scratch (bounded by this packet's size)
        self._sc = _alloc(min(len(ev) + len(ev) // 4, 12 * n) + 24, min(len(tr) + len(tr) // 4, n) + 1)
        return ev, tr
