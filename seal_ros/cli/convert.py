"""``seal-ros convert INPUT OUTPUT``: any recording to a rosbag2 bag of ``event_camera_msgs/EventPacket``.

INPUT is anything ``seal-ros`` reads (see :mod:`seal_ros.io.recordings`);
OUTPUT a new rosbag2 directory (MCAP or sqlite3). Events become EventPackets
in ``--encoding`` (evt3 by default; a RAW file in its own encoding keeps its
words unchanged, a bag of EventPackets in its own encoding keeps its packets),
``--packet-ms`` long, stamped in ROS time as drivers stamp them (see
:mod:`seal_ros.io.packetize`); frames go to ``sensor_msgs/Image`` and IMU
samples to ``sensor_msgs/Imu`` on their own topics. Prints one JSON summary.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from seal_ros.cli import CliError
from seal_ros.cli._choices import ENCODINGS
from seal_ros.cli._recording import add_input_options, open_input


def convert(args) -> dict:
    from seal_ros.io.bag_writer import EventBagWriter
    from seal_ros.io.packetize import Clock, event_packets, mode_of, timeline
    from seal_ros.io.recordings import RecordingError

    out = Path(args.output)
    if out.exists():
        raise CliError(f"{out}: already exists (rosbag2 writes a new directory)")
    rec = open_input(args.input, args)
    stats: dict = {}
    clock = Clock(rec, None if args.start_time is None else int(round(args.start_time * 1e9)))
    summary = {"input": str(rec.path), "format": rec.format, "output": str(out), "storage": args.storage,
               "encoding": args.encoding, "width": rec.width, "height": rec.height}
    first = last = None
    try:
        packets = event_packets(rec, args.encoding, int(round(args.packet_ms * 1e6)), frame_id=args.frame_id,
                                clock=clock, stats=stats)
        summary["mode"] = mode_of(rec, args.encoding)
        out.parent.mkdir(parents=True, exist_ok=True)
        with EventBagWriter(out, args.storage, args.events_topic, args.out_image_topic, args.imu_topic,
                            args.frame_id) as w:
            for stamp, kind, item in timeline(rec, packets, clock, frames=not args.no_frames, imu=not args.no_imu):
                if kind == "events":
                    w.add_packet(item)
                    first = stamp if first is None else first
                    last = stamp
                elif kind == "frame":
                    w.add_image(stamp, item.image)
                else:
                    w.add_imu(stamp, item)
            summary.update(w.counts)
    except RecordingError as exc:
        shutil.rmtree(out, ignore_errors=True)  # ours: no half-written bag is left behind
        raise CliError(str(exc)) from None
    summary.update(first_stamp_ns=first, last_stamp_ns=last, stats=stats)
    return summary


def run(args) -> int:
    print(json.dumps(convert(args)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("convert", help="any recording -> rosbag2 bag of event_camera_msgs/EventPacket (+ images)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("input", help="recording (RAW, bag, events.h5, text, EVREAL, AEDAT4)")
    p.add_argument("output", help="rosbag2 directory to create")
    add_input_options(p)
    p.add_argument("--encoding", default="evt3", choices=[e for e in ENCODINGS if e != "trigger"],
                   help="EventPacket encoding (default evt3)")
    p.add_argument("--packet-ms", type=float, default=1.0, help="packet duration in ms (default 1)")
    p.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help="rosbag2 storage (default mcap)")
    p.add_argument("--events-topic", default="/event_camera/events", help="output events topic")
    p.add_argument("--out-image-topic", default="/event_camera/image", help="output frames topic")
    p.add_argument("--imu-topic", default="/event_camera/imu", help="output IMU topic")
    p.add_argument("--frame-id", default="event_camera", help="header frame_id of new packets and images")
    p.add_argument("--start-time", type=float, default=None,
                   help="ROS time (s) of the first packet (default: the recording's own clock)")
    p.add_argument("--no-frames", action="store_true", help="do not write frames")
    p.add_argument("--no-imu", action="store_true", help="do not write IMU samples")
    p.set_defaults(func=run)
