"""What the numba decoders (evt3, evt2, libcaer_cmp) share: :class:`KernelDecoder` and kernel helpers.

Their stream state, counters, sensor size and totals share one ``int64`` array
(slots in :mod:`.slab`: fewer kernel arguments, cheaper dispatch). Packets
decode into a reusable slab (:mod:`.slab`) and the events returned are views
of it: no allocation and no copy per packet, one compiled call a packet.
Allocation is bounded by the packet size, never by a value read from the
data: kernels keep room for every word left and stop early when an output is
full; decoding then continues in new chunks sized from the words left
(:meth:`KernelDecoder._more`). Packets too large for a slab decode into arrays
of their own, shrunk in place.

A packet that could exceed ``max_events`` (words x most events per word >
cap) is decoded in slices written straight into one output of the cap's size,
and decoding stops once the cap is reached; the packet counts in
``capped_packets`` and its undecoded bytes in ``dropped_capped_bytes``.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as _ir
from numba import njit
from numba.core.extending import intrinsic

from seal_ros.events.types import EventArray, TriggerArray

from .base import (
    _EMPTY_TRIGGERS, _U8, C_NOTIME, C_OFF, C_ON, C_RANGE, C_ROLLOVER, C_TRIG, C_UNKNOWN, CAP_SLICE_MIN_WORDS,
    MAX_TIME_BASE, Decoder,
)
from .slab import (  # noqa: F401 (S_*: for the kernel modules)
    RATIO_ONE, S_BYTES, S_CAP, S_COUNTS, S_EVENTS, S_HEIGHT, S_LEN, S_MODE, S_PACKETS, S_PER, S_RATIO, S_SLACK, S_WIDTH,
    SLAB_MAX_EVENTS, SLAB_MIN_TRIGGERS, SlabPool, first_output, t_summary,
)


@intrinsic
def cttz(typingctx, x):
    """Count trailing zeros (LLVM ``cttz``; ``x`` must be non-zero) for numba kernels."""
    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], _ir.Constant(_ir.IntType(1), 1))
    return x(x), codegen




@njit(cache=True, nogil=True, boundscheck=False)
def finish_groups(xs, ys, ps, ts, tt, ne, nt, width, height, time_base):
    """End of a group kernel, which writes every event and times in microseconds: drop the
    events outside the sensor (order kept), convert times to ns on ``time_base``.

    Returns (events kept, events dropped, ON events)."""
    bad = 0
    for q in range(ne):
        bad += np.int64(xs[q] >= width) | np.int64(ys[q] >= height)
    if bad:
        o = 0
        for q in range(ne):
            if xs[q] < width and ys[q] < height:
                xs[o] = xs[q]
                ys[o] = ys[q]
                ps[o] = ps[q]
                ts[o] = ts[q]
                o += 1
        ne = o
    on = 0
    for q in range(ne):
        ts[q] = time_base + ts[q] * 1000
        on += np.int64(ps[q])
    for q in range(nt):
        tt[q] = time_base + tt[q] * 1000
    return ne, bad, on


@njit(cache=True, nogil=True, inline="always")
def end_packet(state, words_done, hits, on, ne, n_range, n_notime, n_unknown, nt, nroll):
    """Kernel epilogue: the counters, and the kernel for the next packet (the group kernel
    while single-event groups, ``hits``, cover at least a quarter of the words)."""
    if words_done > 0:
        state[S_MODE] = 4 * hits < words_done
    state[S_COUNTS + C_ON] += on
    state[S_COUNTS + C_OFF] += ne - on
    state[S_COUNTS + C_RANGE] += n_range
    state[S_COUNTS + C_NOTIME] += n_notime
    state[S_COUNTS + C_UNKNOWN] += n_unknown
    state[S_COUNTS + C_TRIG] += nt
    state[S_COUNTS + C_ROLLOVER] += nroll


class KernelDecoder(Decoder):
    """A decoder whose numba kernels decode into slab views (see the module docstring).

    Subclasses set ``kernels``, a tuple of numba kernels ``(words, start, time_base,
    state, xs, ys, ps, ts, tt, te, ti, steps) -> (stop, n_events, n_triggers)``, of
    which ``state[S_MODE]`` picks the one for the next packet, their slab entries
    ``arenas`` (:mod:`.slab`: one compiled call a packet, which also checks the room,
    the cap and the totals), and ``slack``; their stream state takes slots 0..6 of
    the state array. Kernels keep ``n_events + words left <= len(xs)`` so that
    single events always have room, check before vectors and triggers, and stop
    early (``stop < len(words)``) when they would not fit.
    """

    kernels: tuple = ()
    arenas: tuple = ()
    # Extra event room asked of the first output beyond one event a word (vector slack).
    slack = 0

    def __init__(self, width: int, height: int):
        st = self._state = np.zeros(S_LEN, np.int64)
        st[S_RATIO], st[S_SLACK], st[S_PER] = RATIO_ONE, self.slack, self.max_events_per_word
        self._pool = SlabPool()
        self._steps = np.empty(0, np.uint8)
        self._mode = 0
        super().__init__(width, height)
        st[S_WIDTH], st[S_HEIGHT] = self.width, self.height

    def reset(self) -> None:
        self._state[:S_COUNTS] = 0  # the stream state; counters and totals survive
        self._counts = self._state[S_COUNTS:S_COUNTS + 8]
        self._mode = 0

    # the totals live in the state array, where the slab entries count them
    _packets = property(lambda self: int(self._state[S_PACKETS]),
                        lambda self, v: self._state.__setitem__(S_PACKETS, v))
    _bytes = property(lambda self: int(self._state[S_BYTES]), lambda self, v: self._state.__setitem__(S_BYTES, v))
    _events = property(lambda self: int(self._state[S_EVENTS]), lambda self, v: self._state.__setitem__(S_EVENTS, v))

    @Decoder.max_events.setter
    def max_events(self, cap) -> None:
        Decoder.max_events.fset(self, cap)
        self._state[S_CAP] = self._cap_events

    @property
    def kernel(self):
        """The kernel the next packet goes through."""
        return self.kernels[self._mode]

    def _steps_for(self, n: int) -> np.ndarray:
        if self._steps.shape[0] < n + 16:
            self._steps = np.empty(n + 16 + (n >> 2), np.uint8)
        return self._steps

    def decode(self, buf, time_base: int):
        # what streams send (a contiguous uint8 array of whole words) goes straight to the slab entry
        if (type(buf) is np.ndarray and buf.dtype is _U8 and buf.ndim == 1 and type(time_base) is int
                and 0 <= time_base < MAX_TIME_BASE and not buf.shape[0] % self.word_bytes and buf.flags.c_contiguous):
            return self.decode_checked(buf, time_base)
        buf, time_base = self._normalize(buf, time_base)
        nbytes = buf.shape[0]
        buf = self._words(buf).view(_U8)  # a partial last word is counted in truncated_bytes
        self._bytes += nbytes - buf.shape[0]  # ... and in bytes (the words are counted with the packet)
        return self._decode_refused(buf, time_base)

    def decode_checked(self, buf, time_base: int):
        """:meth:`decode` of a contiguous 1-D uint8 array of whole words and an int time base in
        range, which the caller checked (EventStream): one compiled call, views of the slab."""
        s = self._pool.current
        left, a, ne, ta, nt, ts, self._mode = self.arenas[self._mode](buf, time_base, self._state, s.arena)
        if left == 0:
            self.last_t_summary = ts if ne else None
            return EventArray._of_span(s, a, a + ne), TriggerArray._of_span(s, ta, ta + nt) if nt else _EMPTY_TRIGGERS
        if left > 0:
            return self._slab_result(s, left, a, ne, ta, nt, None, buf, time_base)
        return self._decode_refused(buf, time_base)

    def _slab_result(self, s, left, a, ne, ta, nt, ts, buf, time_base):
        """Views of what a slab entry decoded; ``left`` words of the packet still to decode."""
        ev = EventArray._of_span(s, a, a + ne)
        tr = TriggerArray._of_span(s, ta, ta + nt) if nt else _EMPTY_TRIGGERS
        if left == 0:
            self.last_t_summary = ts if ne else None
            return ev, tr
        words = buf.view(self._word_dtype)
        ev, tr = self._more(words, time_base, words.shape[0] - left, ev, tr, ne, nt, s.cap - a)
        self._events += len(ev) - ne
        self.last_t_summary = None
        return ev, tr

    def _decode_refused(self, buf, time_base):
        """A packet the current slab did not take: the next slab (or a larger one), the capped
        path, or arrays of its own when it is too large for any slab."""
        words = buf.view(self._word_dtype)
        n = words.shape[0]
        st = self._state
        per = self.max_events_per_word
        if n * per > self._cap_events:
            if per > 1:
                self._packets += 1
                self._bytes += buf.shape[0]
                ev, tr = self._decode_capped(words, time_base)
                self._events += len(ev)
                self.last_t_summary = None
                return ev, tr
            cap = self.max_events  # one event a word at most: decode the first ``cap``
            self._count_capped(n - cap)
            self._bytes += buf.shape[0] - cap * self.word_bytes
            words = words[:cap]
            buf = words.view(_U8)
            n = cap
        need = int(first_output(n, st))
        if 4 * need <= SLAB_MAX_EVENTS:
            s = self._pool.current
            if 4 * need > s.cap or need > s.cap - s.pos or s.tcap - s.tpos < SLAB_MIN_TRIGGERS:
                s = self._pool.next(need)
            left, a, ne, ta, nt, ts, self._mode = self.arenas[self._mode](buf, time_base, st, s.arena)
            assert left >= 0, "a slab with room refused a packet"
            return self._slab_result(s, left, a, ne, ta, nt, ts, buf, time_base)
        # too large for any slab: arrays of its own, shrunk in place (no copy)
        self._packets += 1
        self._bytes += buf.shape[0]
        x, y = np.empty(need, np.uint16), np.empty(need, np.uint16)
        p, t = np.empty(need, np.uint8), np.empty(need, np.int64)
        tt, te, ti = np.empty(n + 1, np.int64), np.empty(n + 1, np.uint8), np.empty(n + 1, np.uint8)
        stop, ne, nt = self.kernel(words, 0, time_base, st, x, y, p, t, tt, te, ti, self._steps_for(n))
        self._mode = int(st[S_MODE])
        for arr in (x, y, p, t):
            arr.resize(ne, refcheck=False)  # shrinks in place (realloc): no copy
        ev = EventArray._trusted(x, y, p, t)
        tr = TriggerArray(tt[:nt].copy(), te[:nt].copy(), ti[:nt].copy()) if nt else _EMPTY_TRIGGERS
        lo, hi, ordered = t_summary(t, 0, ne)
        self.last_t_summary = (lo, hi, ordered == 1) if ne else None
        if stop < n:
            ev, tr = self._more(words, time_base, stop, ev, tr, ne, nt, need)
            self.last_t_summary = None
        self._events += len(ev)
        return ev, tr

    def _more(self, words, time_base, stop, ev, tr, ne, nt, room):
        """Decode the rest of a packet whose events did not fit the first output (``room``).

        Later chunks are sized from the words left (bounded by ``max_events_per_word``
        events a word, never by a value in the data); the first output of the next
        packets then grows to what this one needed, so a steady vector-dense stream
        decodes in one call a packet.
        """
        n = words.shape[0]
        per = self.max_events_per_word
        st = self._state
        steps = self._steps_for(n)
        ev_parts, tr_parts = [ev], [tr]
        cap, tcap = room, max(nt, 16)
        while stop < n:
            left = n - stop
            if ne + per + left > cap:  # events were full: grow, bounded by the words left
                cap = min(per * left, 2 * cap) + 2 * per
            if nt >= tcap:
                tcap = min(left, 4 * tcap) + 1
            out = _alloc(cap, tcap)
            stop, ne, nt = self.kernel(words, stop, time_base, st, *out, steps)
            self._mode = int(st[S_MODE])
            ev_parts.append(EventArray._trusted(out[0][:ne], out[1][:ne], out[2][:ne], out[3][:ne]))
            tr_parts.append(TriggerArray(out[4][:nt], out[5][:nt], out[6][:nt]))
        ev, tr = EventArray.concatenate(ev_parts), TriggerArray.concatenate(tr_parts)
        st[S_RATIO] = min(per * RATIO_ONE, max(int(st[S_RATIO]), (len(ev) * RATIO_ONE * 5 >> 2) // max(n, 1)))
        return ev, tr

    def _decode_capped(self, words, time_base):
        """Decode until ``max_events`` events, into one output of the cap's size.

        Slices of the packet are sized so that their events fit the room left (at least
        ``CAP_SLICE_MIN_WORDS`` words, the overshoot then cut); each writes into the
        free tail of the output, so memory stays at the cap whatever the packet holds.
        """
        n, per, cap = words.shape[0], self.max_events_per_word, int(self.max_events)
        room = min(cap, per * n) + per * CAP_SLICE_MIN_WORDS + 2 * per
        x, y, p, t = np.empty(room, np.uint16), np.empty(room, np.uint16), np.empty(room, np.uint8), np.empty(room, np.int64)
        steps = self._steps_for(n)
        st = self._state
        trig = []
        pos = stop = 0
        while stop < n and pos < cap:
            end = min(n, stop + max(-(-(cap - pos) // per), CAP_SLICE_MIN_WORDS))
            tt, te, ti = np.empty(end - stop + 1, np.int64), np.empty(end - stop + 1, np.uint8), np.empty(end - stop + 1, np.uint8)
            stop, ne, nt = self.kernel(words[:end], stop, time_base, st, x[pos:], y[pos:], p[pos:], t[pos:],
                                       tt, te, ti, steps)
            self._mode = int(st[S_MODE])
            pos += ne
            if nt:
                trig.append(TriggerArray(tt[:nt].copy(), te[:nt].copy(), ti[:nt].copy()))
        if stop < n or pos > cap:
            self._count_capped(n - stop)
        if pos > cap:  # the overshoot is cut: it leaves the on/off counters too
            on = int(np.count_nonzero(p[cap:pos]))
            st[S_COUNTS + C_ON] -= on
            st[S_COUNTS + C_OFF] -= pos - cap - on
            pos = cap
        for a in (x, y, p, t):
            a.resize(pos, refcheck=False)  # shrinks in place
        return EventArray._trusted(x, y, p, t), (TriggerArray.concatenate(trig) if trig else _EMPTY_TRIGGERS)


def _alloc(cap: int, tcap: int) -> tuple:
    return (np.empty(cap, np.uint16), np.empty(cap, np.uint16), np.empty(cap, np.uint8), np.empty(cap, np.int64),
            np.empty(tcap, np.int64), np.empty(tcap, np.uint8), np.empty(tcap, np.uint8))


