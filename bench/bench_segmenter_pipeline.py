#!/usr/bin/env python3
"""seal_segmenter's window stage by stage, in one process (no DDS): the GPU-ready peer of bench_segmenter.

    seal-ros bench pipeline                        # full-size modules; on a GPU when there is one (bf16), else the CPU
    seal-ros bench pipeline -- --model tiny        # the toy model
    python3 bench/bench_segmenter_pipeline.py --compile   # a GPU machine without ROS (bench/gpu_bench.sh)

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
decoder+head). RANDOM weights: timing only. Targets (GPU, bf16): window < 8 ms, prompt-only < 2 ms;
from a CPU run they are reported, never judged. The recording: ``--bag`` (default the shared evt3
recording), or ``--packets`` / ``bench/.gpu/packets.npz`` where there is none (bench/packets.py).
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

from seal_ros.cli.bench import Figure, ms, report  # noqa: E402

WINDOW_TARGET_MS, PROMPT_TARGET_MS = 8.0, 2.0


def _ms(xs):
    return f"{1000 * statistics.median(xs):9.2f} ms (p90 {1000 * np.percentile(xs, 90):8.2f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vit_b", choices=("tiny", "vit_b"), help="vit_b: the full-size modules")
    ap.add_argument("--device", default="auto", help="auto (cuda when there is one), cpu, cuda[:N]")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    ap.add_argument("--compile", action="store_true", help="torch.compile the stages (as the node's compile:=true)")
    ap.add_argument("--window-ms", type=float, default=50.0)
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--windows", type=int, default=0,
                    help="windows timed (default: 30 on a GPU; on the CPU 3 full size, 12 tiny)")
    ap.add_argument("--bag", default="", help="a rosbag2 bag of EventPackets (default: the shared evt3 recording)")
    ap.add_argument("--packets", default="", help="an .npz written by --save-packets (machines without rosbags)")
    ap.add_argument("--save-packets", default="", help="write the bag's packets to this .npz and exit")
    a = ap.parse_args(argv)

    from bench.packets import evt3_packets, save_packets

    packets = evt3_packets(a.bag, "" if a.save_packets else a.packets)
    if a.save_packets:
        save_packets(a.save_packets, packets)
        return 0
    import torch

    from seal_ros.segment.loading import resolve_device

    a.device = resolve_device(a.device)
    gpu = a.device.startswith("cuda")
    prec = a.precision if a.precision != "auto" else ("bf16" if gpu else "fp32")
    a.windows = a.windows or (30 if gpu else (3 if a.model == "vit_b" else 12))
    times, decode, worst = measure(a, packets, gpu, prec)
    dev = torch.cuda.get_device_name() if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"seal_segmenter pipeline (in-process): model={a.model} ({prec}{', compile' if a.compile else ''}) on {dev}; "
          f"{a.prompts} box prompts, {a.classes} classes, {a.window_ms:g} ms windows of 640x480 events, "
          f"{len(times['backbone'])} windows timed; RANDOM weights")
    print(f"  decode+window      {1000 * decode:9.2f} ms (median packet x packets a window)")
    other = "(numba, CPU)" if gpu else "(torch, CPU)"
    for k, v in times.items():
        print(f"  {k.replace('(other)', other):26s} {_ms(v)}")
    print(f"  event image, torch vs numba: largest difference {worst} level(s) (tolerance 1)")
    figures(a, times, decode, gpu, f"{a.model}{' (random weights)' if a.model == 'vit_b' else ''}, {dev}, {prec}"
            f"{' + compile' if a.compile else ''}, {len(times['backbone'])} busiest windows, in one process")
    return 0


def measure(a, packets, gpu: bool, prec: str):
    """({stage: [s per window]}, decode+window s per window, largest event-image difference torch vs numba)."""
    import torch

    from seal_ros.events.source import WindowSource
    from seal_ros.io.images import array_to_image_fields
    from seal_ros.nodes.seal_segmenter import rle_field
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.predictor import Prompt, SealPredictor
    from seal_ros.segment.event_images import make_event_image, make_event_image_tensor

    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    if a.model == "tiny":
        from seal_ros.seal.text import build_tiny_text_encoder
        text = build_tiny_text_encoder()
    else:
        from bench.bench_seal import RandomText  # the CLIP text tower is timed apart (bench_seal --clip)
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

    times = {k: [] for k in KEYS}
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
            for k, v in zip(KEYS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7)):
                times[k].append(v)
    return times, decode, worst


# the timed steps of a window, in order; "event image (other)" is the path the node does not take there
KEYS = ("event image", "event image (other)", "backbone", "decoder+head", "message build",
        "message build (dense masks)", "event image out", "prompt-only")


def figures(a, times, decode: float, gpu: bool, ran: str) -> None:
    """The table's rows: the window end to end and the prompt-only update against the model's own part,
    the compact masks against dense ones, the event image on the model's device against the other path."""
    med = {k: 1000 * statistics.median(v) for k, v in times.items()}
    model = med["backbone"] + med["decoder+head"]
    window = 1000 * decode + med["event image"] + model + med["message build"]
    stages = (f"decode+window {ms(1000 * decode)}, event image {ms(med['event image'])}, backbone {ms(med['backbone'])}, "
              f"decoder+head {ms(med['decoder+head'])}, message build {ms(med['message build'])} ms")
    print(f"  window end to end (decode .. message build) {window:.2f} ms = {window / model:.2f} x the model's "
          f"{model:.2f} ms; compact masks build {med['message build (dense masks)'] / med['message build']:.1f}x "
          f"faster than dense mask images")
    ok_w, ok_p = window < WINDOW_TARGET_MS, med["prompt-only"] < PROMPT_TARGET_MS
    if gpu:
        print(f"  target window < {WINDOW_TARGET_MS} ms: {'MET' if ok_w else 'NOT met'} (without DDS); "
              f"prompt-only < {PROMPT_TARGET_MS} ms: {'MET' if ok_p else 'NOT met'}")
    full = a.model == "vit_b"  # the targets are the full-size model's
    report(Figure("17.2", f"segmenter window end to end in one process, no DDS ({stages})", f"{ms(window)} ms",
                  f"the model alone (backbone + decoder+head) {ms(model)} ms", model / window,
                  f"< {WINDOW_TARGET_MS:g} ms (GPU, bf16; the node over DDS)" if full else "", ok_w if full else None,
                  ran=ran, gpu_goal=full, on_gpu=gpu))
    report(Figure("17.2", "prompt-only update in one process (decoder+head on the cached window)",
                  f"{ms(med['prompt-only'])} ms", f"a whole window {ms(window)} ms", window / med["prompt-only"],
                  f"< {PROMPT_TARGET_MS:g} ms (GPU, bf16)" if full else "", ok_p if full else None, ran=ran,
                  gpu_goal=full, on_gpu=gpu))
    report(Figure("17.2", f"message build of {a.prompts} masks: run lengths (InstanceMask.mask_rle)",
                  f"{med['message build']:.3f} ms", f"dense mono8 mask images {ms(med['message build (dense masks)'])} ms",
                  med["message build (dense masks)"] / med["message build"], "masks sent compactly",
                  med["message build"] < med["message build (dense masks)"], ran=ran))
    ours, other = ("torch on the GPU", "numba on the CPU") if gpu else ("numba on the CPU", "torch on the CPU")
    report(Figure("17.2", f"event image ({ours}, the node's default here)", f"{ms(med['event image'])} ms",
                  f"{other} {ms(med['event image (other)'])} ms", med["event image (other)"] / med["event image"],
                  "built on the GPU from the decoded events" if gpu else "", None, ran=ran))


if __name__ == "__main__":
    sys.exit(main())
