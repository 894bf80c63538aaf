"""``seal-ros eval-e2v INPUT --method M``: score reconstructions against the recording's APS frames.

EVREAL protocol: for each pair of consecutive frames, the events between them
form one window (``[t_k, t_{k+1})``, fed to the method as a 5-bin voxel grid
for networks); the reconstruction at ``t_{k+1}`` is compared with frame
``k+1``. Both images are floats clipped to [0, 1] (frames / 255); MSE is the
mean squared difference; SSIM is ``skimage.metrics.structural_similarity``
with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1``. Prints one JSON object (means and per-frame values).
"""
from __future__ import annotations

import json

from seal_ros.cli import CliError


def evaluate(args) -> dict:
    import numpy as np
    from skimage.metrics import structural_similarity

    from seal_ros.e2v.checkpoint import CheckpointError
    from seal_ros.e2v.reconstructor import Reconstructor
    from seal_ros.e2v.sources import SourceError, open_recording
    from seal_ros.events.buffer import EventBuffer
    from seal_ros.events.types import EventArray

    try:
        rec = open_recording(args.input, topic=args.topic, image_topic=args.image_topic)
        chunks = list(rec.chunks())
    except SourceError as exc:
        raise CliError(str(exc)) from None
    frames = sorted(rec.frames, key=lambda f: f[0])
    if len(frames) < 2:
        raise CliError(f"{args.input}: needs at least 2 intensity frames to evaluate, found {len(frames)}")
    try:
        r = Reconstructor(args.method, rec.width, rec.height, args.device, args.checkpoint,
                          cutoff_hz=args.cutoff_hz, unsharp_amount=0.0)
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    events = EventArray.concatenate([c for c, _ in chunks])
    buf = EventBuffer(max(1, len(events)))
    buf.append(events)
    per = []
    for (t0, _), (t1, gt_img) in zip(frames[:-1], frames[1:]):
        if gt_img.shape != (rec.height, rec.width):
            raise CliError(f"frame at {t1} ns is {gt_img.shape[1]}x{gt_img.shape[0]}, sensor {rec.width}x{rec.height}")
        window = buf.window(t0, t1)
        r.process(window.events, t1)
        pred = np.clip(r.last_intensity.astype(np.float64), 0.0, 1.0)
        gt = np.clip(gt_img.astype(np.float64) / 255.0, 0.0, 1.0)
        mse = float(np.mean((pred - gt) ** 2))
        ssim = float(structural_similarity(gt, pred, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False))
        per.append({"t_ns": int(t1), "events": len(window.events), "mse": mse, "ssim": ssim})
    return {"input": str(args.input), "method": args.method, "checkpoint": args.checkpoint, "pairs": len(per),
            "mse": float(np.mean([p["mse"] for p in per])), "ssim": float(np.mean([p["ssim"] for p in per])),
            "per_frame": per}


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

    p = sub.add_parser("eval-e2v", help="score event-to-video reconstruction against APS frames (EVREAL: MSE, SSIM)")
    add_common(p)
    p.add_argument("--json-out", default=None, help="also write the JSON result to this file")
    p.set_defaults(func=run)
