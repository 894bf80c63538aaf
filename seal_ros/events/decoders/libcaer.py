"""``libcaer`` (iniVation, uncompressed): 8 bytes an event, little-endian.

``uint32 data`` (bit 1 polarity, bits 2..16 y, bits 17..31 x) then
``int32 ts_us``. ``t_ns = time_base + ts_us * 1000``, plus 2^31 us each time
``ts_us`` decreases inside a packet (libcaer's timestamp overflow), so time
never goes back inside a packet. libcaer's timestamps are 31 bits: a negative
``ts_us`` is no time, its event is dropped and counted as
``dropped_invalid_time``. Nothing
carries over between packets (the driver's ``time_base`` absorbs overflows).
Events outside the sensor are dropped and counted.
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.types import TriggerArray

from .base import C_NOTIME, C_ROLLOVER, Decoder

_DTYPE = np.dtype([("data", "<u4"), ("ts", "<i4")])
OVERFLOW_US = 1 << 31


class LibcaerDecoder(Decoder):
    encoding = "libcaer"
    word_bytes = 8

    _word_dtype = _DTYPE

    def _decode_words(self, words, time_base):
        data = words["data"].astype(np.uint32)
        ts = words["ts"].astype(np.int64)
        bad = ts < 0  # libcaer's timestamps are 31 bits: a negative one is no time
        if bad.any():
            self._counts[C_NOTIME] += int(np.count_nonzero(bad))
            data, ts = data[~bad], ts[~bad]
        if len(ts) > 1:
            wraps = np.concatenate(([0], np.cumsum(np.diff(ts) < 0)))
            self._counts[C_ROLLOVER] += int(wraps[-1])
            ts += wraps * OVERFLOW_US
        x = (data >> 17) & 0x7FFF
        y = (data >> 2) & 0x7FFF
        p = ((data >> 1) & 1).astype(np.uint8)
        t = time_base + ts * 1000
        return self._in_range(x, y, p, t), TriggerArray.empty()
