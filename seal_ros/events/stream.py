"""Per-stream decoding: one :class:`EventStream` per ``EventPacket`` topic.

``push(packet)`` checks the packet, keeps the decoder of the stream (its state
carries from packet to packet), tracks ``seq`` and returns a :class:`Decoded`.
It never raises on bad input: a rejected packet yields no events, an ``error``
line and a counter named after the reason (``dropped_<reason>``, summed in
``bad_packets``); a packet that was decoded but is suspect (``time_base`` went
backwards, encoding or size changed) yields its events and a ``warning`` line
(counted), and the stream keeps going.

``seq``: a gap adds up in ``lost_packets``; the same ``seq`` again is a
repeated packet (dropped, ``dropped_repeated``); a ``seq`` that goes back, by
any distance, is a new stream (a driver restart, a bag played again or
looped): the decoder starts afresh, ``restarts`` counts it and the result has
``restart`` set so that windows and clocks start afresh too.

Limits, all counted when hit: sensor sides up to ``max_sensor_side`` (default
2048, above every current sensor), payloads up to ``max_packet_bytes``, and at
most ``max_packet_events`` events decoded from one packet (decoding stops
there: ``capped_packets``, ``dropped_capped_bytes``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from seal_ros.events.decoders import DECODERS, MAX_DIM, SUPPORTED_ENCODINGS, DecodeError, make_decoder
from seal_ros.events.decoders.base import MAX_TIME_BASE, STAT_NAMES
from seal_ros.events.packet import EventPacket
from seal_ros.events.types import EventArray, TriggerArray

WORD_BYTES = {enc: cls.word_bytes for enc, cls in DECODERS.items()}
_U8 = np.dtype(np.uint8)
# Largest payload accepted in one packet (drivers send far less).
MAX_PACKET_BYTES = 64 << 20
# Largest sensor side accepted by default: above every current event camera (Samsung DVS Gen4
# 1280x960, Prophesee/Sony IMX636 1280x720, CeleX-V 1280x800, DAVIS346 346x260) and the 11-bit
# addresses of EVT 2.0, EVT 3.0 and libcaer_cmp (x, y < 2048), the encodings of the Prophesee and
# iniVation drivers. It bounds what a packet can make a node allocate: the reconstructor's filter at
# 2048x2048 is ~160 MB and 0.07 s a window; at 8192x8192 it was 1.5 GB and seconds a window.
DEFAULT_MAX_SENSOR_SIDE = 2048
# Events one packet may produce by default: the fastest current sensor's readout
# limit (IMX636: 1.066 G events/s, Finateu et al., ISSCC 2020), rounded up to
# 1.1 G/s, times 10 ms, ten times the drivers' default 1 ms packets.
DEFAULT_MAX_PACKET_EVENTS = 11_000_000

# Why a packet was rejected -> its counter.
REJECT_REASONS = ("encoding", "sensor_size", "time_base", "payload_size", "truncated", "repeated", "decode_error")
# Counters that count lost, refused or discontinuous data (diagnostics warn when one rises).
PROBLEM_COUNTERS = (
    "lost_packets", "restarts", "time_base_backwards", "geometry_changes",
    *(f"dropped_{r}" for r in REJECT_REASONS),
    "dropped_out_of_range", "dropped_invalid_time", "unknown_words", "truncated_bytes",
    "capped_packets", "dropped_capped_bytes",
)


@dataclass(slots=True)
class Decoded:
    events: EventArray
    triggers: TriggerArray
    lost_packets: int = 0
    error: Optional[str] = None  # set: the packet was rejected (no events)
    warning: Optional[str] = None  # set: decoded, but something is off
    restart: bool = False  # seq went back: a new stream starts with this packet
    t_summary: Optional[tuple] = None  # (min, max, in order) of the event times when known (the decoder's)


class EventStream:
    """Decodes the packets of one stream, in arrival order."""

    def __init__(self, max_packet_bytes: int = MAX_PACKET_BYTES, max_sensor_side: int = DEFAULT_MAX_SENSOR_SIDE,
                 max_packet_events: Optional[int] = DEFAULT_MAX_PACKET_EVENTS):
        if not 0 < int(max_sensor_side) <= MAX_DIM:
            raise ValueError(f"max_sensor_side must be 1..{MAX_DIM}, got {max_sensor_side}")
        if max_packet_events is not None and int(max_packet_events) < 1:
            raise ValueError(f"max_packet_events must be >= 1, got {max_packet_events}")
        self.max_packet_bytes = int(max_packet_bytes)
        self.max_sensor_side = int(max_sensor_side)
        self.max_packet_events = None if max_packet_events is None else int(max_packet_events)
        self._counts = dict(packets=0, bad_packets=0, lost_packets=0, restarts=0, time_base_backwards=0,
                            geometry_changes=0, warnings=0, **{f"dropped_{r}": 0 for r in REJECT_REASONS})
        self._dec_totals: dict = {k: 0 for k in STAT_NAMES if k != "packets"}
        self.last_error: Optional[str] = None
        self.last_warning: Optional[str] = None
        self.reset()

    def reset(self) -> None:
        """Forget the stream state (decoder, seq, time base), not the counters: the next packet starts afresh."""
        if getattr(self, "decoder", None) is not None:
            self._fold_decoder_stats()
        self.decoder = None
        self._key = None
        self._last_seq: Optional[int] = None
        self._last_time_base: Optional[int] = None

    # ------------------------------------------------------------------
    def push(self, packet: EventPacket) -> Decoded:
        self._counts["packets"] += 1
        try:
            return self._push(packet)
        except Exception as exc:  # noqa: BLE001 - a bad packet must never stop the stream
            return self._bad("decode_error", f"cannot decode packet: {type(exc).__name__}: {exc}")

    def _bad(self, reason: str, line: str, lost: int = 0, restart: bool = False) -> Decoded:
        self._counts["bad_packets"] += 1
        self._counts[f"dropped_{reason}"] += 1
        self.last_error = line
        return Decoded(EventArray.empty(), TriggerArray.empty(), lost, line, None, restart)

    def _push(self, pk: EventPacket) -> Decoded:
        # Straight-line on purpose (this runs once a message): each check costs only when it fails.
        enc = pk.encoding
        if type(enc) is not str:
            enc = str(enc)
        wb = WORD_BYTES.get(enc)
        if wb is None:
            return self._bad("encoding", f"unsupported encoding {enc!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
        w, h = pk.width, pk.height
        if type(w) is not int or type(h) is not int:
            w, h = int(w), int(h)
        side = self.max_sensor_side
        if not (0 < w <= side and 0 < h <= side):
            return self._bad("sensor_size", f"sensor size {w}x{h} refused (each side must be 1..{side}; "
                             "raise max_sensor_size for a larger sensor)")
        tb = pk.time_base
        if type(tb) is not int:
            tb = int(tb)
        if not (0 <= tb < MAX_TIME_BASE):
            return self._bad("time_base", f"time_base {tb} out of range 0..2^62")
        buf = pk.events
        if type(buf) is not np.ndarray or buf.dtype is not _U8 or buf.ndim != 1 or not buf.flags.c_contiguous:
            buf = np.frombuffer(buf, _U8) if not isinstance(buf, np.ndarray) else np.ascontiguousarray(buf)
            if buf.dtype != _U8:
                buf = buf.view(_U8)
            buf = buf.reshape(-1)
        nbytes = buf.shape[0]
        if nbytes > self.max_packet_bytes:
            return self._bad("payload_size", f"payload of {nbytes} bytes exceeds the limit of "
                             f"{self.max_packet_bytes}")

        # ---- seq: lost, repeated packets and restarts ----------------------------------------
        seq = pk.seq
        if type(seq) is not int:
            seq = int(seq)
        lost = 0
        restart = False
        last = self._last_seq
        if last is not None and seq != last + 1:
            gap = seq - last
            if gap == 0:
                return self._bad("repeated", f"repeated packet seq {seq}; dropped")
            if gap < 0:
                restart = True
            else:
                lost = gap - 1
                self._counts["lost_packets"] += lost
        self._last_seq = seq

        # ---- decoder per (encoding, size) ------------------------------------------------------
        note = None
        key = self._key
        if restart or key is None or key[0] != enc or key[1] != w or key[2] != h:
            note = self._new_decoder(enc, w, h, restart)

        if self._last_time_base is not None and tb < self._last_time_base:
            self._counts["time_base_backwards"] += 1
            note = f"time_base went backwards ({tb} < {self._last_time_base})"
        self._last_time_base = tb

        if nbytes % wb:
            return self._bad("truncated", f"truncated packet: {nbytes} bytes is not a whole number of "
                             f"{wb}-byte {enc} words", lost, restart)
        dec = self.decoder
        try:
            events, triggers = dec.decode_checked(buf, tb)
        except DecodeError as exc:
            return self._bad("decode_error", str(exc), lost, restart)
        if note is not None:
            self._counts["warnings"] += 1
            self.last_warning = note
        return Decoded(events, triggers, lost, None, note, restart, dec.last_t_summary)

    def _new_decoder(self, enc: str, w: int, h: int, restart: bool) -> Optional[str]:
        """A fresh decoder for (enc, w, h); the warning line when the stream changed geometry."""
        note = None
        if self.decoder is not None:
            self._fold_decoder_stats()
            if restart:
                self._counts["restarts"] += 1
            else:
                self._counts["geometry_changes"] += 1
                old = f"{self._key[0]} {self._key[1]}x{self._key[2]}"
                note = f"stream changed from {old} to {enc} {w}x{h}; decoder reset"
        self.decoder = make_decoder(enc, w, h)
        self.decoder.max_events = self.max_packet_events
        self._key = (enc, w, h)
        self._last_time_base = None
        return note

    # ------------------------------------------------------------------
    def _fold_decoder_stats(self) -> None:
        for k, v in self.decoder.stats.items():
            if k != "packets":  # the decoder's count excludes rejected packets
                self._dec_totals[k] = self._dec_totals.get(k, 0) + v

    @property
    def encoding(self) -> Optional[str]:
        return self._key[0] if self._key else None

    def counters(self) -> dict:
        """Every counter, flat: packets, events, bytes, lost_packets, restarts, dropped_<reason>, the decoders'."""
        out = dict(self._dec_totals)
        if self.decoder is not None:
            for k, v in self.decoder.stats.items():
                if k != "packets":
                    out[k] = out.get(k, 0) + v
        out.update(self._counts)
        return out

    @property
    def stats(self) -> dict:
        """:meth:`counters` plus ``repeated_packets`` (the name ``seal-ros decode-stats`` prints)."""
        out = self.counters()
        out["repeated_packets"] = out["dropped_repeated"]
        return out
