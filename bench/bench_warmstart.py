#!/usr/bin/env python3
"""Warm start (issue 17.4): real node processes, numba's cache cold and warm, with and without the warm-up.

    python -m bench.bench_warmstart                     # event_reconstructor, seal_segmenter, bag_player
    python bench/bench_warmstart.py --nodes bag_player
    seal-ros bench warmstart

Each node starts as ``ros2 run`` starts it (``executables/``), in a process of
its own, over DDS on loopback (a ROS domain of its own). This process plays the
shared evt3 recording to it at real speed once the node has subscribed, and
takes the time:

* **to the first output**: from starting the process to the first message the
  node publishes (``event_reconstructor``: ``~/image``; ``seal_segmenter``:
  ``~/instances``, with ``model:=tiny`` on the CPU: random weights, timing only;
  its model loads in a worker thread after it subscribes, and the recording
  starts when it logs ``model ready`` (as a camera streaming since the launch,
  within one window); ``bag_player``: its first EventPacket);
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
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.packets import EVT3_BAG as BAG, evt3_packets  # noqa: E402
from seal_ros.cli.bench import Figure, report  # noqa: E402

EVENTS = "/bench_warmstart/events"


@dataclass(frozen=True)
class NodeCase:
    params: tuple  # name:=value
    topic: str  # its first output
    window_ns: Optional[int]  # the window of the first output (None: no window)
    ready: Optional[str] = None  # a log line after which it answers windows (None: once subscribed)


NODES = {
    "event_reconstructor": NodeCase((f"events_topic:={EVENTS}", "window_duration_ms:=33.0"),
                                    "/event_reconstructor/image", 33_000_000),
    "seal_segmenter": NodeCase((f"events_topic:={EVENTS}", "model:=tiny", "device:=cpu", "window_duration_ms:=50.0"),
                               "/seal_segmenter/instances", 50_000_000, r"model ready"),
    "bag_player": NodeCase((f"bag:={BAG}", f"topic:={EVENTS}", "start_delay_s:=0.0"), EVENTS, None),
}
READY_LINE = re.compile(r"numba kernels ready in ([0-9.]+) s|numba warm-up skipped")


def packets_and_first_window(window_ns):
    """The recording's packets, and the index of the packet whose push completes the first window."""
    from seal_ros.events.source import WindowSource

    packets = evt3_packets(str(BAG))
    if window_ns is None:
        return packets, None
    src = WindowSource("duration", window_ns)
    k = next(i for i, p in enumerate(packets) if src.push(p).windows)
    return packets, k


class Run:
    """One node process and what this process saw of it."""

    def __init__(self, node, cache_dir, warmup: bool, domain: int):
        case = NODES[node]
        cmd = [sys.executable, str(ROOT / "executables" / node), "--ros-args"]
        for p in case.params:
            cmd += ["-p", p]
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), SEAL_ROS_WARMUP="1" if warmup else "0",
                   ROS_DOMAIN_ID=str(domain), RCUTILS_LOGGING_USE_STDOUT="1", PYTHONUNBUFFERED="1")
        self.node, self.lines, self.t_ready_line = node, [], None
        self._ready = re.compile(case.ready) if case.ready else None
        self.t_answering = None if self._ready else 0.0  # when it logged that it answers windows
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)
            if self.t_ready_line is None and READY_LINE.search(line):
                self.t_ready_line = time.monotonic()
            if self.t_answering is None and self._ready.search(line):
                self.t_answering = time.monotonic()

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
    case = NODES[node]
    packets, k = packets_and_first_window(case.window_ns)
    got = []
    if node == "bag_player":
        msg_type, qos = event_packet_type(), QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    elif node == "seal_segmenter":
        from seal_ros.msg import InstanceMaskArray
        from seal_ros.nodes.common import RESULT_QOS

        msg_type, qos = InstanceMaskArray, RESULT_QOS
    else:
        from sensor_msgs.msg import Image

        msg_type, qos = Image, QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    bench.create_subscription(msg_type, case.topic, lambda m: got.append(time.monotonic()), qos)
    pub = bench.create_publisher(event_packet_type(), EVENTS, EVENTS_QOS) if node != "bag_player" else None
    run = Run(node, cache_dir, warmup, domain)
    sent, deadline = [], run.t0 + timeout_s
    try:
        while not got and time.monotonic() < deadline and run.p.poll() is None:
            ex.spin_once(timeout_sec=0.005)
            if (pub is None or pub.get_subscription_count() == 0 or len(sent) >= len(packets)
                    or run.t_answering is None):
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
           "subscribed_s": sent[0] - run.t0 if sent else None,
           "answering_s": run.t_answering - run.t0 if run.t_answering else None}
    if not got:
        print(f"   {node}: no output within {timeout_s:.0f} s; its last lines:\n" + "".join(run.lines[-8:]))
    return out


