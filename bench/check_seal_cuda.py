#!/usr/bin/env python3
"""GPU check of the CUDA-graph predictor path (needs CUDA; random weights).

1. fp32 graphs vs fp32 eager on the full-size model: same masks and classes.
2. Vocabulary changes from another thread while graphs are captured and replayed:
   no fallback to eager, every result carries a vocabulary it was classified against.
Prints PASS/FAIL lines; exit status 1 on a failure.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from seal_ros.seal.accel import optimize_model  # noqa: E402
from seal_ros.seal.build import build_seal  # noqa: E402
from seal_ros.seal.predictor import Prompt, SealPredictor  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seal import RandomText  # noqa: E402


def main() -> int:
    if not torch.cuda.is_available():
        print("CUDA not available")
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ok = True
    rng = np.random.default_rng(0)
    img = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
    prompts = [Prompt(i, box=(20 + 30 * i, 40 + 10 * i, 300 + 20 * i, 400)) for i in range(7)]
    torch.manual_seed(0)
    model = optimize_model(build_seal("vit_b"), fused_attention=True)
    res = {}
    for graphs in (False, True):
        p = SealPredictor(model, RandomText(), device="cuda", cuda_graphs=graphs)
        p.set_vocabulary([f"c{i}" for i in range(12)])
        p.set_image(img, key=1)
        p.predict(prompts)
        res[graphs] = p.predict(prompts)
        if graphs and not p.cuda_graphs:
            print(f"FAIL graphs fell back: {p.graph_error}")
            ok = False
    iou = [np.logical_and(a.mask, b.mask).sum() / max(np.logical_or(a.mask, b.mask).sum(), 1)
           for a, b in zip(res[False], res[True])]
    same = all(a.class_index == b.class_index for a, b in zip(res[False], res[True]))
    good = min(iou) > 0.99 and same
    ok &= good
    print(f"{'PASS' if good else 'FAIL'} fp32 graphs vs eager: min mask IoU {min(iou):.4f}, same classes {same}")

    p = SealPredictor(model, RandomText(), device="cuda", dtype=torch.bfloat16)
    vocabs = [tuple(f"v{j}_{i}" for i in range(n)) for j, n in enumerate((5, 9, 5, 17, 9, 3))]
    p.set_vocabulary(vocabs[0])
    stop = threading.Event()

    def churn():
        k = 0
        while not stop.is_set():
            k += 1
            p.set_vocabulary(vocabs[k % len(vocabs)])

    t = threading.Thread(target=churn)
    t.start()
    bad = 0
    try:
        for w in range(30):
            p.set_image(img, key=w)
            for n in (1, 3, 7):
                for r in p.predict(prompts[:n]):
                    bad += r.vocabulary not in vocabs or (r.class_index >= len(r.vocabulary))
    finally:
        stop.set()
        t.join()
    good = bad == 0 and p.cuda_graphs
    ok &= good
    print(f"{'PASS' if good else 'FAIL'} concurrent vocabulary changes: {bad} bad results, graphs on "
          f"{p.cuda_graphs} ({p.graph_error}), captures {sum(g.captures for g in p._graphs.values())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
