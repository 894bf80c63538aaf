"""Per-stream decoding: one :class:`EventStream` per ``EventPacket`` topic.

``push(packet)`` checks the packet, keeps the decoder of the stream (its state
carries from packet to packet), tracks ``seq`` (gaps are lost packets; a
``seq`` that does not advance is a repeated packet, dropped) and returns a
:class:`Decoded`. It never raises on bad input: a rejected packet yields no
events, an ``error`` line and a counter (``bad_packets``); a packet that was
decoded but is suspect (``time_base`` went backwards, encoding or size
changed) yields its events and a ``warning`` line (counted), and the stream
keeps going.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from seal_ros.events.decoders import DECODERS, MAX_DIM, SUPPORTED_ENCODINGS, DecodeError, make_decoder
from seal_ros.events.decoders.base import COUNTER_NAMES, MAX_TIME_BASE
from seal_ros.events.packet import EventPacket
from seal_ros.events.types import EventArray, TriggerArray

WORD_BYTES = {enc: cls.word_bytes for enc, cls in DECODERS.items()}
# Largest payload accepted in one packet (drivers send far less).
MAX_PACKET_BYTES = 64 << 20
# A seq going back by more than this (or to 0) is a driver restart, not a repeat.
SEQ_RESTART_GAP = 1 << 20


@dataclass
class Decoded:
    events: EventArray
    triggers: TriggerArray
    lost_packets: int = 0
    error: Optional[str] = None  # set: the packet was rejected (no events)
    warning: Optional[str] = None  # set: decoded, but something is off


class EventStream:
    """Decodes the packets of one stream, in arrival order."""

    def __init__(self, max_packet_bytes: int = MAX_PACKET_BYTES):
        self.max_packet_bytes = int(max_packet_bytes)
        self.decoder = None
        self._key = None
        self._last_seq: Optional[int] = None
        self._last_time_base: Optional[int] = None
        self._counts = dict(
            packets=0, bad_packets=0, lost_packets=0, repeated_packets=0, restarts=0,
            time_base_backwards=0, geometry_changes=0, warnings=0,
        )
        keys = ("bytes", "events", *COUNTER_NAMES, "triggers_falling", "truncated_bytes")
        self._dec_totals: dict = {k: 0 for k in keys}
        self.last_error: Optional[str] = None
        self.last_warning: Optional[str] = None

    # ------------------------------------------------------------------
    def push(self, packet: EventPacket) -> Decoded:
        self._counts["packets"] += 1
        try:
            return self._push(packet)
        except Exception as exc:  # noqa: BLE001 - a bad packet must never stop the stream
            return self._bad(f"cannot decode packet: {type(exc).__name__}: {exc}")

    def _bad(self, reason: str, lost: int = 0) -> Decoded:
        self._counts["bad_packets"] += 1
        self.last_error = reason
        return Decoded(EventArray.empty(), TriggerArray.empty(), lost, reason)

    def _push(self, pk: EventPacket) -> Decoded:
        enc = str(pk.encoding)
        if enc not in SUPPORTED_ENCODINGS:
            return self._bad(f"unsupported encoding {enc!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
        w, h = int(pk.width), int(pk.height)
        if not (0 < w <= MAX_DIM and 0 < h <= MAX_DIM):
            return self._bad(f"bad sensor size {w}x{h} (each side must be 1..{MAX_DIM})")
        tb = int(pk.time_base)
        if not (0 <= tb < MAX_TIME_BASE):
            return self._bad(f"time_base {tb} out of range 0..2^62")
        buf = pk.events
        if not isinstance(buf, np.ndarray):
            buf = np.frombuffer(buf, np.uint8)
        if buf.nbytes > self.max_packet_bytes:
            return self._bad(f"payload of {buf.nbytes} bytes exceeds the limit of {self.max_packet_bytes}")

        # ---- seq: lost and repeated packets -------------------------------------------------
        seq = int(pk.seq)
        lost = 0
        restart = False
        if self._last_seq is not None:
            gap = seq - self._last_seq
            if gap <= 0:
                if seq == 0 or -gap > SEQ_RESTART_GAP:
                    restart = True
                else:
                    self._counts["repeated_packets"] += 1
                    return self._bad(f"repeated packet seq {seq} (last {self._last_seq}); dropped")
            else:
                lost = gap - 1
        self._last_seq = seq
        self._counts["lost_packets"] += lost

        # ---- decoder per (encoding, size) ------------------------------------------------------
        key = (enc, w, h)
        note = None
        if self.decoder is None or key != self._key or restart:
            if self.decoder is not None:
                self._fold_decoder_stats()
                if restart:
                    self._counts["restarts"] += 1
                else:
                    self._counts["geometry_changes"] += 1
                    old = f"{self._key[0]} {self._key[1]}x{self._key[2]}"
                    note = f"stream changed from {old} to {enc} {w}x{h}; decoder reset"
            self.decoder = make_decoder(enc, w, h)
            self._key = key
            self._last_time_base = None

        if self._last_time_base is not None and tb < self._last_time_base:
            self._counts["time_base_backwards"] += 1
            note = f"time_base went backwards ({tb} < {self._last_time_base})"
        self._last_time_base = tb

        wb = WORD_BYTES[enc]
        if buf.nbytes % wb:
            return self._bad(f"truncated packet: {buf.nbytes} bytes is not a whole number of "
                             f"{wb}-byte {enc} words", lost)
        try:
            events, triggers = self.decoder.decode(buf, tb)
        except DecodeError as exc:
            return self._bad(str(exc), lost)
        if note is not None:
            self._counts["warnings"] += 1
            self.last_warning = note
        return Decoded(events, triggers, lost, None, note)

    # ------------------------------------------------------------------
    def _fold_decoder_stats(self) -> None:
        for k, v in self.decoder.stats.items():
            self._dec_totals[k] = self._dec_totals.get(k, 0) + v

    @property
    def encoding(self) -> Optional[str]:
        return self._key[0] if self._key else None

    @property
    def stats(self) -> dict:
        out = dict(self._dec_totals)
        if self.decoder is not None:
            for k, v in self.decoder.stats.items():
                out[k] = out.get(k, 0) + v
        out.pop("packets", None)  # the decoder's count excludes rejected packets
        out.update(self._counts)
        return out
