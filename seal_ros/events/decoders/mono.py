"""``mono`` and ``trigger``: one little-endian uint64 an event.

``mono``: bit 63 polarity, bits 48..62 y, bits 32..47 x, bits 0..31 dt (ns);
``trigger``: bit 63 edge, bits 48..62 trigger id (kept modulo 256), bits
0..31 dt (ns). ``t_ns = time_base + dt``. Stateless between packets; CD
events outside the sensor are dropped and counted.
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray

from .base import _U64, C_RISING, C_TRIG, Decoder


class MonoDecoder(Decoder):
    encoding = "mono"
    word_bytes = 8
    _word_dtype = _U64

    def _decode_words(self, words, time_base):
        w = words.astype(np.uint64)
        t = np.int64(time_base) + (w & np.uint64(0xFFFFFFFF)).astype(np.int64)
        p = (w >> np.uint64(63)).astype(np.uint8)
        y = ((w >> np.uint64(48)) & np.uint64(0x7FFF)).astype(np.int64)
        x = ((w >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
        return self._in_range(x, y, p, t), TriggerArray.empty()


class TriggerDecoder(Decoder):
    encoding = "trigger"
    word_bytes = 8
    _word_dtype = _U64

    def _decode_words(self, words, time_base):
        w = words.astype(np.uint64)
        t = np.int64(time_base) + (w & np.uint64(0xFFFFFFFF)).astype(np.int64)
        edge = (w >> np.uint64(63)).astype(np.uint8)
        tid = ((w >> np.uint64(48)) & np.uint64(0xFF)).astype(np.uint8)
        self._counts[C_TRIG] += len(t)
        self._counts[C_RISING] += int(np.count_nonzero(edge))
        return EventArray.empty(), TriggerArray(t, edge, tid)
