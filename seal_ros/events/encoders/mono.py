"""``mono`` and ``trigger`` encoders (one little-endian uint64 an event; see decoders.mono).

Per packet: ``time_base`` is the packet's earliest time (ns) and each word
holds ``dt`` = ns since it in bits 0..31 (a packet spans less than 2^32 ns,
4.29 s), with ``mono``: polarity bit 63, y bits 48..62, x bits 32..47;
``trigger``: edge bit 63, id bits 48..62. Nanoseconds are kept; any order can
be written. ``mono`` carries no triggers, ``trigger`` no CD events.
"""
from __future__ import annotations

import numpy as np

from .base import EncodeError, Encoder

MAX_DT_NS = (1 << 32) - 1
_u = np.uint64


def _words(t: np.ndarray, top: np.ndarray, mid: np.ndarray, low16: np.ndarray, name: str):
    tb = int(t.min())
    dt = t - tb
    if int(dt.max()) > MAX_DT_NS:
        raise EncodeError(f"{name}: a packet spans at most {MAX_DT_NS} ns")
    w = (top.astype(_u) << _u(63)) | (mid.astype(_u) << _u(48)) | (low16.astype(_u) << _u(32)) | dt.astype(_u)
    return w.astype("<u8").view(np.uint8), tb


class MonoEncoder(Encoder):
    encoding = "mono"
    time_unit_ns = 1
    max_dim = 1 << 15
    max_span_ns = MAX_DT_NS

    def _encode(self, events, triggers):
        if not len(events):
            return np.zeros(0, np.uint8), 0, 0, 0
        payload, tb = _words(events.t, events.p, events.y, events.x, "mono")
        return payload, tb, len(events), 0


class TriggerEncoder(Encoder):
    encoding = "trigger"
    time_unit_ns = 1
    max_span_ns = MAX_DT_NS
    carries_cd = False
    carries_triggers = True

    def _encode(self, events, triggers):
        if not len(triggers):
            return np.zeros(0, np.uint8), 0, 0, 0
        payload, tb = _words(triggers.t, triggers.edge, triggers.id, np.zeros(len(triggers), np.int64), "trigger")
        return payload, tb, 0, len(triggers)
