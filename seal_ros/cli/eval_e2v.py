"""``seal-ros eval-e2v INPUT --method M``: score reconstructions against a recording's frames, as EVREAL does.

``--protocol evreal`` (the only one, and the default) is EVREAL's ``std``
evaluation step by step (:mod:`seal_ros.e2v.evreal`): its dataset layout, its
windows, its warm-up item, its padding and normalisation per method, its
metrics. INPUT is a folder in EVREAL's layout (read directly) or any recording
with intensity frames (bags with an Image topic, AEDAT4, DSEC events.h5 with
images, ...: the recording registry), converted to that layout in memory
exactly as EVREAL's ``tools/bag_to_npy.py`` converts a bag (``--export-evreal DIR`` also writes it out, for EVREAL's own
``eval.py``). Prints one JSON object: means and per-frame values.
"""
from __future__ import annotations

import json

from seal_ros.cli import CliError


def load_sequence(args):
    """The input as an :class:`~seal_ros.io.evreal.EvrealRecording`, and how many events fell outside the sensor.

    Any recording the registry reads (:func:`seal_ros.io.recordings.open_recording`); an EVREAL folder is
    used as it is, anything else is converted as ``bag_to_npy`` converts a bag."""
    import numpy as np

    from seal_ros.cli._recording import open_input
    from seal_ros.events.types import EventArray
    from seal_ros.io.images import to_gray
    from seal_ros.io.recordings import RecordingError
    from seal_ros.io.evreal import to_evreal, write_evreal

    rec = open_input(args.input, args)
    if rec.format == "evreal-npy":
        return rec.seq, 0
    try:
        events = EventArray.concatenate([c.events for c in rec.chunks()])
        frames = sorted(rec.frames(), key=lambda f: f.t_ns)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
    if len(frames) < 2:
        raise CliError(f"{args.input}: needs at least 2 intensity frames to evaluate, found {len(frames)} "
                       f"({rec.format})")
    inside = (events.x < rec.width) & (events.y < rec.height)
    if not inside.all():
        events = events[inside]
    try:
        images, stamps = [to_gray(f.image) for f in frames], np.array([f.t_ns for f in frames], np.int64)
        seq = to_evreal(events, images, stamps, rec.width, rec.height)
        if args.export_evreal:
            write_evreal(args.export_evreal, events, images, stamps, rec.width, rec.height)
    except ValueError as exc:
        raise CliError(f"{args.input}: {exc}") from None
    seq.path = args.input
    return seq, int((~inside).sum())


def evaluate(args) -> dict:
    from seal_ros.e2v import evreal
    from seal_ros.e2v.checkpoint import CheckpointError, load_checkpoint
    from seal_ros.e2v.metrics import Lpips
    from seal_ros.e2v.reconstructor import FILTERS, resolve_device

    seq, outside = load_sequence(args)
    model, device, notes = None, "cpu", []
    if outside:
        notes.append(f"{outside} events outside the {seq.width}x{seq.height} sensor left out (events_outside_sensor)")
    try:
        if args.method not in FILTERS:
            if not args.checkpoint:
                raise CliError(f"method {args.method!r} needs --checkpoint (no weights ship with seal_ros)")
            device = resolve_device(args.device)
            model = load_checkpoint(args.checkpoint, args.method, device).model
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    lpips = None
    if args.no_lpips:
        notes.append("LPIPS not computed: --no-lpips")
    else:
        lpips, why = Lpips.load(device)
        if why:
            notes.append(why)
    if evreal.METHODS[args.method].evreal_name is None:
        notes.append(f"{args.method} is not an EVREAL method: scored on EVREAL's windows and metrics, "
                     "no published number to compare with")
    filter_kw = {} if args.cutoff_hz is None else {"cutoff_hz": args.cutoff_hz}
    try:
        result = evreal.evaluate(seq, args.method, model=model, device=device, start_s=args.start_s,
                                 end_s=args.end_s, lpips=lpips, filter_kw=filter_kw)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    notes += result.pop("notes")
    return {"input": str(args.input), "checkpoint": args.checkpoint, **result, "events_outside_sensor": outside,
            "notes": notes}


def run(args) -> int:
    result = evaluate(args)
    text = json.dumps(result)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


def register(sub) -> None:
    from seal_ros.cli.reconstruct import add_common

    p = sub.add_parser("eval-e2v", help="score event-to-video reconstruction against frames with EVREAL's protocol "
                                        "(MSE, SSIM, LPIPS)")
    add_common(p)
    p.add_argument("--protocol", default="evreal", choices=("evreal",),
                   help="evaluation protocol (default evreal: EVREAL's std config, step by step)")
    p.add_argument("--start-s", type=float, default=None,
                   help="score frames from this time (s, EVREAL's zeroed clock; its config/dataset start_time_s)")
    p.add_argument("--end-s", type=float, default=None, help="score frames up to this time (EVREAL's end_time_s)")
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS even when its weights are present")
    p.add_argument("--export-evreal", default=None, metavar="DIR",
                   help="also write the input in EVREAL's dataset layout to DIR (bag / AEDAT4 input)")
    p.add_argument("--json-out", default=None, help="also write the JSON result to this file")
    p.set_defaults(func=run)
