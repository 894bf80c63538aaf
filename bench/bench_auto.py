#!/usr/bin/env python3
"""Automatic-mode latency: one window's prompt-free segmentation on the cached image embedding,
against the backbone measured in the same run (the peer). RANDOM weights (timing only).

    python bench/bench_auto.py --device cpu --iters 1                      # full size, CPU (minutes)
    python bench/bench_auto.py --device cuda --precision bf16 --iters 20   # the GPU target
    seal-ros bench auto -- --quick       # the table run: a GPU when there is one (bf16, 20 runs), else
                                         # the CPU without the grids' warm-up runs (~1 min on 2 cores)
    seal-ros bench auto -- --size tiny --iters 3                           # the toy model

For each grid (``--grids``, default 16 and 32 points a side; every grid point decoded, no density
points: the fixed cost of a full grid) and for the node's default prompts (16 x 16 grid with the
points far from events skipped, plus 64 density points) on a real 50 ms window of the shared evt3
recording: the points decoded in batches of ``--points-per-batch`` by SAM's decoder on the cached
embedding, then SAM's generator's filters and SEAL's head over the masks that survive them
(``automatic_masks``); the decoder's share is timed inside the same calls. With random weights the
filters at their default thresholds keep nothing, so they are opened (every candidate passes the
IoU and stability filters; box NMS, area and the head run on what is left): the worst case.

Target (GPU, bf16, 32 x 32): the automatic part within 25 ms a window. On the CPU the report is
the ratio to the backbone (the decoder and head should not dominate it: the node's default points
and SEAL's head are judged against it there; the grids are reported).
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

from seal_ros.cli.bench import Figure, ms, report  # noqa: E402

GPU_TARGET_MS = 25.0


def _window(path, window_ms: float):
    """The first full window of the recording (default: the shared evt3 recording, bench/packets.py),
    through the node's path (packets -> WindowSource)."""
    from bench.packets import evt3_packets
    from seal_ros.events.source import WindowSource

    if path:
        from seal_ros.io.packetize import event_packets
        from seal_ros.io.recordings import open_recording

        packets = event_packets(open_recording(path))
    else:
        packets = evt3_packets()
    src = WindowSource("duration", int(window_ms * 1e6))
    for p in packets:
        for w in src.push(p).windows:
            return w
    raise SystemExit(f"{path or 'the evt3 recording'}: no full {window_ms} ms window")


