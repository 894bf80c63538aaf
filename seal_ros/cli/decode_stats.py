"""``seal-ros decode-stats BAG``: what an event bag holds, as one JSON object."""
from __future__ import annotations

import json

from seal_ros.cli import CliError
from seal_ros.io.bags import BagError, BagReader


def stats(path, topic=None) -> dict:
    out = {"bag": str(path), "topic": None, "messages": 0, "encoding": None, "width": None, "height": None,
           "first_stamp_ns": None, "last_stamp_ns": None}
    with BagReader(path) as bag:
        out["topic"] = bag.topic_of_type("event_camera_msgs/msg/EventPacket", topic)
        for pkt in bag.event_packets(out["topic"]):
            if out["messages"] == 0:
                out.update(encoding=pkt.encoding, width=pkt.width, height=pkt.height, first_stamp_ns=pkt.stamp_ns)
            out["messages"] += 1
            out["last_stamp_ns"] = pkt.stamp_ns
    return out


def run(args) -> int:
    try:
        result = stats(args.bag, args.topic)
    except BagError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(result))
    return 0


def register(sub) -> None:
    p = sub.add_parser("decode-stats", help="summarise (and decode) an event_camera_msgs bag as JSON")
    p.add_argument("bag", help="rosbag2 directory, or a .mcap/.db3 file")
    p.add_argument("--topic", default=None, help="events topic (default: the bag's EventPacket topic)")
    p.set_defaults(func=run)
