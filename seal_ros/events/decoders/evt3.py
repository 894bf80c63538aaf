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

from .base import _U16
from .evt3_kernels import ARENA_ENTRIES, KERNELS, ROLLOVER_MIN_STEP, S_VALID  # noqa: F401
from .kernel import KernelDecoder


class Evt3Decoder(KernelDecoder):
    """EVT 3.0; the kernels are in :mod:`.evt3_kernels`."""

    encoding = "evt3"
    word_bytes = 2
    _word_dtype = _U16
    max_events_per_word = 12
    slack = 24
    kernels = KERNELS
    arenas = ARENA_ENTRIES

    @property
    def has_valid_time(self) -> bool:
        return bool(self._state[S_VALID])
