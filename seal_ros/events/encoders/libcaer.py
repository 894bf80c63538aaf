"""``libcaer`` encoder (uncompressed iniVation events; see decoders.libcaer).

Per packet: ``time_base`` is the packet's earliest event time (us, as ns);
each event is ``uint32 data`` (x << 17 | y << 2 | polarity << 1 | valid) and
``int32 ts_us`` since the time base, wrapped at 2^31 like libcaer's counter
(the decoder unwraps a decrease inside a packet). Any order can be written;
a packet spans less than 2^31 us. No trigger words.
"""
from __future__ import annotations

import numpy as np

from .base import Encoder, relative_us

_DTYPE = np.dtype([("data", "<u4"), ("ts", "<i4")])
WRAP_US = 1 << 31


class LibcaerEncoder(Encoder):
    encoding = "libcaer"
    max_span_ns = (WRAP_US - 1) * 1000

    def _encode(self, events, triggers):
        if not len(events):
            return np.zeros(0, np.uint8), 0, 0, 0
        dt, tb_us = relative_us(events, WRAP_US - 1, self.encoding)
        rec = np.empty(len(events), _DTYPE)
        x, y, p = (a.astype(np.uint32) for a in (events.x, events.y, events.p))
        rec["data"] = (x << 17) | (y << 2) | (p << 1) | 1
        rec["ts"] = dt.astype(np.int32)
        return rec.view(np.uint8).reshape(-1), tb_us * 1000, len(events), 0
