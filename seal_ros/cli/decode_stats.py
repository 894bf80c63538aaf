"""``seal-ros decode-stats INPUT``: what a recording holds, decoded, as one JSON object.

INPUT is any recording ``seal-ros`` reads (:mod:`seal_ros.io.recordings`).
Fields: ``input``, ``format``, ``topic`` (bags), ``messages`` (packets: a
bag's messages, a RAW file's blocks of ``--chunk-events`` words; else None),
``encoding`` (packet formats), ``width``, ``height``,
``first_stamp_ns``/``last_stamp_ns`` (a bag's header stamps), then from
decoding the whole stream: ``events``, ``on``, ``off``, ``cd_time_sum_us``
(sum over CD events of ``t_ns // 1000``), ``triggers``, ``triggers_rising``,
``triggers_falling``, ``trigger_time_sum_us``, ``dropped_out_of_range``,
``dropped_invalid_time``, ``unknown_words``, ``truncated_bytes``,
``lost_packets``, ``repeated_packets``, ``bad_packets`` (rejected),
``warnings`` (decoded but suspect), ``first_error``, ``first_warning``,
``first_event_ns``/``last_event_ns`` (first and last CD event in stream
order), ``t_min_ns``/``t_max_ns``, ``decode_s`` (packet formats: time in the
decoder, reading excluded; else reading and converting), ``events_per_s`` and
``mbytes_per_s`` (packet formats: decode throughput).
"""
from __future__ import annotations

import json
import time

from seal_ros.cli import CliError
from seal_ros.cli._recording import add_input_options, open_input

DECODER_FIELDS = ("on", "off", "triggers", "triggers_rising", "triggers_falling", "dropped_out_of_range",
                  "dropped_invalid_time", "unknown_words", "truncated_bytes", "lost_packets",
                  "repeated_packets", "bad_packets", "warnings")


def _sum_us(t_ns) -> int:
    """Exact sum of ``t // 1000`` (Python int: the int64 sum of epoch times overflows)."""
    us = t_ns // 1000
    base = int(us.min())
    return base * len(us) + int((us - base).sum())


class _Totals:
    def __init__(self):
        self.events = self.cd_sum = self.tr_sum = 0
        self.first = self.last = self.t_min = self.t_max = None

    def add(self, ev, tr) -> None:
        if len(ev):
            t = ev.t
            self.events += len(ev)
            self.cd_sum += _sum_us(t)
            lo, hi = int(t.min()), int(t.max())
            self.first = int(t[0]) if self.first is None else self.first
            self.last = int(t[-1])
            self.t_min = lo if self.t_min is None else min(self.t_min, lo)
            self.t_max = hi if self.t_max is None else max(self.t_max, hi)
        if len(tr):
            self.tr_sum += _sum_us(tr.t)


def stats(path, topic=None, decode: bool = True, args=None, **options) -> dict:
    """The JSON object for ``path``; :class:`CliError` when it cannot be read."""
    from seal_ros.io.recordings import RecordingError, open_recording

    try:
        rec = open_input(path, args, topic=topic, **options) if args is not None else \
            open_recording(path, topic=topic, **options)
        with rec:
            return _stats(rec, decode)
    except RecordingError as exc:
        raise CliError(str(exc)) from None


def _stats(rec, decode: bool) -> dict:
    from seal_ros.events.decoders import SUPPORTED_ENCODINGS, warm_up
    from seal_ros.events.stream import EventStream

    out = {"input": str(rec.path), "format": rec.format, "topic": rec.details.get("topic"), "messages": None,
           "encoding": rec.encoding, "width": rec.width, "height": rec.height, "first_stamp_ns": None,
           "last_stamp_ns": None}
    tot = _Totals()
    first_error = first_warning = None
    nbytes = 0
    spent = 0.0
    s: dict = {}
    if rec.encoding is not None:
        out["messages"] = 0
        stream = EventStream()
        bag = rec.format in ("rosbag2", "rosbag1")
        if decode and rec.encoding in SUPPORTED_ENCODINGS:
            warm_up([rec.encoding])  # JIT outside the timed part
        for pkt in rec.packets():
            if bag:
                out["first_stamp_ns"] = pkt.stamp_ns if out["messages"] == 0 else out["first_stamp_ns"]
                out["last_stamp_ns"] = pkt.stamp_ns
            out["messages"] += 1
            if not decode:
                continue
            t0 = time.perf_counter()
            res = stream.push(pkt)
            spent += time.perf_counter() - t0
            nbytes += len(pkt.events)
            where = f"message {out['messages'] - 1} (seq {pkt.seq})"
            if res.error and first_error is None:
                first_error = f"{where}: {res.error}"
            if res.warning and first_warning is None:
                first_warning = f"{where}: {res.warning}"
            tot.add(res.events, res.triggers)
        s = stream.stats
        s["truncated_bytes"] = s.get("truncated_bytes", 0) + rec.stats.get("truncated_bytes", 0)
    elif decode:
        t0 = time.perf_counter()
        for chunk in rec.chunks():
            tot.add(chunk.events, chunk.triggers)
            s["lost_packets"] = s.get("lost_packets", 0) + chunk.lost_packets
            s["triggers"] = s.get("triggers", 0) + len(chunk.triggers)
            s["triggers_rising"] = s.get("triggers_rising", 0) + int(chunk.triggers.edge.sum())
            s["on"] = s.get("on", 0) + int(chunk.events.p.sum())
        spent = time.perf_counter() - t0
        s["off"] = tot.events - s.get("on", 0)
        s["triggers_falling"] = s.get("triggers", 0) - s.get("triggers_rising", 0)
        s["dropped_out_of_range"] = rec.stats.get("dropped_out_of_range", 0)
    if not decode:
        return out
    out["events"] = tot.events
    out["cd_time_sum_us"] = tot.cd_sum
    out.update({k: int(s.get(k, 0)) for k in DECODER_FIELDS})
    out["trigger_time_sum_us"] = tot.tr_sum
    out["first_error"] = first_error
    out["first_warning"] = first_warning
    out.update(first_event_ns=tot.first, last_event_ns=tot.last, t_min_ns=tot.t_min, t_max_ns=tot.t_max)
    out["decode_s"] = round(spent, 6)
    out["events_per_s"] = round(tot.events / spent) if spent > 0 else None
    out["mbytes_per_s"] = round(nbytes / spent / 1e6, 3) if spent > 0 and nbytes else None
    return out


def run(args) -> int:
    result = stats(args.input, args.topic, decode=not args.no_decode, args=args)
    print(json.dumps(result))
    return 0


def register(sub) -> None:
    p = sub.add_parser("decode-stats", help="summarise (and decode) any event recording as JSON")
    p.add_argument("input", help="recording: rosbag2 / ROS 1 bag, Prophesee RAW, events.h5, text, EVREAL, AEDAT4")
    add_input_options(p)
    p.add_argument("--no-decode", action="store_true", help="only count messages (no decoding fields)")
    p.set_defaults(func=run)