def fmt(v):
    return "-" if v is None else (f"{v * 1e3:.0f} ms" if v < 1 else f"{v:.2f} s")


CASES = ("cold cache, warm-up", "warm cache, warm-up", "warm cache, no warm-up")


def figure(node: str, cases: dict) -> Optional[Figure]:
    """The node's row of the table: its first window (or first output) on a filled cache with the warm-up,
    against the same without the warm-up (the peer, measured in the same run)."""
    cold, warm, bare = (cases[c] for c in CASES)
    ran = f"{node} process over DDS, numba cache filled" + (", model=tiny (random) on the CPU"
                                                             if node == "seal_segmenter" else "")
    first = f"first output {fmt(warm['first_output_s'])} after start (empty cache: {fmt(cold['first_output_s'])})"
    if warm["first_window_s"] and bare["first_window_s"]:
        return Figure("17.4", f"{node}: first window latency; {first}", fmt(warm["first_window_s"]),
                      f"without the warm-up {fmt(bare['first_window_s'])}", bare["first_window_s"] / warm["first_window_s"],
                      "kernels compiled or loaded before the first window (first window < 0.5 s)",
                      warm["first_window_s"] < 0.5, ran=ran)
    if warm["first_output_s"] and bare["first_output_s"]:
        return Figure("17.4", f"{node}: first output after start (empty cache: {fmt(cold['first_output_s'])})",
                      fmt(warm["first_output_s"]), f"without the warm-up {fmt(bare['first_output_s'])}",
                      bare["first_output_s"] / warm["first_output_s"], "kernels before the first packet", None, ran=ran)
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_warmstart", description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", nargs="+", choices=tuple(NODES), default=list(NODES))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a start may take to its first output")
    ap.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID") or
                                                      os.environ.get("SEAL_ROS_TEST_DOMAIN") or 77),
                    help="ROS domain of the runs (default: ROS_DOMAIN_ID, else SEAL_ROS_TEST_DOMAIN, else 77)")
    args = ap.parse_args(argv)
    if importlib.util.find_spec("rclpy") is None:
        print("bench_warmstart: needs ROS 2 (rclpy): skipped")
        return 0
    if not BAG.exists():
        print(f"bench_warmstart: {BAG} not found")
        return 1
    status = 0
    for node in args.nodes:
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            cases = {c: measure(node, Path(cache), c != CASES[2], args.domain, args.timeout) for c in CASES}
        print(f"-- {node}")
        for case, r in cases.items():
            print(f"   {case:<24} first output {fmt(r['first_output_s']):>9} after start; first window "
                  f"{fmt(r['first_window_s']):>9}; warm-up {fmt(r['warmup_s'])}; model ready "
                  f"{fmt(r['answering_s']) if node == 'seal_segmenter' else '-'}; playing from {fmt(r['subscribed_s'])}")
        fig = figure(node, cases)
        if fig is None:
            print(f"   {node}: no figure (a start gave no output)")
            status = 1
        else:
            report(fig)
    return status


if __name__ == "__main__":
    sys.exit(main())