def _time(fn, sync, iters, warmup):
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
    ap.add_argument("--device", default="auto", help="auto (cuda when there is one), cpu, cuda[:N]")
    ap.add_argument("--size", default="vit_b", choices=sorted(CONFIGS))
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                    help="auto: bf16 on a GPU, fp32 on the CPU")
    ap.add_argument("--iters", type=int, default=0, help="timed runs per case (default: 20 on a GPU, 1 on the CPU)")
    ap.add_argument("--quick", action="store_true",
                    help="on the CPU: no warm-up run before each grid (the node's default points run first and "
                         "warm the decoder); no change on a GPU")
    ap.add_argument("--grids", default="16,32", help="points per side, comma separated")
    ap.add_argument("--points-per-batch", type=int, default=256)
    ap.add_argument("--vocabulary", type=int, default=10, help="classes (+ 8 background classes)")
    ap.add_argument("--recording", default="", help="a recording (default: the shared evt3 recording)")
    ap.add_argument("--window-ms", type=float, default=50.0)
    a = ap.parse_args(argv)

    from seal_ros.segment.loading import resolve_device

    dev = torch.device(resolve_device(a.device))
    gpu = dev.type == "cuda"
    prec = a.precision if a.precision != "auto" else ("bf16" if gpu else "fp32")
    iters = a.iters or (20 if gpu else 1)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    torch.manual_seed(0)
    model = build_seal(a.size)
    pred = SealPredictor.for_deployment(model, RandomText(model.out_proj.out_features), str(dev), dtype)
    names = [f"class{i}" for i in range(a.vocabulary)]
    pred.set_auto_vocabulary(names, [f"bg{i}" for i in range(8)])
    w = _window(a.recording, a.window_ms)
    img = make_event_image("voxel", w.window.events, w.width, w.height)
    sync = (lambda: torch.cuda.synchronize(dev)) if gpu else (lambda: None)
    key = iter(range(10**9))
    warm = 0 if a.quick and not gpu else 1

    def backbone_ms(warmup):  # measured again next to every case: a shared machine's speed drifts
        t = _time(lambda: pred.set_image(img, key=next(key)), sync, iters, warmup)
        pred.set_image(img, key="bench")
        return t
    open_ = AutoConfig(pred_iou_thresh=0.0, stability_score_thresh=0.0, min_class_score=0.0,
                       points_per_batch=a.points_per_batch, max_instances=1000)
    cases = [("node default (16x16, skip empty, +64 density)", replace(open_, points_per_side=16))]
    cases += [(f"{g}x{g} grid", replace(open_, points_per_side=g, density_points=0, min_cell_events=0))
              for g in (int(v) for v in a.grids.split(","))]
    dname = torch.cuda.get_device_name(dev) if gpu else f"CPU {torch.get_num_threads()} threads"
    print(f"automatic mode, {a.size} RANDOM weights, {dname} {prec}, {w.width}x{w.height} window of "
          f"{w.count} events ({a.window_ms:g} ms), batches of {a.points_per_batch}, "
          f"{a.vocabulary} classes + 8 background; median of {iters}" + (", no warm-up runs" if not warm else ""))
    ran = (f"{a.size}{' (random weights)' if a.size == 'vit_b' else ''}, {dname}, {prec}, median of {iters}"
           f"{'' if warm else ' (the grids without a warm-up run)'}; a {w.count}-event window, filters opened (worst case)")
    for n, (label, cfg) in enumerate(cases):
        backbone = backbone_ms(1 if n == 0 else warm)
        pts = generate_points(w.window.events, w.width, w.height, cfg)
        runs = []

        def run():
            timed = _Timed(pred, sync)
            out = automatic_masks(timed, w.window.events, w.width, w.height, cfg)
            runs.append((timed.decode_ms, out.stats))

        t_auto = _time(run, sync, iters, 1 if n == 0 else warm)
        t_dec = statistics.median(r[0] for r in runs[-iters:])
        st = runs[-1][1]
        classified = st["candidates"] - sum(st[k] for k in ("dropped_iou", "dropped_stability", "dropped_empty",
                                                             "dropped_nms", "dropped_area", "dropped_prompted"))
        line = (f"  {label}: {len(pts)} points: automatic {t_auto:.1f} ms (decoder {t_dec:.1f} ms; "
                f"filters + head over {classified} masks {t_auto - t_dec:.1f} ms); peer: backbone "
                f"{backbone:.1f} ms (just before): automatic = {t_auto / backbone:.2f}x the backbone")
        if gpu and "32x32" in label:
            line += f"; target {GPU_TARGET_MS:g} ms: {'met' if t_auto <= GPU_TARGET_MS else 'NOT met'}"
        print(line, flush=True)
        what = (f"automatic mode, {label}: {len(pts)} points (decoder {ms(t_dec)} ms, filters + head over "
                f"{classified} mask{'' if classified == 1 else 's'} {ms(t_auto - t_dec)} ms)")
        if "32x32" in label:
            goal, met = f"<= {GPU_TARGET_MS:g} ms a window (GPU, bf16)", t_auto <= GPU_TARGET_MS
        elif n == 0 and not gpu:
            goal, met = "<= the backbone on the CPU (the decoder and head must not dominate it)", t_auto <= backbone
        else:
            goal, met = "reported", None
        report(Figure("16", what, f"{ms(t_auto)} ms", f"the backbone {ms(backbone)} ms", backbone / t_auto, goal, met,
                      ran=ran, gpu_goal="32x32" in label, on_gpu=gpu))
    # random weights leave few masks after NMS: the head's cost at the node's most instances, on its own
    k = AutoConfig().max_instances
    g = pred.model.image_size
    masks = torch.zeros(k, g, g, dtype=torch.bool, device=dev)
    for i in range(k):
        masks[i, (i * g) // (2 * k):g // 2 + (i * g) // (2 * k), g // 4:(3 * g) // 4] = True
    tokens = torch.randn(k, model.eventsam.mask_decoder.transformer_dim, device=dev)
    t_head = _time(lambda: pred.classify_masks(masks, tokens), sync, iters, 1)
    print(f"  SEAL's head over {k} masks (the node's auto_max_instances): {t_head:.1f} ms; peer: backbone "
          f"{backbone:.1f} ms: {t_head / backbone:.2f}x", flush=True)
    report(Figure("16", f"SEAL's head over {k} masks (the node's auto_max_instances)", f"{ms(t_head)} ms",
                  f"the backbone {ms(backbone)} ms", backbone / t_head,
                  "<= the backbone on the CPU" if not gpu else "reported", t_head <= backbone if not gpu else None,
                  ran=ran))
    return 0


if __name__ == "__main__":
    sys.exit(main())
