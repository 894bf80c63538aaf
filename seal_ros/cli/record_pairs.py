"""``seal-ros record-pairs EVENT_SOURCE IMAGE_SOURCE --out DIR``: build a pairs dataset offline.

EVENT_SOURCE is any recording seal-ros reads (a bag's event topic, a Prophesee
RAW file, events.h5, text, EVREAL, AEDAT4); IMAGE_SOURCE is a recording with
frames (it may be the same one): a bag's ``sensor_msgs/Image`` topic, an
AEDAT4 file's APS frames (their exposure intervals are used), a recorder or
DSEC directory's images, an ECD folder. The dataset is the one the
``pair_recorder`` node writes.
"""
from __future__ import annotations

import json
from pathlib import Path

from seal_ros.cli import CliError
from seal_ros.cli._recording import add_input_options, open_input


def register(subparsers) -> None:
    p = subparsers.add_parser("record-pairs", help="build an event/image pairs dataset (DSEC layout) offline",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("events", metavar="EVENT_SOURCE", help="recording with events (bag, RAW, events.h5, text, ...)")
    p.add_argument("images", metavar="IMAGE_SOURCE", help="recording with frames (may be the same)")
    p.add_argument("--out", required=True, help="dataset directory to create (must not exist or be empty)")
    add_input_options(p, topic_flags=("--events-topic", "--topic"))
    p.add_argument("--window-ms", type=float, default=50.0, help="window before each image stamp (default 50)")
    p.add_argument("--offset-ms", type=float, default=0.0, help="added to both window ends (default 0)")
    p.add_argument("--no-exposure", action="store_true", help="ignore exposure intervals, always use the window")
    p.add_argument("--min-events", type=int, default=0, help="skip pairs with fewer events")
    p.add_argument("--keep-empty", action="store_true", help="write images with no events (flagged empty)")
    p.add_argument("--compression", choices=("", "lzf", "gzip"), default="", help="HDF5 event compression")
    p.set_defaults(func=run)


def _event_batches(rec, session):
    """Yield (EventArray, lost_packets, raw_bytes) batches; sets the session's sensor size."""
    from seal_ros.events.stream import EventStream

    session.set_sensor_size(rec.width, rec.height)
    if rec.encoding is None:
        for chunk in rec.chunks():
            yield chunk.events, chunk.lost_packets, 0  # no packet payload to count
        return
    stream = EventStream()
    for pk in rec.packets():
        d = stream.push(pk)
        yield d.events, d.lost_packets, int(pk.events.nbytes)


def _images(rec):
    """Yield (stamp_ns, image, exposure or None) in source order (exposure: where the format records one)."""
    for f in rec.frames():
        known = f.exposure_end_ns > f.exposure_start_ns
        yield f.t_ns, f.image, (f.exposure_start_ns, f.exposure_end_ns) if known else None


def record(args) -> dict:
    from seal_ros.io.recordings import RecordingError
    from seal_ros.recorder.reader import validate
    from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession

    out = Path(args.out)
    ev_rec = open_input(args.events, args)
    img_rec = open_input(args.images, args, topic=None, events_required=False)
    if not img_rec.has_frames:
        raise CliError(f"{args.images}: no frames in this {img_rec.format} recording")
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
        images = _images(img_rec)
        nxt = next(images, None)
        for events, lost, raw in _event_batches(ev_rec, session):
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
    except RecordingError as exc:
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
