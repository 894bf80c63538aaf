#!/usr/bin/env python3
"""Warm start (issue 17.4): real node processes, numba's cache cold and warm, with and without the warm-up.

    python -m bench.bench_warmstart                          # event_reconstructor, bag_player
    python bench/bench_warmstart.py --nodes event_reconstructor seal_segmenter bag_player
    seal-ros bench warmstart

Each node starts as ``ros2 run`` starts it (``executables/``), in a process of
its own, over DDS on loopback (a ROS domain of its own). This process plays the
shared evt3 recording to it at real speed once the node has subscribed, and
takes the time:

* **to the first output**: from starting the process to the first message the
  node publishes (``event_reconstructor``: ``~/image``; ``seal_segmenter``:
  ``~/event_image``, with ``model:=tiny`` on the CPU: random weights, timing only,
  and its first output waits for its model worker;
  ``bag_player``: its first EventPacket);
* **of the first window**: from publishing the packet that completes the first
  window (33 ms; 50 ms for the segmenter) to that window's output.

Three starts a node: numba's on-disk cache empty (``NUMBA_CACHE_DIR``, a fresh
folder: the first start on a machine), then filled by that start (every later
start); and the cache filled but the warm-up off (``SEAL_ROS_WARMUP=0``: the
kernels load on the first packet, as before the warm-up). The ratio of the
first window without and with the warm-up, both on a filled cache, is the
peer figure measured in the same run.
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seal_ros.cli.bench import Figure, report  # noqa: E402

BAG = ROOT.parent / "shared" / "data" / "evt3_640x480"
EVENTS = "/bench_warmstart/events"
# node -> (parameters, output topic, window of the first output in ns (None: no window))
NODES = {
    "event_reconstructor": ([f"events_topic:={EVENTS}", "window_duration_ms:=33.0"],
                            "/event_reconstructor/image", 33_000_000),
    "seal_segmenter": ([f"events_topic:={EVENTS}", "model:=tiny", "device:=cpu", "window_duration_ms:=50.0"],
                       "/seal_segmenter/event_image", 50_000_000),
    "bag_player": ([f"bag:={BAG}", f"topic:={EVENTS}", "start_delay_s:=0.0"], EVENTS, None),
}
READY_LINE = re.compile(r"numba kernels ready in ([0-9.]+) s|numba warm-up skipped")


def packets_and_first_window(window_ns):
    """The recording's packets, and the index of the packet whose push completes the first window."""
    from seal_ros.events.source import WindowSource
    from seal_ros.io.bags import BagReader

    packets = list(BagReader(BAG).event_packets())
    if window_ns is None:
        return packets, None
    src = WindowSource("duration", window_ns)
    k = next(i for i, p in enumerate(packets) if src.push(p).windows)
    return packets, k


class Run:
    """One node process and what this process saw of it."""

    def __init__(self, node, cache_dir, warmup: bool, domain: int):
        params, self.topic, self.window_ns = NODES[node]
        cmd = [sys.executable, str(ROOT / "executables" / node), "--ros-args"]
        for p in params:
            cmd += ["-p", p]
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), SEAL_ROS_WARMUP="1" if warmup else "0",
                   ROS_DOMAIN_ID=str(domain), RCUTILS_LOGGING_USE_STDOUT="1", PYTHONUNBUFFERED="1")
        self.node, self.lines, self.t_ready_line = node, [], None
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)
            if self.t_ready_line is None and READY_LINE.search(line):
                self.t_ready_line = time.monotonic()

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, 2)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, 9)

    @property
    def warmup_s(self):
        for line in self.lines:
            m = READY_LINE.search(line)
            if m and m.group(1):
                return float(m.group(1))
        return None


