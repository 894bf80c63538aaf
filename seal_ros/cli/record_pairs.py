"""``seal-ros record-pairs EVENT_SOURCE IMAGE_SOURCE --out DIR``: build a pairs dataset offline.

EVENT_SOURCE is a rosbag2 bag (an ``event_camera_msgs/EventPacket`` topic) or
an AEDAT4 file; IMAGE_SOURCE is a bag with a ``sensor_msgs/Image`` topic (it
may be the same bag) or an AEDAT4 file with frames (their exposure intervals
are used). The dataset is the one the ``pair_recorder`` node writes.
"""
from __future__ import annotations

import json
from pathlib import Path

from seal_ros.cli import CliError

EVENT_CHUNK = 100_000  # events fed per step for AEDAT4 sources


def register(subparsers) -> None:
    p = subparsers.add_parser("record-pairs", help="build an event/image pairs dataset (DSEC layout) offline",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("events", metavar="EVENT_SOURCE", help="rosbag2 bag or .aedat4 file with events")
    p.add_argument("images", metavar="IMAGE_SOURCE", help="rosbag2 bag (may be the same) or .aedat4 file with frames")
    p.add_argument("--out", required=True, help="dataset directory to create (must not exist or be empty)")
    p.add_argument("--events-topic", default=None, help="EventPacket topic (default: the only/first one)")
    p.add_argument("--image-topic", default=None, help="sensor_msgs/Image topic (default: the only/first one)")
    p.add_argument("--window-ms", type=float, default=50.0, help="window before each image stamp (default 50)")
    p.add_argument("--offset-ms", type=float, default=0.0, help="added to both window ends (default 0)")
    p.add_argument("--no-exposure", action="store_true", help="ignore exposure intervals, always use the window")
    p.add_argument("--min-events", type=int, default=0, help="skip pairs with fewer events")
    p.add_argument("--keep-empty", action="store_true", help="write images with no events (flagged empty)")
    p.add_argument("--compression", choices=("", "lzf", "gzip"), default="", help="HDF5 event compression")
    p.set_defaults(func=run)


def _is_aedat(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".aedat4", ".aedat")


def _event_batches(src: Path, topic, session):
    """Yield (EventArray, lost_packets, raw_bytes) batches; sets the session's sensor size."""
    from seal_ros.events.stream import EventStream
    from seal_ros.io.bags import BagReader

    if _is_aedat(src):
        rec = _read_aedat(src)
        session.set_sensor_size(rec.width, rec.height)
        ev = rec.events
        for i in range(0, len(ev), EVENT_CHUNK):
            yield ev[i:i + EVENT_CHUNK], 0, 0  # AEDAT4: no packet payload to count
        return
    stream = EventStream()
    with BagReader(src) as bag:
        for pk in bag.event_packets(topic):
            if session.writer.width == 0:
                session.set_sensor_size(pk.width, pk.height)
            d = stream.push(pk)
            yield d.events, d.lost_packets, int(pk.events.nbytes)


_AEDAT_CACHE: dict = {}


def _read_aedat(path: Path):
    from seal_ros.io.aedat import AedatError, read_aedat4

    key = str(path.resolve())
    if key not in _AEDAT_CACHE:
        try:
            _AEDAT_CACHE.clear()
            _AEDAT_CACHE[key] = read_aedat4(path)
        except AedatError as exc:
            raise CliError(str(exc)) from None
    return _AEDAT_CACHE[key]


def _images(src: Path, topic):
    """Yield (stamp_ns, image, exposure or None) in source order."""
    from seal_ros.io.bags import BagReader

    if _is_aedat(src):
        for f in _read_aedat(src).frames:
            yield f.t_ns, f.image, (f.exposure_start_ns, f.exposure_end_ns)
        return
    with BagReader(src) as bag:
        for stamp, img in bag.images(topic):
            yield stamp, img, None


def record(args) -> dict:
    from seal_ros.io.bags import BagError
    from seal_ros.recorder.reader import validate
    from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession

    ev_src, img_src, out = Path(args.events), Path(args.images), Path(args.out)
    for p in (ev_src, img_src):
        if not p.exists():
            raise CliError(f"{p}: no such file or directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out}: exists and is not an empty directory")
    if out.exists():
        out.rmdir()
    cfg = RecorderConfig(window_ms=args.window_ms, offset_ms=args.offset_ms, use_exposure=not args.no_exposure,
                         min_events=args.min_events, skip_empty=not args.keep_empty, compression=args.compression,
                         reorder_ms=0.0, stall_ms=1e12)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        session = RecordingSession(out, cfg)
    except (RecorderError, OSError) as exc:
        raise CliError(str(exc)) from None
    try:
        images = _images(img_src, args.image_topic)
        nxt = next(images, None)
        for events, lost, raw in _event_batches(ev_src, args.events_topic, session):
            session.add_events(events, lost, raw)
            last = session.writer.last_event_us
            # feed the images whose windows these events may close, then pair what is complete
            while nxt is not None and last is not None and nxt[0] // 1000 <= last:
                session.add_image(*nxt)
                nxt = next(images, None)
            session.poll()
            if not session.recording:
                break
        while nxt is not None and session.recording:
            session.add_image(*nxt)
            nxt = next(images, None)
        session.stop("end_of_input")
    except BagError as exc:
        session.stop("input_error")
        raise CliError(str(exc)) from None
    stats = session.stats()
    if session.state == "failed":
        raise CliError(stats["last_error"])
    summary = validate(out)
    summary["skipped"] = stats["skips"]
    summary["lost_packets"] = stats["lost_packets"]
    summary["bytes_written"] = stats["bytes_written"]
    return summary


def run(args) -> int:
    summary = record(args)
    print(json.dumps(summary, indent=2))
    return 0 if summary["valid"] else 1
