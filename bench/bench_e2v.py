#!/usr/bin/env python3
"""Event-to-video reconstruction speed, against peers measured in the same run.

    python -m bench.bench_e2v                    # default run (~1 min on 2 cores)
    python bench/bench_e2v.py --repeat 5 --frames 30
    seal-ros bench e2v

Prints:

* high-pass filter throughput (events/s) on the shared evt3 bag's real events,
  against our evt3 decoder decoding the same bag's packets in the same run
  (target: ratio >= 1; reconstruction must never limit ingestion); also with
  one picture (decay + display) per 33.3 ms window;
* FireNet and E2VID frame time on the CPU at 346x260 and 640x480 (random
  weights: speed only; target FireNet < 33 ms at 346x260), and on the GPU when
  torch sees one;
* end-to-end latency from packet arrival to the finished mono8 image, the
  shared bag played at real speed (each packet handed over at its recorded
  stamp), measured in-process with the node's core classes (EventStream ->
  DurationWindower -> Reconstructor -> sensor_msgs/Image fields), and the same
  over real DDS: ``bag_player`` -> ``event_reconstructor`` -> a subscriber, in
  one process (packet published -> image received; ``--no-dds`` skips it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from seal_ros.e2v.filters import HighPassFilter  # noqa: E402
from seal_ros.e2v.reconstructor import Reconstructor  # noqa: E402
from seal_ros.events.buffer import DurationWindower  # noqa: E402
from seal_ros.events.decoders import make_decoder  # noqa: E402
from seal_ros.events.stream import EventStream  # noqa: E402
from seal_ros.events.types import EventArray  # noqa: E402
from seal_ros.io.bags import BagReader  # noqa: E402
from seal_ros.io.images import array_to_image_fields  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FRAME_TARGET_MS = 33.0


def load_packets(path):
    with BagReader(path) as bag:
        return list(bag.event_packets())


def bench_hpf(packets, repeat: int) -> None:
    w, h = packets[0].width, packets[0].height

    def decode():
        dec = make_decoder(packets[0].encoding, w, h)
        parts = [dec.decode(p.events, p.time_base)[0] for p in packets]
        return EventArray.concatenate(parts)

    events = decode()
    n = len(events)
    chunks = [events[i:i + 5000] for i in range(0, n, 5000)]  # packet-sized calls
    windows = DurationWindower(33_333_333)
    wins = [win for c in chunks for win in windows.feed(c)] + windows.flush()
    f = HighPassFilter(w, h)
    f.process(events[:10])  # compile
    r = Reconstructor("hpf", w, h)
    r.process(wins[0].events, wins[0].t1)

    def hpf():
        f.reset()
        for c in chunks:
            f.process(c)

    def hpf_frames():
        r.reset()
        for win in wins:
            r.process(win.events, win.t1)

    times = {"decode": [], "hpf": [], "hpf+frames": []}
    for _ in range(repeat):  # interleaved
        for name, fn in (("decode", decode), ("hpf", hpf), ("hpf+frames", hpf_frames)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    rate = {k: n / min(v) for k, v in times.items()}
    print(f"events: {n} from {len(packets)} packets ({w}x{h}), {len(wins)} windows of 33.3 ms; best of {repeat}")
    print(f"  evt3 decoder (ours)            {rate['decode'] / 1e6:8.1f} M events/s")
    print(f"  high-pass filter               {rate['hpf'] / 1e6:8.1f} M events/s   "
          f"ratio vs decoder {rate['hpf'] / rate['decode']:.2f}  (target >= 1)")
    per_frame_ms = 1000 * min(times["hpf+frames"]) / len(wins)
    print(f"  hpf + one picture per window   {rate['hpf+frames'] / 1e6:8.1f} M events/s   "
          f"ratio vs decoder {rate['hpf+frames'] / rate['decode']:.2f}  ({per_frame_ms:.2f} ms per window)")


def bench_networks(frames: int, device: str) -> None:
    import torch

    from seal_ros.e2v.networks import build

    torch.manual_seed(0)
    for method in ("firenet", "e2vid"):
        model = build(method)
        for (w, h) in ((346, 260), (640, 480)):
            rng = np.random.default_rng(0)
            n = int(0.35 * w * h)
            ev = EventArray(rng.integers(0, w, n).astype(np.uint16), rng.integers(0, h, n).astype(np.uint16),
                            rng.integers(0, 2, n).astype(np.uint8), np.sort(rng.integers(0, 30_000_000, n)))
            r = Reconstructor(method, w, h, device, model=model)
            for k in range(3):  # warm-up
                r.process(ev, 30_000_000 * (k + 1))
            ts = []
            for k in range(frames):
                shifted = EventArray(ev.x, ev.y, ev.p, ev.t + 30_000_000 * (k + 3))
                t0 = time.perf_counter()
                r.process(shifted, 30_000_000 * (k + 4))
                if device != "cpu":
                    torch.cuda.synchronize()
                ts.append(1000 * (time.perf_counter() - t0))
            med = statistics.median(ts)
            note = ""
            if method == "firenet" and (w, h) == (346, 260) and device == "cpu":
                note = f"  (target < {FRAME_TARGET_MS:.0f} ms: {'met' if med < FRAME_TARGET_MS else 'NOT met'})"
            print(f"  {method:8s} {w}x{h} {device}: median {med:7.1f} ms, best {min(ts):7.1f} ms "
                  f"(voxel of {n} events + network + display; {frames} frames){note}")


def bench_latency(packets, method: str) -> None:
    w, h = packets[0].width, packets[0].height
    stream = EventStream()
    windower = DurationWindower(33_333_333)
    r = Reconstructor(method, w, h)
    r.process(EventArray.empty(), 0)
    lat = []
    t0_rec = packets[0].stamp_ns
    t0_wall = time.monotonic() + 0.05
    for pkt in packets:
        due = t0_wall + (pkt.stamp_ns - t0_rec) / 1e9
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        arrival = time.monotonic()
        d = stream.push(pkt)
        for win in windower.feed(d.events, d.lost_packets):
            fields = array_to_image_fields(r.process(win.events, win.t1))
            assert fields["width"] == w
            lat.append(1000 * (time.monotonic() - arrival))
    span = (packets[-1].stamp_ns - t0_rec) / 1e9
    lat = np.array(lat)
    print(f"  {method}: {len(lat)} images over {span:.2f} s played at real speed: latency mean {lat.mean():.2f} ms, "
          f"p50 {np.percentile(lat, 50):.2f}, p95 {np.percentile(lat, 95):.2f}, max {lat.max():.2f} ms")


def bench_latency_dds(bag: str, single: bool) -> None:
    """The shared bag played at real speed by ``bag_player`` to a real ``event_reconstructor`` over DDS
    (loopback, one process, multi-threaded executor); latency = image received - closing packet published."""
    import threading

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from seal_ros.nodes.common import SENSOR_QOS, stamp_to_ns
    from seal_ros.nodes.event_reconstructor import EventReconstructorNode
    from seal_ros.nodes.player import BagPlayerNode

    import os

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    packets = load_packets(bag)
    stream = EventStream()
    last_t = []  # per packet: latest event time so far (the window ends it can close)
    hi = -1
    for pkt in packets:
        d = stream.push(pkt)
        hi = max(hi, int(d.events.t.max())) if len(d.events) else hi
        last_t.append(hi)
    ctx = Context()
    rclpy.init(context=ctx)
    ex = (SingleThreadedExecutor if single else MultiThreadedExecutor)(context=ctx)
    got = []
    try:
        topic = "/bench_e2v/events"
        recon = EventReconstructorNode(context=ctx, parameter_overrides=[Parameter("events_topic", value=topic)])
        sink = Node("bench_e2v_sink", context=ctx)
        sink.create_subscription(Image, "/event_reconstructor/image",
                                 lambda m: got.append((stamp_to_ns(m.header.stamp), time.monotonic())), SENSOR_QOS)
        player = BagPlayerNode(context=ctx, parameter_overrides=[
            Parameter("bag", value=bag), Parameter("topic", value=topic), Parameter("start_delay_s", value=1.5)])
        for n in (recon, sink, player):
            ex.add_node(n)
        threading.Thread(target=ex.spin, daemon=True).start()
        player.done.wait(60)
        time.sleep(0.5)
        pub = list(player.published)
        inside = recon._diag_values()
    finally:
        ex.shutdown()
        rclpy.shutdown(context=ctx)
    lat = []
    for t1, wall in got:
        k = next((i for i, t in enumerate(last_t) if t >= t1), None)  # the packet that closed the window
        if k is not None and k < len(pub):
            lat.append(1000 * (wall - pub[k][1]))
    lat = np.array(lat)
    if not len(lat):
        print("  DDS: no images received")
        return
    print(f"  {'Single' if single else 'Multi'}ThreadedExecutor: {len(got)} images of {len(packets)} packets played: latency mean {lat.mean():.2f} ms, "
          f"p50 {np.percentile(lat, 50):.2f}, p95 {np.percentile(lat, 95):.2f}, max {lat.max():.2f} ms")
    print(f"       of which inside the node (packet callback -> publish): mean {inside['latency_ms_mean']} ms, "
          f"max {inside['latency_ms_max']} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=15, help="timed network frames per size")
    ap.add_argument("--bag", default=str(DATA / "evt3_640x480"))
    ap.add_argument("--only", choices=("hpf", "networks", "latency"), default=None, help="run one part")
    ap.add_argument("--no-dds", action="store_true", help="skip the node-over-DDS latency run")
    args = ap.parse_args(argv)
    import torch

    packets = load_packets(args.bag) if args.only != "networks" else None
    if args.only in (None, "hpf"):
        print(f"== high-pass filter vs evt3 decoder (torch threads: {torch.get_num_threads()})")
        bench_hpf(packets, args.repeat)
    if args.only in (None, "networks"):
        print(f"== network frame time (random weights: speed only; torch threads: {torch.get_num_threads()})")
        bench_networks(args.frames, "cpu")
        if torch.cuda.is_available():
            print(f"   GPU: {torch.cuda.get_device_name(0)}")
            bench_networks(args.frames, "cuda")
        else:
            print("  (no GPU seen by torch: GPU figures skipped)")
    if args.only in (None, "latency"):
        print("== end-to-end latency, packet arrival -> mono8 image, in-process core path")
        bench_latency(packets, "hpf")
        if not args.no_dds:
            print("== end-to-end latency, packet published -> image received, bag_player -> event_reconstructor (DDS)")
            try:
                for single in (False, True):
                    bench_latency_dds(args.bag, single)
            except ImportError as exc:
                print(f"  (ROS 2 not importable here: {exc}; run under scripts/with-env)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
