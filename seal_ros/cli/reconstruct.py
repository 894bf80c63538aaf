"""``seal-ros reconstruct INPUT --method M --out DIR``: event-to-video on a recording.

Writes ``frame_000000.png`` ... (mono8) and ``timestamps.txt`` (one line per
frame: ``<file name> <window end, ns>``), plus ``video.mp4`` with ``--mp4``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from seal_ros.cli import CliError
from seal_ros.cli._choices import E2V_METHODS
from seal_ros.cli._recording import add_input_options, open_input

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
    from seal_ros.io.images import to_gray
    from seal_ros.io.media import write_clip
    from seal_ros.io.recordings import RecordingError

    rec = open_input(args.input, args)
    if args.method == "cf" and not rec.has_frames:
        raise CliError(f"{args.input}: method cf (complementary filter) needs intensity frames; the recording "
                       f"({rec.format}) has none")
    try:
        r = Reconstructor(args.method, rec.width, rec.height, args.device, args.checkpoint, cutoff_hz=args.cutoff_hz,
                          unsharp_amount=args.unsharp, auto_hdr=args.auto_hdr, padding=args.padding,
                          init_from_frame=args.init_from_frame)
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = iter(rec.frames()) if args.method == "cf" else iter(())
    nxt = next(frames, None)
    windower = _windower(args, rec.width, rec.height)
    written, stamps = [], []

    def emit(window):
        nonlocal nxt
        while nxt is not None and nxt.t_ns <= window.t1:
            try:
                r.add_frame(nxt.t_ns, to_gray(nxt.image))
            except ValueError as exc:
                print(f"seal-ros reconstruct: skipping a frame: {exc}", file=sys.stderr)
            nxt = next(frames, None)
        img = r.process(window.events, window.t1)
        name = f"frame_{len(written):06d}.png"
        iio.imwrite(out / name, img)
        written.append(img)
        stamps.append(f"{name} {window.t1}")

    try:
        for chunk in rec.chunks():
            for w in windower.feed(chunk.events, chunk.lost_packets):
                emit(w)
                if args.max_frames and len(written) >= args.max_frames:
                    break
            if args.max_frames and len(written) >= args.max_frames:
                break
        else:
            for w in windower.flush():
                emit(w)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
    (out / TIMESTAMPS).write_text("# file window_end_ns\n" + "\n".join(stamps) + ("\n" if stamps else ""))
    result = {"frames": len(written), "out": str(out), "width": rec.width, "height": rec.height,
              "method": args.method, "resets": r.resets, "format": rec.format,
              "decode_errors": int(rec.stats.get("bad_packets", 0))}
    if args.mp4 and written:
        fps = 1000.0 / args.window_ms if not args.window_events else 30.0
        result["mp4"] = str(write_clip(out / "video.mp4", written, fps=fps))
    return result


def run(args) -> int:
    import json

    print(json.dumps(reconstruct(args)))
    return 0


def add_common(p) -> None:
    p.add_argument("input", help="recording: rosbag2 / ROS 1 bag, Prophesee RAW, events.h5, text, EVREAL folder, "
                                 "AEDAT4 (see the README's formats table)")
    p.add_argument("--method", default="hpf", choices=E2V_METHODS,
                   help="reconstruction method (default hpf; cf needs the recording's frames)")
    p.add_argument("--checkpoint", default=None,
                   help="network weights file as published (rpg_e2vid / EVREAL / event_cnn_minimal) for networks")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    add_input_options(p)
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
