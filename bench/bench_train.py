#!/usr/bin/env python3
"""Stage-2 (SEAL head) training throughput in pairs per second, one epoch over a
synthetic set, with the real training module (:class:`SealDistill`: the fusion
network once per pair and granularity, as the authors), collate and AdamW step.
RANDOM weights and synthetic guidance: timing only.

    python bench/bench_train.py --size tiny --pairs 8 --batch 4          # CPU smoke run
    python bench/bench_train.py --size vit_b --pairs 256 --batch 8       # on a GPU

``bf16_fused_cached_backbone`` times a second epoch, once the frozen backbone's
outputs are cached (``model.cache_backbone: true``). Every configuration is compared with eager fp32 measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from seal_ros.seal.build import CONFIGS, build_seal  # noqa: E402
from seal_ros.train.mhsg import GRANULARITIES, GranularityGuidance  # noqa: E402
from seal_ros.train.seal_data import GuidedPairs, collate_guided  # noqa: E402
from seal_ros.train.seal_distill import SealDistill  # noqa: E402


def synthetic_items(n, size, k, dim, seed=0):
    """n pairs, k masks per granularity with their own visual / short / long embeddings."""
    rng = np.random.default_rng(seed)
    guidance = []
    for _ in range(n):
        g = {}
        for name, _ in GRANULARITIES:
            masks = np.zeros((k, size, size), bool)
            for j in range(k):
                w, h = rng.integers(size // 16, size // 2, 2)
                x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
                masks[j, y0:y0 + h, x0:x0 + w] = True
            emb = [F.normalize(torch.from_numpy(rng.standard_normal((k, dim)).astype(np.float32)), dim=-1)
                   for _ in range(3)]
            g[name] = GranularityGuidance.from_masks(masks, *emb)
        guidance.append(g)
    events = [torch.randn(3, size, size) for _ in range(n)]
    ds = GuidedPairs(n, events.__getitem__, guidance.__getitem__, size)
    return [ds[i] for i in range(n)]


def run_epoch(module, opt, batches, device, amp):
    def to(b):
        return {"event": b["event"].to(device, non_blocking=True), "index": b["index"], "flipped": b["flipped"],
                "levels": [[{k: t.to(device, non_blocking=True) for k, t in lv.items()} for lv in levels]
                           for levels in b["levels"]]}

    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else torch.autocast(device.type, enabled=False)
    pairs = 0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for b in batches:
        b = to(b)
        with ctx:
            loss, _ = module(b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        pairs += b["event"].shape[0]
    sync()
    return pairs / (time.perf_counter() - t0), float(loss.detach())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_train", description=__doc__.splitlines()[0])
    ap.add_argument("--size", default=None, help="vit_b (default on a GPU) or tiny")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--pairs", type=int, default=None, help="pairs in the epoch")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--masks", type=int, default=16, help="guidance masks per granularity per pair")
    args = ap.parse_args(argv)
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    size = args.size or ("vit_b" if device.type == "cuda" else "tiny")
    cfg = CONFIGS[size]
    n = args.pairs or (256 if device.type == "cuda" else 8)
    items = synthetic_items(n, cfg.image_size, args.masks, cfg.text_dim)
    batches = [collate_guided(items[i:i + args.batch]) for i in range(0, n, args.batch)]
    warm = [collate_guided(items[:args.batch])]
    results = {}
    configs = [("eager_fp32", False, False, False), ("bf16_autocast", True, False, False)]
    if device.type == "cuda":
        configs.append(("bf16_fused_attention", True, True, False))
    configs.append(("bf16_fused_cached_backbone", True, device.type == "cuda", True))
    for name, amp, fused, cached in configs:
        torch.manual_seed(0)
        model = build_seal(size)
        if fused:
            from seal_ros.seal.accel import optimize_model
            optimize_model(model, fused_attention=True)
        module = SealDistill(model, cache_backbone=cached).to(device).train()
        module.seal.eventsam.eval()
        params = [p for p in module.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        run_epoch(module, opt, warm, device, amp)  # warm-up (allocations, kernels)
        if cached:  # the first epoch fills the cache; time the next one
            run_epoch(module, opt, batches, device, amp)
        pps, loss = run_epoch(module, opt, batches, device, amp)
        results[name] = pps
        print(json.dumps({"config": name, "size": size, "device": str(device), "pairs": n,
                          "batch": args.batch, "masks_per_granularity": args.masks,
                          "pairs_per_s": round(pps, 2), "loss": round(loss, 4)}), flush=True)
        del module, opt, model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    base = results["eager_fp32"]
    for name, v in results.items():
        print(f"{name:>22}: {v:8.2f} pairs/s  ({v / base:.2f}x eager fp32)")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB; "
              f"trainable parameters: {sum(p.numel() for p in params) / 1e6:.2f}M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
