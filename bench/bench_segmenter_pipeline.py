"""What seal_segmenter adds around the SEAL predictor, per event window, on the real evt3 recording.

    scripts/with-env python bench/bench_segmenter_pipeline.py                      # tiny model, CPU
    scripts/with-env python bench/bench_segmenter_pipeline.py --model vit_b --device cuda --precision bf16

Per window (``--prompts`` box prompts, a vocabulary of ``--classes`` names):
  decode+window   EventStream + DurationWindower (the packets of one window)
  event image     3-bin voxel grid -> uint8 image
  predictor       set_image (backbone) + predict (decoder + head), the peer
  prompt-only     predict again on the cached window (what a prompt change costs)
  overlay         masks/boxes/labels drawn (OpenCV)
  messages        mask images + plane cells as they are serialised into messages
and the node's overhead as a ratio to the predictor. Random weights: timing only.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ms(xs):
    return f"{1000 * statistics.median(xs):8.2f} ms (p90 {1000 * np.percentile(xs, 90):7.2f})"


def save_packets(path, packets) -> None:
    meta = np.array([(p.width, p.height, p.seq, p.time_base, p.stamp_ns, len(p.events)) for p in packets], np.int64)
    np.savez(path, meta=meta, payload=np.concatenate([p.events for p in packets]),
             encoding=np.array([packets[0].encoding]))


def load_packets(path) -> list:
    from seal_ros.events.packet import EventPacket

    z = np.load(path)
    ends = np.cumsum(z["meta"][:, 5])
    return [EventPacket(str(z["encoding"][0]), int(w), int(h), int(seq), int(tb), z["payload"][e - n:e], int(st))
            for (w, h, seq, tb, st, n), e in zip(z["meta"], ends)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny", choices=("tiny", "vit_b"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--window-ms", type=float, default=50.0)
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--bag", default=str(ROOT.parent / "shared" / "data" / "evt3_640x480"))
    ap.add_argument("--packets", default="", help="an .npz written by --save-packets (machines without rosbags)")
    ap.add_argument("--save-packets", default="", help="write the bag's packets to this .npz and exit")
    a = ap.parse_args(argv)

    import torch

    from seal_ros.events.representations import event_image
    from seal_ros.io.bags import BagReader
    from seal_ros.io.images import array_to_image_fields
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.predictor import Prompt, SealPredictor
    from seal_ros.seal.text import build_clip_text_encoder, build_tiny_text_encoder
    from seal_ros.segment.overlay import Drawn, draw_overlay, label_text
    from seal_ros.segment.plane import grid_data
    from seal_ros.segment.runner import combine_vocabularies
    from seal_ros.events.source import WindowSource

    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    text = build_tiny_text_encoder() if a.model == "tiny" else build_clip_text_encoder(None)
    pred = SealPredictor.for_deployment(build_seal(a.model), text, device=a.device, dtype=dtype)  # as the node
    names = [f"class {i}" for i in range(a.classes)]
    t = time.perf_counter()
    pred.set_vocabulary(names)
    vocab_s = time.perf_counter() - t

    packets = load_packets(a.packets) if a.packets else list(BagReader(a.bag).event_packets())
    if a.save_packets:
        save_packets(a.save_packets, packets)
        return 0
    src = WindowSource("duration", int(a.window_ms * 1e6))
    per_window, wins = [], []
    for pk in packets:
        t = time.perf_counter()
        out = src.push(pk).windows
        per_window.append(time.perf_counter() - t)
        wins += out
    pk_per_win = len(packets) / max(1, len(wins))
    decode = [statistics.median(per_window) * pk_per_win]  # median: the first packets include numba compiling
    wins = sorted(wins, key=lambda w: -w.count)[: a.windows + 2]  # the busiest windows
    rng = np.random.default_rng(0)
    specs = []
    for i in range(a.prompts):
        x0, y0 = rng.integers(0, 500), rng.integers(0, 360)
        specs.append(Prompt(i, box=(float(x0), float(y0), float(x0 + 80 + rng.integers(60)),
                                        float(y0 + 80 + rng.integers(60)))))

    def sync():
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()

    times = {k: [] for k in ("event image", "predictor", "prompt-only", "overlay", "messages")}
    for n, w in enumerate(wins):
        t0 = time.perf_counter()
        img = event_image(w.window.events, w.width, w.height)
        t1 = time.perf_counter()
        pred.set_image(img, key=w.seq)
        res = pred.predict(specs)
        sync()
        t2 = time.perf_counter()
        pred.predict(specs)
        sync()
        t3 = time.perf_counter()
        vocab, idx = combine_vocabularies(res)
        items = [Drawn(r.prompt_id, r.mask, r.bbox if r.mask.any() else None,
                       label_text(vocab[i] if i >= 0 else "", r.class_score)) for r, i in zip(res, idx)]
        draw_overlay(img, items, prompt_boxes=[(s.id, s.box) for s in specs])
        t4 = time.perf_counter()
        for r in res:
            array_to_image_fields(r.mask.astype(np.uint8) * 255)
        array_to_image_fields(img)
        grid_data(img).tobytes()
        t5 = time.perf_counter()
        if n >= 2:  # warm-up
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                times[k].append(v)

    dev = torch.cuda.get_device_name() if a.device.startswith("cuda") else "CPU"
    print(f"seal_segmenter pipeline: model={a.model} ({a.precision}) on {dev}; {a.prompts} box prompts, "
          f"{a.classes} classes, {a.window_ms:g} ms windows of 640x480 events, {len(times['overlay'])} windows timed")
    print(f"  vocabulary encode (once per change): {1000 * vocab_s:8.2f} ms")
    print(f"  decode+window      {1000 * decode[0]:8.2f} ms (median packet x {pk_per_win:.0f} packets a window)")
    for k, v in times.items():
        print(f"  {k:18s} {_ms(v)}")
    node = sum(statistics.median(times[k]) for k in ("event image", "overlay", "messages")) + decode[0]
    peer = statistics.median(times["predictor"])
    print(f"  node work around the predictor: {1000 * node:.2f} ms = {node / peer:.2f} x the predictor's "
          f"{1000 * peer:.2f} ms; window end to end {1000 * (node + peer):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
