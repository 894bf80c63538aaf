"""``seal-ros reconstruct INPUT --method M --out DIR``: event-to-video on a recording.

Writes ``frame_000000.png`` ... (mono8) and ``timestamps.txt`` (one line per
frame: ``<file name> <window end, ns>``), plus ``video.mp4`` with ``--mp4``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from seal_ros.cli import CliError

TIMESTAMPS = "timestamps.txt"


def _windower(args, width, height):
    from seal_ros.events.buffer import CountWindower, DurationWindower

    if args.window_events:
        return CountWindower(args.window_events)
    return DurationWindower(int(args.window_ms * 1e6))


def reconstruct(args, progress=None) -> dict:
    import imageio.v3 as iio

    from seal_ros.e2v.checkpoint import CheckpointError
    from seal_ros.e2v.reconstructor import Reconstructor
    from seal_ros.e2v.sources import SourceError, open_recording
    from seal_ros.io.media import write_clip

    try:
        rec = open_recording(args.input, topic=args.topic, image_topic=args.image_topic)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    if args.method == "cf" and not rec.frames:
        raise CliError(f"{args.input}: method cf (complementary filter) needs intensity frames; the recording has none")
    try:
        r = Reconstructor(args.method, rec.width, rec.height, args.device, args.checkpoint, cutoff_hz=args.cutoff_hz,
                          unsharp_amount=args.unsharp, auto_hdr=args.auto_hdr, padding=args.padding,
                          init_from_frame=args.init_from_frame)
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = sorted(rec.frames, key=lambda f: f[0]) if args.method == "cf" else []
    fi = 0
    windower = _windower(args, rec.width, rec.height)
    written, stamps = [], []

    def emit(window):
        nonlocal fi
        while fi < len(frames) and frames[fi][0] <= window.t1:
            try:
                r.add_frame(*frames[fi])
            except ValueError as exc:
                print(f"seal-ros reconstruct: skipping a frame: {exc}", file=sys.stderr)
            fi += 1
        img = r.process(window.events, window.t1)
        name = f"frame_{len(written):06d}.png"
        iio.imwrite(out / name, img)
        written.append(img)
        stamps.append(f"{name} {window.t1}")

    try:
        for events, lost in rec.chunks():
            for w in windower.feed(events, lost):
                emit(w)
                if args.max_frames and len(written) >= args.max_frames:
                    break
            if args.max_frames and len(written) >= args.max_frames:
                break
        else:
            for w in windower.flush():
                emit(w)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    (out / TIMESTAMPS).write_text("# file window_end_ns\n" + "\n".join(stamps) + ("\n" if stamps else ""))
    result = {"frames": len(written), "out": str(out), "width": rec.width, "height": rec.height,
              "method": args.method, "resets": r.resets, "decode_errors": rec.decode_errors}
    if args.mp4 and written:
        fps = 1000.0 / args.window_ms if not args.window_events else 30.0
        result["mp4"] = str(write_clip(out / "video.mp4", written, fps=fps))
    return result


def run(args) -> int:
    import json

    print(json.dumps(reconstruct(args)))
    return 0


def add_common(p) -> None:
    from seal_ros.e2v.reconstructor import ALL_METHODS

    p.add_argument("input", help="rosbag2 bag (directory, .mcap or .db3), AEDAT4 file, or a folder in EVREAL's "
                                 "dataset layout")
    p.add_argument("--method", default="hpf", choices=ALL_METHODS,
                   help="reconstruction method (default hpf; cf needs the recording's frames)")
    p.add_argument("--checkpoint", default=None,
                   help="network weights file as published (rpg_e2vid / EVREAL / event_cnn_minimal) for networks")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--topic", default=None, help="events topic in a bag (default: its EventPacket topic)")
    p.add_argument("--image-topic", default=None,
                   help="intensity frames topic in a bag (default: its first Image topic)")
    p.add_argument("--cutoff-hz", type=float, default=None,
                   help="filter cutoff frequency (Hz; default the reference's: 0.06 hpf, 0.5 cf)")


def register(sub) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct grayscale video from events (PNG frames + timestamps)")
    add_common(p)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--window-ms", type=float, default=33.3, help="window duration in ms (default 33.3)")
    p.add_argument("--window-events", type=int, default=0, help="windows of N events instead of a duration")
    p.add_argument("--unsharp", type=float, default=None,
                   help="networks: rpg's unsharp-mask amount, applied before rescaling (default 0.3)")
    p.add_argument("--auto-hdr", action="store_true",
                   help="networks: rpg's auto-HDR intensity range (off by default, as in rpg_e2vid)")
    p.add_argument("--padding", default="reflect", choices=("reflect", "zero"),
                   help="networks: pad inputs to the stride by reflection (rpg_e2vid, default) or zeros (EVREAL)")
    p.add_argument("--init-from-frame", action="store_true",
                   help="cf: start from the first frame instead of 0 (seal_ros option; no fade-in from black)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    p.add_argument("--mp4", action="store_true", help="also write video.mp4")
    p.set_defaults(func=run)
