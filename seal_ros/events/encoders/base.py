"""The encoder interface shared by every encoding (the decoders' inverse).

An encoder turns time-ordered change-detection events (and external triggers,
where the encoding carries them) into one ``EventPacket`` payload and the
packet's ``time_base``, carrying its stream state from one packet to the next
the way a driver does. Decoding the payloads of a stream in order with
:func:`seal_ros.events.decoders.make_decoder` gives the same events back, in the
same order, at the encoding's time resolution (microseconds for every encoding
except ``mono``/``trigger``, which keep nanoseconds).

Items older than the last one encoded cannot be written to a time-ordered
word stream: they are dropped and counted (``dropped_out_of_order``); triggers
of an encoding without trigger words are counted as ``triggers_not_encoded``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seal_ros.events.types import EventArray, TriggerArray

COUNTER_NAMES = ("events", "triggers", "dropped_out_of_order", "triggers_not_encoded")


class EncodeError(ValueError):
    """Input an encoding cannot represent (the message says why)."""


class Encoder:
    """Base class: ``encode(events, triggers) -> (payload uint8 array, time_base ns)``."""

    encoding = ""
    # Largest sensor side the words can address.
    max_dim = 1 << 15
    # The encoding's time unit (ns) and the most one packet may span (ns; None: no limit).
    time_unit_ns = 1000
    max_span_ns = None
    carries_cd = True
    carries_triggers = False

    def __init__(self, width: int, height: int):
        width, height = int(width), int(height)
        if not (0 < width <= self.max_dim and 0 < height <= self.max_dim):
            raise EncodeError(f"{self.encoding}: sensor size {width}x{height} outside 1..{self.max_dim}")
        self.width, self.height = width, height
        self.counts = dict.fromkeys(COUNTER_NAMES, 0)

    @property
    def stats(self) -> dict:
        return dict(self.counts)

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> tuple[np.ndarray, int]:
        events = events if events is not None else EventArray.empty()
        triggers = triggers if triggers is not None else TriggerArray.empty()
        if len(events) and (int(events.x.max()) >= self.width or int(events.y.max()) >= self.height):
            raise EncodeError(f"{self.encoding}: events outside the {self.width}x{self.height} sensor")
        if len(triggers) and not self.carries_triggers:
            self.counts["triggers_not_encoded"] += len(triggers)
            triggers = TriggerArray.empty()
        if not self.carries_cd:
            events = EventArray.empty()
        payload, time_base, n_ev, n_tr = self._encode(events, triggers)
        self.counts["events"] += n_ev
        self.counts["triggers"] += n_tr
        self.counts["dropped_out_of_order"] += len(events) + len(triggers) - n_ev - n_tr
        return payload, time_base

    def _encode(self, events: EventArray, triggers: TriggerArray):
        """-> (payload, time_base, events written, triggers written)."""
        raise NotImplementedError


@njit(cache=True, nogil=True)
def write_run(c, pos, r, pol, out, k, single, base, vec_big, big, vec_small, small):
    """Words for the run ``c[pos:r]`` (one time, one row or column, one polarity, rising coordinates).

    Three or more events within ``big`` coordinates become a vector: ``base | pol << 11 | c``,
    then masks (``vec_small`` when the rest fits ``small`` coordinates, else ``vec_big``, the
    decoder's base moving by that many), while events fall in the next window; everything
    else ``single | pol << 11 | c``. Returns the next free index of ``out``."""
    while pos < r:
        q = pos
        while q < r and c[q] < c[pos] + big:
            q += 1
        if q - pos < 3:
            out[k] = single | (pol << 11) | c[pos]
            k += 1
            pos += 1
            continue
        b = c[pos]
        out[k] = base | (pol << 11) | b
        k += 1
        while pos < r and c[pos] < b + big:
            mask = 0
            while pos < r and c[pos] < b + big:
                mask |= 1 << (c[pos] - b)
                pos += 1
            if mask < (1 << small):
                out[k] = vec_small | mask
                b += small
            else:
                out[k] = vec_big | mask
                b += big
            k += 1
    return k


def first_time(events: EventArray, triggers: TriggerArray):
    """The earliest time (ns) of a packet's events and triggers, or None when both are empty."""
    ts = [int(a.t.min()) for a in (events, triggers) if len(a)]
    return min(ts) if ts else None


def periods_ahead(now_us: int, events: EventArray, triggers: TriggerArray, period_bits: int) -> int:
    """Time periods of ``2**period_bits`` us between the stream time ``now_us`` and a packet's last item.

    Bounds the words a Prophesee encoder needs for rollovers."""
    ts = [int(a.t.max()) for a in (events, triggers) if len(a)]
    return max(0, (max(ts) // 1000 - now_us) >> period_bits) if ts else 0


def relative_us(events: EventArray, max_dt_us: int, name: str) -> tuple[np.ndarray, int]:
    """(us since the packet's earliest event, that earliest time in us) for per-packet time bases."""
    t_us = events.t // 1000
    tb_us = int(t_us.min())
    dt = t_us - tb_us
    if int(dt.max()) > max_dt_us:
        raise EncodeError(f"{name}: a packet spans at most {max_dt_us} us, this one {int(dt.max())} us")
    return dt, tb_us


class StreamTimeEncoder(Encoder):
    """A Prophesee word stream: one ``time_base`` for the stream, the start of the ``2**period_bits`` us
    period holding its first item; ``kernel(x, y, p, t_us, tt_us, te, ti, base_us, state, out)``
    writes a packet's words, ``state[0]`` being the TIME_HIGH (periods included) and ``state[1]``
    (where kept) the TIME_LOW."""

    max_dim = 2048
    carries_triggers = True
    period_bits = 0
    low_bits = 0  # time bits below TIME_HIGH
    word_dtype = np.uint16
    words_per_item = 4  # most words one event or trigger needs
    kernel = None

    def __init__(self, width: int, height: int):
        super().__init__(width, height)
        self._base_us = None
        self._state = np.zeros(2, np.int64)

    def _now_us(self) -> int:
        return self._base_us + (int(self._state[0]) << self.low_bits) + int(self._state[1])

    def _encode(self, events, triggers):
        t0 = first_time(events, triggers)
        if self._base_us is None:
            if t0 is None:
                return np.zeros(0, np.uint8), 0, 0, 0
            rel = t0 // 1000 % (1 << self.period_bits)
            self._base_us = t0 // 1000 - rel
            self._state[0] = rel >> self.low_bits
            self._state[1] = rel & ((1 << self.low_bits) - 1) if self.low_bits == 12 else 0
        n = len(events) + len(triggers)
        cap = 2 + self.words_per_item * n + 2 * (periods_ahead(self._now_us(), events, triggers, self.period_bits) + 2)
        out = np.empty(cap, self.word_dtype)
        k, n_ev, n_tr = type(self).kernel(
            events.x.astype(np.int64), events.y.astype(np.int64), events.p.astype(np.int64), events.t // 1000,
            triggers.t // 1000, triggers.edge.astype(np.int64), triggers.id.astype(np.int64),
            self._base_us, self._state, out)
        return out[:k].view(np.uint8).copy(), self._base_us * 1000, n_ev, n_tr
