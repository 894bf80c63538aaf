"""``seal-ros decode-stats BAG``: what an event bag holds, decoded, as one JSON object.

Fields: ``bag``, ``topic``, ``messages``, ``encoding``, ``width``, ``height``,
``first_stamp_ns``/``last_stamp_ns`` (header stamps), then from decoding the
whole stream with one :class:`~seal_ros.events.stream.EventStream`:
``events``, ``on``, ``off``, ``cd_time_sum_us`` (sum over CD events of
``t_ns // 1000``), ``triggers``, ``triggers_rising``, ``triggers_falling``,
``trigger_time_sum_us``, ``dropped_out_of_range``, ``dropped_invalid_time``,
``unknown_words``, ``truncated_bytes``, ``lost_packets``, ``repeated_packets``,
``bad_packets`` (rejected), ``warnings`` (decoded but suspect), ``first_error``,
``first_warning``, ``first_event_ns``/``last_event_ns`` (first
and last decoded CD event in stream order), ``t_min_ns``/``t_max_ns``,
``decode_s`` (time spent decoding, reading excluded), ``events_per_s`` and
``mbytes_per_s`` (decode throughput).
"""
from __future__ import annotations

import json
import time

from seal_ros.cli import CliError
from seal_ros.io.bags import BagError, BagReader

DECODER_FIELDS = ("on", "off", "triggers", "triggers_rising", "triggers_falling", "dropped_out_of_range",
                  "dropped_invalid_time", "unknown_words", "truncated_bytes", "lost_packets",
                  "repeated_packets", "bad_packets", "warnings")


def _sum_us(t_ns) -> int:
    """Exact sum of ``t // 1000`` (Python int: the int64 sum of epoch times overflows)."""
    us = t_ns // 1000
    base = int(us.min())
    return base * len(us) + int((us - base).sum())


def stats(path, topic=None, decode: bool = True) -> dict:
    from seal_ros.events.stream import EventStream

    out = {"bag": str(path), "topic": None, "messages": 0, "encoding": None, "width": None, "height": None,
           "first_stamp_ns": None, "last_stamp_ns": None}
    stream = EventStream()
    ev_n = cd_sum = tr_sum = 0
    first_ev = last_ev = t_min = t_max = None
    first_error = first_warning = None
    nbytes = 0
    spent = 0.0
    with BagReader(path) as bag:
        out["topic"] = bag.topic_of_type("event_camera_msgs/msg/EventPacket", topic)
        for pkt in bag.event_packets(out["topic"]):
            if out["messages"] == 0:
                out.update(encoding=pkt.encoding, width=pkt.width, height=pkt.height, first_stamp_ns=pkt.stamp_ns)
            out["messages"] += 1
            out["last_stamp_ns"] = pkt.stamp_ns
            if not decode:
                continue
            if out["messages"] == 1:
                from seal_ros.events.decoders import SUPPORTED_ENCODINGS, warm_up

                if pkt.encoding in SUPPORTED_ENCODINGS:
                    warm_up([pkt.encoding])  # JIT outside the timed part
            t0 = time.perf_counter()
            res = stream.push(pkt)
            spent += time.perf_counter() - t0
            nbytes += len(pkt.events)
            if res.error and first_error is None:
                first_error = f"message {out['messages'] - 1} (seq {pkt.seq}): {res.error}"
            if res.warning and first_warning is None:
                first_warning = f"message {out['messages'] - 1} (seq {pkt.seq}): {res.warning}"
            ev, tr = res.events, res.triggers
            if len(ev):
                t = ev.t
                ev_n += len(ev)
                cd_sum += _sum_us(t)
                lo, hi = int(t.min()), int(t.max())
                first_ev = int(t[0]) if first_ev is None else first_ev
                last_ev = int(t[-1])
                t_min = lo if t_min is None else min(t_min, lo)
                t_max = hi if t_max is None else max(t_max, hi)
            if len(tr):
                tr_sum += _sum_us(tr.t)
    if not decode:
        return out
    s = stream.stats
    out["events"] = ev_n
    out["cd_time_sum_us"] = cd_sum
    out.update({k: int(s.get(k, 0)) for k in DECODER_FIELDS})
    out["trigger_time_sum_us"] = tr_sum
    out["first_error"] = first_error
    out["first_warning"] = first_warning
    out.update(first_event_ns=first_ev, last_event_ns=last_ev, t_min_ns=t_min, t_max_ns=t_max)
    out["decode_s"] = round(spent, 6)
    out["events_per_s"] = round(ev_n / spent) if spent > 0 else None
    out["mbytes_per_s"] = round(nbytes / spent / 1e6, 3) if spent > 0 else None
    return out


def run(args) -> int:
    try:
        result = stats(args.bag, args.topic, decode=not args.no_decode)
    except BagError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(result))
    return 0


def register(sub) -> None:
    p = sub.add_parser("decode-stats", help="summarise (and decode) an event_camera_msgs bag as JSON")
    p.add_argument("bag", help="rosbag2 directory, or a .mcap/.db3 file")
    p.add_argument("--topic", default=None, help="events topic (default: the bag's EventPacket topic)")
    p.add_argument("--no-decode", action="store_true", help="only count messages (no decoding fields)")
    p.set_defaults(func=run)