def measure(node: str, cache_dir: Path, warmup: bool, domain: int, timeout_s: float) -> dict:
    """Start ``node``, feed it, wait for its first output; the times in seconds (None: none came)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from seal_ros.nodes.common import EVENTS_QOS, event_packet_type
    from seal_ros.nodes.player import packet_to_msg

    os.environ["ROS_DOMAIN_ID"] = str(domain)
    ctx = Context()
    rclpy.init(context=ctx)
    bench = Node("bench_warmstart", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(bench)
    _, topic, window_ns = NODES[node]
    packets, k = packets_and_first_window(window_ns)
    got = []
    msg_type = event_packet_type() if node == "bag_player" else __import__("sensor_msgs.msg", fromlist=["Image"]).Image
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    bench.create_subscription(msg_type, topic, lambda m: got.append(time.monotonic()), qos)
    pub = bench.create_publisher(event_packet_type(), EVENTS, EVENTS_QOS) if node != "bag_player" else None
    run = Run(node, cache_dir, warmup, domain)
    sent, deadline = [], run.t0 + timeout_s
    try:
        while not got and time.monotonic() < deadline and run.p.poll() is None:
            ex.spin_once(timeout_sec=0.005)
            if pub is None or pub.get_subscription_count() == 0 or len(sent) >= len(packets):
                continue
            due = sent[0] + (packets[len(sent)].stamp_ns - packets[0].stamp_ns) / 1e9 if sent else 0.0
            if time.monotonic() >= due:  # the recording at real speed, from when the node subscribed
                pub.publish(packet_to_msg(packets[len(sent)]))
                sent.append(time.monotonic())
    finally:
        run.stop()
        ex.shutdown()
        bench.destroy_node()
        rclpy.shutdown(context=ctx)
    out = {"first_output_s": got[0] - run.t0 if got else None, "warmup_s": run.warmup_s,
           "first_window_s": got[0] - sent[k] if got and k is not None and len(sent) > k else None,
           "subscribed_s": sent[0] - run.t0 if sent else None}
    if not got:
        print(f"   {node}: no output within {timeout_s:.0f} s; its last lines:\n" + "".join(run.lines[-8:]))
    return out


def fmt(v, unit="s"):
    return "-" if v is None else (f"{v * 1e3:.0f} ms" if v < 1 else f"{v:.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_warmstart", description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", nargs="+", choices=tuple(NODES), default=["event_reconstructor", "bag_player"])
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds a start may take to its first output")
    ap.add_argument("--domain", type=int, default=int(os.environ.get("SEAL_ROS_TEST_DOMAIN", 0)) or 77,
                    help="ROS domain of the runs")
    args = ap.parse_args(argv)
    if not BAG.exists():
        print(f"bench_warmstart: {BAG} not found")
        return 1
    rows, domains = [], itertools.count(args.domain)
    for node in args.nodes:
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            cases = {"cold cache, warm-up": measure(node, Path(cache), True, next(domains) % 100 + 1, args.timeout),
                     "warm cache, warm-up": measure(node, Path(cache), True, next(domains) % 100 + 1, args.timeout),
                     "warm cache, no warm-up": measure(node, Path(cache), False, next(domains) % 100 + 1, args.timeout)}
        print(f"-- {node}")
        for case, r in cases.items():
            print(f"   {case:<24} first output {fmt(r['first_output_s']):>9} after start; first window "
                  f"{fmt(r['first_window_s']):>9}; warm-up {fmt(r['warmup_s'])}; subscribed after "
                  f"{fmt(r['subscribed_s'])}")
        rows.append((node, cases))
        warm, bare = cases["warm cache, warm-up"], cases["warm cache, no warm-up"]
        if warm["first_window_s"] and bare["first_window_s"]:
            ratio = bare["first_window_s"] / warm["first_window_s"]
            report(Figure("17.4", f"{node}: first window (warm numba cache); first output "
                          f"{fmt(warm['first_output_s'])} after start (cold cache {fmt(cases['cold cache, warm-up']['first_output_s'])})",
                          fmt(warm["first_window_s"]), f"without the warm-up {fmt(bare['first_window_s'])}", ratio,
                          "compiled or loaded before the first window", warm["first_window_s"] < 0.5))
        elif warm["first_output_s"]:
            report(Figure("17.4", f"{node}: first output after start (warm numba cache; cold "
                          f"{fmt(cases['cold cache, warm-up']['first_output_s'])})", fmt(warm["first_output_s"]),
                          f"without the warm-up {fmt(bare['first_output_s'])}", None, "kernels before the first packet",
                          None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
