"""The decoder interface shared by every encoding.

A decoder turns one packet payload (``uint8`` bytes) into change-detection
events and external-trigger events, carrying its state (time high bits,
current row/column, vector base, ...) from one packet to the next of the same
stream. All state lives in small ``int64`` arrays so that numba kernels can
update it in place; all counters live in ``self._counts`` and are exposed as
the ``stats`` dict.

Allocation is bounded by the packet size, never by a value read from the
data: kernels write into preallocated chunks sized from the number of words
left in the packet and stop early when a chunk is full; the driver loop
(:meth:`Decoder._run_chunks`) then continues with a new chunk.

``max_events`` (None: no cap) bounds the events one packet may produce: a
packet that could exceed it (words x most events per word > cap) is decoded in
slices written straight into one output of the cap's size, and decoding stops
once the cap is reached; the packet counts in ``capped_packets`` and its
undecoded bytes in ``dropped_capped_bytes``.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as _ir
from numba.core.extending import intrinsic

from seal_ros.events.types import EventArray, TriggerArray

# Largest sensor side accepted (evt3 addresses are 11 bits, libcaer 15 bits).
MAX_DIM = 32768
# int64 ns cannot hold larger time bases without overflow.
MAX_TIME_BASE = 1 << 62
# Rolled-over time (us) beyond which time rollovers are no longer counted: 142 years, which only a
# forged stream reaches (a 4.8 MB evt2 packet of TIME_HIGH pairs did); with any time base below
# MAX_TIME_BASE, t_ns then stays below 2^63.
MAX_ROLLED_US = 1 << 52

_U8 = np.dtype(np.uint8)
_U16 = np.dtype("<u2")
_U64 = np.dtype("<u8")

# Counter slots shared by all kernels (indices into Decoder._counts).
C_ON, C_OFF, C_RANGE, C_NOTIME, C_UNKNOWN, C_TRIG, C_RISING, C_ROLLOVER = range(8)
COUNTER_NAMES = (
    "on", "off", "dropped_out_of_range", "dropped_invalid_time", "unknown_words",
    "triggers", "triggers_rising", "rollovers",
)
# Every key of Decoder.stats.
STAT_NAMES = ("packets", "bytes", "events", *COUNTER_NAMES, "triggers_falling", "truncated_bytes",
              "capped_packets", "dropped_capped_bytes")
# Fewest words decoded per step under the event cap (bounds the overshoot, then cut).
CAP_SLICE_MIN_WORDS = 4096


@intrinsic
def cttz(typingctx, x):
    """Count trailing zeros (LLVM ``cttz``; ``x`` must be non-zero) for numba kernels."""
    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], _ir.Constant(_ir.IntType(1), 1))
    return x(x), codegen


class DecodeError(ValueError):
    """A payload that cannot be decoded at all (the message says why)."""


class Decoder:
    """Base class: ``decode(buf, time_base) -> (EventArray, TriggerArray)``."""

    encoding = ""
    word_bytes = 1
    _word_dtype = np.dtype(np.uint8)
    # Most CD events one word can emit (bounds the output of a packet).
    max_events_per_word = 1

    def __init__(self, width: int, height: int):
        width, height = int(width), int(height)
        if not (0 < width <= MAX_DIM and 0 < height <= MAX_DIM):
            raise DecodeError(f"bad sensor size {width}x{height} (each side must be 1..{MAX_DIM})")
        self.width = width
        self.height = height
        self._counts = np.zeros(len(COUNTER_NAMES), np.int64)
        self._packets = 0
        self._bytes = 0
        self._events = 0
        self._truncated = 0
        self._capped = 0
        self._capped_bytes = 0
        self.max_events = None  # most events one packet may produce (None: no cap)
        self._sc = _alloc(4096, 64)
        self.reset()

    # ---- to override -------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream state (not the counters)."""

    def _decode_words(self, words: np.ndarray, time_base: int):
        raise NotImplementedError

    # ---- shared by the decode paths ---------------------------------------------------
    def _accept(self, buf, time_base):
        """The payload as a contiguous 1-D uint8 array and a checked int ``time_base``; counts the packet."""
        if type(buf) is not np.ndarray or buf.dtype != _U8 or buf.ndim != 1 or not buf.flags.c_contiguous:
            buf = np.ascontiguousarray(buf)
            buf = (buf if buf.dtype == _U8 else buf.view(_U8)).reshape(-1)
        if type(time_base) is not int:
            time_base = int(time_base)
        if not 0 <= time_base < MAX_TIME_BASE:
            raise DecodeError(f"time_base {time_base} out of range 0..2^62")
        self._packets += 1
        self._bytes += buf.shape[0]
        return buf, time_base

    def _in_range(self, x, y, p, t) -> EventArray:
        """Events of (numpy-decoded) x, y, p, t inside the sensor; the rest counted as dropped."""
        ok = (x < self.width) & (y < self.height)
        if not ok.all():
            self._counts[C_RANGE] += int(len(ok) - np.count_nonzero(ok))
            x, y, p, t = x[ok], y[ok], p[ok], t[ok]
        on = int(np.count_nonzero(p))
        self._counts[C_ON] += on
        self._counts[C_OFF] += len(p) - on
        return EventArray(x.astype(np.uint16), y.astype(np.uint16), p, t)

    # ---- public ------------------------------------------------------------------
    def decode(self, buf, time_base: int):
        buf, time_base = self._accept(buf, time_base)
        nbytes = buf.shape[0]
        extra = nbytes % self.word_bytes
        if extra:
            self._truncated += extra
            buf = buf[: nbytes - extra]
        words = buf.view(self._word_dtype)
        cap = self.max_events
        if cap is not None and self.max_events_per_word == 1 and words.shape[0] > cap:
            self._count_capped(words.shape[0] - cap)  # one event a word at most: decode the first ``cap``
            words = words[:cap]
        events, triggers = self._decode_words(words, time_base)
        self._events += events.t.shape[0]
        return events, triggers

    def _count_capped(self, words_left: int) -> None:
        self._capped += 1
        self._capped_bytes += int(words_left) * self.word_bytes

    def _over_cap(self, n_words: int) -> bool:
        """True when a packet of ``n_words`` could produce more than ``max_events``."""
        return self.max_events is not None and n_words * self.max_events_per_word > self.max_events

    def _decode_capped(self, call, words):
        """Decode until ``max_events`` events; ``call(words_prefix, start, outputs) -> (stop, ne, nt)``.

        Slices of the packet are sized so that their events fit the room left (at least
        ``CAP_SLICE_MIN_WORDS`` words, the overshoot then cut); each writes into the
        free tail of one output of the cap's size, so memory stays at the cap whatever
        the packet holds.
        """
        n, per, cap = words.shape[0], self.max_events_per_word, int(self.max_events)
        room = min(cap, per * n) + per * CAP_SLICE_MIN_WORDS + 2 * per
        x, y, p, t = np.empty(room, np.uint16), np.empty(room, np.uint16), np.empty(room, np.uint8), np.empty(room, np.int64)
        trig = []
        pos = stop = 0
        while stop < n and pos < cap:
            end = min(n, stop + max(-(-(cap - pos) // per), CAP_SLICE_MIN_WORDS))
            tt, te, ti = np.empty(end - stop + 1, np.int64), np.empty(end - stop + 1, np.uint8), np.empty(end - stop + 1, np.uint8)
            stop, ne, nt = call(words[:end], stop, (x[pos:], y[pos:], p[pos:], t[pos:], tt, te, ti))
            pos += ne
            if nt:
                trig.append(TriggerArray(tt[:nt].copy(), te[:nt].copy(), ti[:nt].copy()))
        if stop < n or pos > cap:
            self._count_capped(n - stop)
        if pos > cap:  # the overshoot is cut: it leaves the on/off counters too
            on = int(np.count_nonzero(p[cap:pos]))
            self._counts[C_ON] -= on
            self._counts[C_OFF] -= pos - cap - on
            pos = cap
        for a in (x, y, p, t):
            a.resize(pos, refcheck=False)  # shrinks in place
        return EventArray._trusted(x, y, p, t), (TriggerArray.concatenate(trig) if trig else _EMPTY_TRIGGERS)

    @property
    def stats(self) -> dict:
        out = {"packets": self._packets, "bytes": self._bytes, "events": self._events}
        out.update({k: int(v) for k, v in zip(COUNTER_NAMES, self._counts)})
        out["triggers_falling"] = out["triggers"] - out["triggers_rising"]
        out["truncated_bytes"] = self._truncated
        out["capped_packets"] = self._capped
        out["dropped_capped_bytes"] = self._capped_bytes
        return out

    # ---- helper for the word-stream kernels --------------------------------------
    def _run_chunks(self, kernel, words, time_base, state):
        """Call ``kernel`` until every word is consumed; returns (EventArray, TriggerArray).

        ``kernel(words, start, time_base, width, height, state, counts, x, y, p, t,
        tt, te, ti) -> (stop, n_events, n_triggers)`` keeps ``n_events + words left <=
        len(x)`` so that single events always have room, checks before vectors and
        triggers, and stops early (``stop < len(words)``) when they would not fit.
        The first call writes into reusable scratch arrays (warm memory plus a copy
        out beats fresh, page-faulting arrays) with room for at least ``len(words) +
        2 * max_events_per_word`` events; when that was not enough (vector-dense
        packets) later calls write into new chunks sized from the words left, and the
        scratch grows to what the packet needed, so a steady dense stream decodes in
        one call a packet. Every allocation is bounded by ``max_events_per_word``
        times the packet's word count, never by a value read from the data.
        """
        n = words.shape[0]
        per = self.max_events_per_word
        if self._over_cap(n):
            def call(w, start, out):
                return kernel(w, start, time_base, self.width, self.height, state, self._counts, *out)
            return self._decode_capped(call, words)
        sc = self._sc
        if sc[0].shape[0] < n + 2 * per:
            sc = self._sc = _alloc(n + 2 * per, sc[4].shape[0])
        stop, ne, nt = kernel(words, 0, time_base, self.width, self.height, state, self._counts, *sc)
        ev = EventArray._trusted(sc[0][:ne].copy(), sc[1][:ne].copy(), sc[2][:ne].copy(), sc[3][:ne].copy())
        tr = TriggerArray(sc[4][:nt].copy(), sc[5][:nt].copy(), sc[6][:nt].copy()) if nt else _EMPTY_TRIGGERS
        if stop >= n:
            return ev, tr
        ev_parts, tr_parts = [ev], [tr]
        cap, tcap = sc[0].shape[0], sc[4].shape[0]
        while stop < n:
            left = n - stop
            if ne + per + left > cap:  # events were full: grow, bounded by the words left
                cap = min(per * left, 2 * cap) + 2 * per
            if nt >= tcap:
                tcap = min(left, 4 * tcap) + 1
            out = _alloc(cap, tcap)
            stop, ne, nt = kernel(words, stop, time_base, self.width, self.height, state, self._counts, *out)
            ev_parts.append(EventArray._trusted(out[0][:ne], out[1][:ne], out[2][:ne], out[3][:ne]))
            tr_parts.append(TriggerArray(out[4][:nt], out[5][:nt], out[6][:nt]))
        ev, tr = EventArray.concatenate(ev_parts), TriggerArray.concatenate(tr_parts)
        # next time this much fits the scratch (bounded by this packet's size)
        self._sc = _alloc(min(len(ev) + len(ev) // 4, per * n) + 2 * per, min(len(tr) + len(tr) // 4, n) + 1)
        return ev, tr


def _alloc(cap: int, tcap: int) -> tuple:
    return (np.empty(cap, np.uint16), np.empty(cap, np.uint16), np.empty(cap, np.uint8), np.empty(cap, np.int64),
            np.empty(tcap, np.int64), np.empty(tcap, np.uint8), np.empty(tcap, np.uint8))


def _frozen_empty_triggers() -> TriggerArray:
    tr = TriggerArray.empty()
    for a in (tr.t, tr.edge, tr.id):
        a.flags.writeable = False
    return tr


# Shared by every packet without triggers (read-only, so sharing is safe).
_EMPTY_TRIGGERS = _frozen_empty_triggers()

