#!/usr/bin/env python3
"""Automatic-mode latency: one window's prompt-free segmentation on the cached image embedding,
against the backbone measured in the same run (the peer). RANDOM weights (timing only).

    python bench/bench_auto.py --device cpu --iters 1                      # full size, CPU (minutes)
    python bench/bench_auto.py --device cuda --precision bf16 --iters 20   # the GPU target
    seal-ros bench auto -- --size tiny --iters 3                           # quick

For each grid (``--grids``, default 16 and 32 points a side; every grid point decoded, no density
points: the fixed cost of a full grid) and for the node's default prompts (16 x 16 grid with the
points far from events skipped, plus 64 density points) on a real 50 ms window of the shared evt3
recording: the points decoded in batches of ``--points-per-batch`` by SAM's decoder on the cached
embedding, then SAM's generator's filters and SEAL's head over the masks that survive them
(``automatic_masks``); the decoder's share is timed inside the same calls. With random weights the
filters at their default thresholds keep nothing, so they are opened (every candidate passes the
IoU and stability filters; box NMS, area and the head run on what is left): the worst case.

Target (GPU, bf16, 32 x 32): the automatic part within 25 ms a window. On the CPU the report is
the ratio to the backbone (the decoder and head should not dominate it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

GPU_TARGET_MS = 25.0
ROOT = Path(__file__).resolve().parents[1]


def _window(path, window_ms: float):
    """The first full window of the recording, through the node's path (packets -> WindowSource)."""
    from seal_ros.events.source import WindowSource
    from seal_ros.io.packetize import event_packets
    from seal_ros.io.recordings import open_recording

    src = WindowSource("duration", int(window_ms * 1e6))
    for p in event_packets(open_recording(path)):
        for w in src.push(p).windows:
            return w
    raise SystemExit(f"{path}: no full {window_ms} ms window")


def _time(fn, sync, iters, warmup=1):
    for _ in range(warmup):
        fn()
    sync()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out)


class _Timed:
    """The predictor, with the time spent in its decoder (``decode_points``) added up."""

    def __init__(self, pred, sync):
        self._pred, self._sync, self.decode_ms = pred, sync, 0.0

    def __getattr__(self, name):
        return getattr(self._pred, name)

    def decode_points(self, points):
        self._sync()
        t0 = time.perf_counter()
        out = self._pred.decode_points(points)
        self._sync()
        self.decode_ms += (time.perf_counter() - t0) * 1e3
        return out


def main(argv=None) -> int:
    from bench.bench_seal import RandomText
    from seal_ros.seal.build import CONFIGS, build_seal
    from seal_ros.seal.predictor import SealPredictor
    from seal_ros.segment.auto import AutoConfig, automatic_masks, generate_points
    from seal_ros.segment.event_images import make_event_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", default="vit_b", choices=sorted(CONFIGS))
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--grids", default="16,32", help="points per side, comma separated")
    ap.add_argument("--points-per-batch", type=int, default=256)
    ap.add_argument("--vocabulary", type=int, default=10, help="classes (+ 8 background classes)")
    ap.add_argument("--recording", default=str(ROOT.parent / "shared" / "data" / "evt3_640x480"))
    ap.add_argument("--window-ms", type=float, default=50.0)
    a = ap.parse_args(argv)

    dev = torch.device(a.device)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    torch.manual_seed(0)
    model = build_seal(a.size)
    pred = SealPredictor.for_deployment(model, RandomText(model.out_proj.out_features), a.device, dtype)
    names = [f"class{i}" for i in range(a.vocabulary)]
    pred.set_auto_vocabulary(names, [f"bg{i}" for i in range(8)])
    w = _window(a.recording, a.window_ms)
    img = make_event_image("voxel", w.window.events, w.width, w.height)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    key = iter(range(10**9))

    def backbone_ms():  # measured again next to every case: a shared machine's speed drifts
        t = _time(lambda: pred.set_image(img, key=next(key)), sync, a.iters)
        pred.set_image(img, key="bench")
        return t
    open_ = AutoConfig(pred_iou_thresh=0.0, stability_score_thresh=0.0, min_class_score=0.0,
                       points_per_batch=a.points_per_batch, max_instances=1000)
    cases = [(f"{g}x{g} grid", replace(open_, points_per_side=g, density_points=0, min_cell_events=0))
             for g in (int(v) for v in a.grids.split(","))]
    cases.append(("node default (16x16, skip empty, +64 density)", replace(open_, points_per_side=16)))
    print(f"automatic mode, {a.size} RANDOM weights, {a.device} {a.precision}, {w.width}x{w.height} window of "
          f"{w.count} events ({a.window_ms:g} ms), batches of {a.points_per_batch}, "
          f"{a.vocabulary} classes + 8 background; median of {a.iters}")
    for label, cfg in cases:
        backbone = backbone_ms()
        pts = generate_points(w.window.events, w.width, w.height, cfg)
        runs = []

        def run():
            timed = _Timed(pred, sync)
            out = automatic_masks(timed, w.window.events, w.width, w.height, cfg)
            runs.append((timed.decode_ms, out.stats))

        t_auto = _time(run, sync, a.iters)
        t_dec = statistics.median(r[0] for r in runs[-a.iters:])
        st = runs[-1][1]
        classified = st["candidates"] - sum(st[k] for k in ("dropped_iou", "dropped_stability", "dropped_empty",
                                                             "dropped_nms", "dropped_area", "dropped_prompted"))
        line = (f"  {label}: {len(pts)} points: automatic {t_auto:.1f} ms (decoder {t_dec:.1f} ms; "
                f"filters + head over {classified} masks {t_auto - t_dec:.1f} ms); peer: backbone "
                f"{backbone:.1f} ms (just before): automatic = {t_auto / backbone:.2f}x the backbone")
        if dev.type == "cuda" and "32x32" in label:
            line += f"; target {GPU_TARGET_MS:g} ms: {'met' if t_auto <= GPU_TARGET_MS else 'NOT met'}"
        print(line, flush=True)
    # random weights leave few masks after NMS: the head's cost at the node's most instances, on its own
    k = AutoConfig().max_instances
    g = pred.model.image_size
    masks = torch.zeros(k, g, g, dtype=torch.bool, device=dev)
    for i in range(k):
        masks[i, (i * g) // (2 * k):g // 2 + (i * g) // (2 * k), g // 4:(3 * g) // 4] = True
    tokens = torch.randn(k, model.eventsam.mask_decoder.transformer_dim, device=dev)
    t_head = _time(lambda: pred.classify_masks(masks, tokens), sync, a.iters)
    print(f"  SEAL's head over {k} masks (the node's auto_max_instances): {t_head:.1f} ms; peer: backbone "
          f"{backbone:.1f} ms: {t_head / backbone:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
