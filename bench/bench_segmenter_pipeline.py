#!/usr/bin/env python3
"""seal_segmenter's window stage by stage, in one process (no DDS): the GPU-ready peer of bench_segmenter.

    scripts/with-env python bench/bench_segmenter_pipeline.py                        # tiny model, CPU
    scripts/with-env python bench/bench_segmenter_pipeline.py --model vit_b --windows 3   # full size, CPU
    python3 bench/bench_segmenter_pipeline.py --model vit_b --device cuda --precision bf16 \\
        --packets bench/.gpu/packets.npz                                                  # a GPU (docs/seal_model.md)

Per window (``--prompts`` box prompts, a vocabulary of ``--classes``; the node's own calls):
  decode+window     WindowSource.push of the window's packets
  event image       the node's default: torch on the GPU (numba on the CPU); the other path beside it
  backbone          set_image (the event image already where the model runs)
  decoder+head      predict(mask_format="rle"): SAM decoder, SEAL head, run lengths from the device
  message build     InstanceMask.mask_rle fields of every result; beside it the old dense mono8
                    mask images (what mask_image:=true adds)
  event image out   the event image to the host for ~/event_image (after the results)
  prompt-only       predict again on the cached window (a prompt change)
and the window end to end (decode ... message build) against the model's part (backbone +
decoder+head). RANDOM weights: timing only. Targets (GPU, bf16): window < 8 ms, prompt-only < 2 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WINDOW_TARGET_MS, PROMPT_TARGET_MS = 8.0, 2.0


def _ms(xs):
    return f"{1000 * statistics.median(xs):9.2f} ms (p90 {1000 * np.percentile(xs, 90):8.2f})"


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
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    ap.add_argument("--compile", action="store_true", help="torch.compile the stages (as the node's compile:=true)")
    ap.add_argument("--window-ms", type=float, default=50.0)
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--bag", default=str(ROOT.parent / "shared" / "data" / "evt3_640x480"))
    ap.add_argument("--packets", default="", help="an .npz written by --save-packets (machines without rosbags)")
    ap.add_argument("--save-packets", default="", help="write the bag's packets to this .npz and exit")
    a = ap.parse_args(argv)

    import torch

    from seal_ros.events.source import WindowSource
    from seal_ros.io.images import array_to_image_fields
    from seal_ros.nodes.seal_segmenter import rle_field
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.predictor import Prompt, SealPredictor
    from seal_ros.segment.event_images import make_event_image, make_event_image_tensor

    if a.save_packets or not a.packets:
        from seal_ros.io.bags import BagReader

        with BagReader(a.bag) as bag:
            packets = list(bag.event_packets())
        if a.save_packets:
            save_packets(a.save_packets, packets)
            return 0
    else:
        packets = load_packets(a.packets)
    gpu = a.device.startswith("cuda")
    prec = a.precision if a.precision != "auto" else ("bf16" if gpu else "fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    if a.model == "tiny":
        from seal_ros.seal.text import build_tiny_text_encoder
        text = build_tiny_text_encoder()
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_seal import RandomText  # the CLIP text tower is timed apart (bench_seal --clip)
        text = RandomText()
    torch.manual_seed(0)
    pred = SealPredictor.for_deployment(build_seal(a.model), text, device=a.device, dtype=dtype,
                                        compile=a.compile)  # as the node
    pred.set_vocabulary([f"class {i}" for i in range(a.classes)])

    src = WindowSource("duration", int(a.window_ms * 1e6))
    per_packet, wins = [], []
    for pk in packets:
        t = time.perf_counter()
        out = src.push(pk).windows
        per_packet.append(time.perf_counter() - t)
        wins += out
    decode = statistics.median(per_packet) * len(packets) / max(1, len(wins))  # median: numba compiles first
    wins = sorted(wins, key=lambda w: -w.count)[: a.windows + 2]  # the busiest windows
    rng = np.random.default_rng(0)
    specs = []
    for i in range(a.prompts):
        x0, y0 = rng.integers(0, 500), rng.integers(0, 360)
        specs.append(Prompt(i, box=(float(x0), float(y0), float(x0 + 80 + rng.integers(60)),
                                    float(y0 + 80 + rng.integers(60)))))

    def sync():
        if gpu:
            torch.cuda.synchronize()

    other = "event image (numba, CPU)" if gpu else "event image (torch, CPU)"
    keys = ("event image", other, "backbone", "decoder+head", "message build",
            "message build (dense masks)", "event image out", "prompt-only")
    times = {k: [] for k in keys}
    worst = 0
    for n, w in enumerate(wins):
        ev = w.window.events
        t0 = time.perf_counter()
        img = make_event_image_tensor("voxel", ev, w.width, w.height, pred.device) if gpu else \
            make_event_image("voxel", ev, w.width, w.height)
        sync()
        t1 = time.perf_counter()
        ref = make_event_image("voxel", ev, w.width, w.height) if gpu else \
            make_event_image_tensor("voxel", ev, w.width, w.height, "cpu").numpy()
        t2 = time.perf_counter()
        pred.set_image(img, key=w.seq)
        sync()
        t3 = time.perf_counter()
        res = pred.predict(specs, mask_format="rle")
        t4 = time.perf_counter()
        fields = [rle_field(r) for r in res]
        t5 = time.perf_counter()
        for r in res:
            array_to_image_fields(r.mask_array().astype(np.uint8) * 255)
        t6 = time.perf_counter()
        host = img.cpu().numpy() if gpu else img
        t7 = time.perf_counter()
        pred.predict(specs, mask_format="rle")
        t8 = time.perf_counter()
        worst = max(worst, int(np.abs(host.astype(int) - ref).max()))
        assert len(fields) == a.prompts
        if n >= 2:  # warm-up
            for k, v in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7)):
                times[k].append(v)

    dev = torch.cuda.get_device_name() if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"seal_segmenter pipeline (in-process): model={a.model} ({prec}{', compile' if a.compile else ''}) on {dev}; "
          f"{a.prompts} box prompts, {a.classes} classes, {a.window_ms:g} ms windows of 640x480 events, "
          f"{len(times['backbone'])} windows timed; RANDOM weights")
    print(f"  decode+window      {1000 * decode:9.2f} ms (median packet x packets a window)")
    for k, v in times.items():
        print(f"  {k:26s} {_ms(v)}")
    print(f"  event image, torch vs numba: largest difference {worst} level(s) (tolerance 1)")
    med = {k: statistics.median(v) for k, v in times.items()}
    model = med["backbone"] + med["decoder+head"]
    window = decode + med["event image"] + model + med["message build"]
    print(f"  window end to end (decode .. message build) {1000 * window:.2f} ms = {window / model:.2f} x the model's "
          f"{1000 * model:.2f} ms; compact masks build {med['message build (dense masks)'] / med['message build']:.1f}x "
          f"faster than dense mask images")
    if gpu:
        print(f"  target window < {WINDOW_TARGET_MS} ms: {'MET' if 1000 * window < WINDOW_TARGET_MS else 'NOT met'} "
              f"(without DDS); prompt-only < {PROMPT_TARGET_MS} ms: "
              f"{'MET' if 1000 * med['prompt-only'] < PROMPT_TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
