"""The decoder interface shared by every encoding.

A decoder turns one packet payload (``uint8`` bytes) into change-detection
events and external-trigger events, carrying its state (time high bits,
current row/column, vector base, ...) from one packet to the next of the same
stream. All counters live in ``self._counts`` and are exposed as the ``stats``
dict. The numba decoders (evt3, evt2, libcaer_cmp) build on
:class:`.kernel.KernelDecoder`; the numpy ones (libcaer, mono, trigger) on
:class:`Decoder` directly.

``max_events`` (None: no cap) bounds the events one packet may produce;
``last_t_summary`` is ``(min, max, in_order)`` of the last packet's event times
(in_order: never decreasing) when the decoder measured it (None otherwise): the
time guard and the windows use it instead of scanning the events again.
"""
from __future__ import annotations

import numpy as np

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
        self.last_t_summary = None
        self.reset()

    @property
    def max_events(self):
        """Most events one packet may produce (None: no cap)."""
        return self._max_events

    @max_events.setter
    def max_events(self, cap) -> None:
        self._max_events = None if cap is None else int(cap)
        self._cap_events = (1 << 62) if cap is None else int(cap)

    # ---- to override -------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream state (not the counters)."""

    def _decode_words(self, words: np.ndarray, time_base: int):
        raise NotImplementedError

    # ---- shared by the decode paths ---------------------------------------------------
    @staticmethod
    def _normalize(buf, time_base):
        """The payload as a contiguous 1-D uint8 array and a checked int ``time_base``."""
        if type(buf) is not np.ndarray or buf.dtype != _U8 or buf.ndim != 1 or not buf.flags.c_contiguous:
            buf = np.ascontiguousarray(buf)
            buf = (buf if buf.dtype == _U8 else buf.view(_U8)).reshape(-1)
        if type(time_base) is not int:
            time_base = int(time_base)
        if not 0 <= time_base < MAX_TIME_BASE:
            raise DecodeError(f"time_base {time_base} out of range 0..2^62")
        return buf, time_base

    def _accept(self, buf, time_base):
        """:meth:`_normalize`, and the packet counted."""
        buf, time_base = self._normalize(buf, time_base)
        self._packets += 1
        self._bytes += buf.shape[0]
        return buf, time_base

    def _words(self, buf):
        """The whole words of ``buf`` (a partial last word is counted in ``truncated_bytes``)."""
        extra = buf.shape[0] % self.word_bytes
        if extra:
            self._truncated += extra
            buf = buf[: buf.shape[0] - extra]
        return buf.view(self._word_dtype)

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
        words = self._words(buf)
        cap = self.max_events
        if cap is not None and words.shape[0] > cap:  # one event a word at most: decode the first ``cap``
            self._count_capped(words.shape[0] - cap)
            words = words[:cap]
        events, triggers = self._decode_words(words, time_base)
        self._events += events.t.shape[0]
        self.last_t_summary = None
        return events, triggers

    def decode_checked(self, buf, time_base: int):
        """:meth:`decode` of a payload the caller checked (a contiguous 1-D uint8 array of whole
        words, an int time base in range); kernel decoders skip their own checks here."""
        return self.decode(buf, time_base)

    def _count_capped(self, words_left: int) -> None:
        self._capped += 1
        self._capped_bytes += int(words_left) * self.word_bytes

    @property
    def stats(self) -> dict:
        out = {"packets": self._packets, "bytes": self._bytes, "events": self._events}
        out.update({k: int(v) for k, v in zip(COUNTER_NAMES, self._counts)})
        out["triggers_falling"] = out["triggers"] - out["triggers_rising"]
        out["truncated_bytes"] = self._truncated
        out["capped_packets"] = self._capped
        out["dropped_capped_bytes"] = self._capped_bytes
        return out


def _frozen_empty_triggers() -> TriggerArray:
    tr = TriggerArray.empty()
    for a in (tr.t, tr.edge, tr.id):
        a.flags.writeable = False
    return tr


# Shared by every packet without triggers (read-only, so sharing is safe).
_EMPTY_TRIGGERS = _frozen_empty_triggers()
