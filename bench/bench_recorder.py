"""Benchmark: the pair_recorder node under a synthetic 20 Mev/s EVT3 stream + 30 images/s.

A publisher process (this one) plays pre-encoded EVT3 packets (5 ms each) and
640x480 mono8 images at real timing over DDS to the real ``pair_recorder``
node running in its own process (``record_on_start``). Measured: whether
everything arrived and was written (events, pairs, lost packets), how long the
node needed after the stream ended to drain its queue, the node's CPU use, and
the write amplification (bytes written / raw EVT3 payload bytes).

Peers measured in the same run, on the same stream:
* ``core``: the recorder core alone (decode + session) in this process, as fast as it goes;
* ``disk``: writing the same number of bytes with ``numpy.tofile`` + fsync.

Usage: ``scripts/with-env python bench/bench_recorder.py [--rate 20e6] [--seconds 5] [--fps 30]``
(keeps the default run under a minute; prints one JSON object).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

W, H = 640, 480
PACKET_US = 5_000
TIME_BASE = 1_700_000_000_000_000_000


def encode_evt3(t0_us: int, n_us: int, rate: float, rng) -> tuple[np.ndarray, int]:
    """EVT3 words for ``n_us`` microseconds starting at ``t0_us``: per microsecond a TIME_LOW,
    an ADDR_Y and a VECT_BASE_X followed by VECT_12/VECT_8 masks (rate/1e6 events per us,
    at most 20), a TIME_HIGH whenever bits 12..23 change. Returns (uint8 payload, event count)."""
    per_us = int(round(rate / 1e6))
    assert 1 <= per_us <= 20, "this encoder emits 1..20 events per microsecond"
    t = np.arange(t0_us, t0_us + n_us, dtype=np.int64)
    m12 = (1 << min(per_us, 12)) - 1
    m8 = (1 << max(per_us - 12, 0)) - 1
    y = rng.integers(0, H, n_us)
    x = rng.integers(0, W - 20, n_us)
    pol = rng.integers(0, 2, n_us)
    cols = [(6 << 12) | (t & 0xFFF), (0 << 12) | y, (3 << 12) | (pol << 11) | x, np.full(n_us, (4 << 12) | m12)]
    if m8:
        cols.append(np.full(n_us, (5 << 12) | m8))
    block = np.stack(cols, axis=1)
    high = (t >> 12) & 0xFFF
    new_high = np.ones(n_us, bool)
    new_high[1:] = high[1:] != high[:-1]
    words = []
    starts = np.flatnonzero(new_high)
    bounds = list(starts) + [n_us]
    for a, b in zip(bounds[:-1], bounds[1:]):
        words.append(np.array([(8 << 12) | high[a]], np.int64))
        words.append(block[a:b].reshape(-1))
    return np.concatenate(words).astype("<u2").view(np.uint8), per_us * n_us


def make_packets(rate: float, seconds: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = int(seconds * 1e6 / PACKET_US)
    # a few distinct payload patterns re-stamped: generating 100 M events would take longer than the run
    out, total = [], 0
    for k in range(n):
        payload, cnt = encode_evt3(1_000 + k * PACKET_US, PACKET_US, rate, rng)
        out.append(payload)
        total += cnt
    return out, total


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def image(k: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return ((xx + yy + 7 * k) % 256).astype(np.uint8)


def run_node(packets, events_total, fps, out: Path) -> dict:
    import rclpy
    from event_camera_msgs.msg import EventPacket
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from std_srvs.srv import Trigger

    from seal_ros.msg import RecorderStatus
    from seal_ros.nodes.common import EVENTS_QOS, RESULT_QOS, SENSOR_QOS, ns_to_stamp

    env = dict(os.environ)
    cmd = [sys.executable, "-c", "from seal_ros.nodes.pair_recorder import main; main()", "--ros-args",
           "-r", "__node:=bench_recorder", "-p", "events_topic:=/bench/events", "-p", "image_topic:=/bench/image",
           "-p", f"output_dir:={out}", "-p", "session_name:=run", "-p", "record_on_start:=true",
           "-p", "status_period_s:=0.1", "-p", "window_ms:=30.0"]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rclpy.init()
    node = Node("bench_player")
    pub_e = node.create_publisher(EventPacket, "/bench/events", EVENTS_QOS)
    pub_i = node.create_publisher(Image, "/bench/image", SENSOR_QOS)
    statuses, samples = [], []

    def on_status(msg):
        statuses.append(msg)
        samples.append((time.monotonic(), int(msg.events_written)))

    node.create_subscription(RecorderStatus, "/bench_recorder/status", on_status, RESULT_QOS)
    stop = node.create_client(Trigger, "/bench_recorder/stop")
    try:
        deadline = time.monotonic() + 60
        while not (pub_e.get_subscription_count() and pub_i.get_subscription_count() and statuses
                   and statuses[-1].recording):
            rclpy.spin_once(node, timeout_sec=0.05)
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the recorder node did not come up: " + proc.stdout.read().decode()[-2000:])
        msgs = []
        for k, payload in enumerate(packets):
            m = EventPacket(height=H, width=W, seq=k + 1, time_base=TIME_BASE, encoding="evt3",
                            is_bigendian=False, events=payload.tobytes())
            m.header.stamp = ns_to_stamp(TIME_BASE + (1_000 + (k + 1) * PACKET_US) * 1000)
            msgs.append((k * PACKET_US * 1000, 0, m))
        period = int(1e9 / fps)
        dur = len(packets) * PACKET_US * 1000
        n_img = 0
        for j, t in enumerate(range(period, dur - 40_000_000, period)):
            img = image(j)
            m = Image(height=H, width=W, encoding="mono8", step=W, data=img.tobytes())
            m.header.stamp = ns_to_stamp(TIME_BASE + 1_000_000 + t)
            msgs.append((t + 2_000_000, 1, m))
            n_img += 1
        msgs.sort(key=lambda it: (it[0], it[1]))
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        late = 0.0
        for dt, kind, m in msgs:
            wait = t0 + dt / 1e9 - time.monotonic()
            while wait > 0:  # take status messages while waiting
                rclpy.spin_once(node, timeout_sec=wait)
                wait = t0 + dt / 1e9 - time.monotonic()
            late = max(late, -wait)
            (pub_i if kind else pub_e).publish(m)
        t_play = time.monotonic() - t0
        # the node has kept up when everything sent is written; then stop (final flush + close)
        written_at_end = statuses[-1].events_written if statuses else 0

        def backlog_s(frac):  # how far (in stream seconds) the writer was behind at this point of the stream
            t = t0 + frac * t_play
            w = max([n for ts, n in samples if ts <= t], default=0)
            return round(max(frac * events_total - w, 0) / (events_total / t_play), 3)

        backlog = {"25%": backlog_s(0.25), "50%": backlog_s(0.5), "75%": backlog_s(0.75), "100%": backlog_s(1.0)}
        per_packet = events_total // len(packets)
        last_n, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < 2.0:  # until all is written (or nothing moves for 2 s)
            while True:  # drain queued status messages: only the newest counts
                n = len(statuses)
                rclpy.spin_once(node, timeout_sec=0.0 if n else 0.02)
                if len(statuses) == n:
                    break
            st = statuses[-1]
            if st.events_written != last_n:
                last_n, last_change = st.events_written, time.monotonic()
            if st.events_written + st.lost_packets * per_packet >= events_total:
                break
        t_caught_up = last_change - t0
        fut = stop.call_async(Trigger.Request())
        while not fut.done():
            rclpy.spin_once(node, timeout_sec=0.05)
        t_all = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        resp = fut.result()
        n_status = len(statuses)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(statuses) == n_status or statuses[-1].recording):
            rclpy.spin_once(node, timeout_sec=0.05)
        st = statuses[-1]
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    raw = sum(p.nbytes for p in packets)
    written = dir_bytes(out / "run")
    return dict(
        stop_response=resp.message, events_published=events_total, events_written=int(st.events_written),
        images_published=n_img, pairs_written=int(st.pairs_written), lost_packets=int(st.lost_packets),
        skips=dict(zip(st.skip_reasons, map(int, st.skip_counts))), last_error=st.last_error,
        playback_s=round(t_play, 3), written_when_stream_ended=int(written_at_end),
        backlog_s_during_stream=backlog, caught_up_after_stream_s=round(t_caught_up - t_play, 3),
        stop_s=round(t_all - t_caught_up, 3),
        publisher_max_late_s=round(late, 3),
        sustained_events_per_s=round(st.events_written / t_caught_up), node_cpu_cores=round(cpu / t_all, 2),
        bytes_written=written, raw_event_bytes=raw, write_amplification=round(written / raw, 2),
        dropped_nothing=bool(st.events_written == events_total and st.lost_packets == 0
                             and st.pairs_written + sum(st.skip_counts) == n_img),
    )


def run_core(packets, fps, out: Path) -> dict:
    from seal_ros.events.packet import EventPacket
    from seal_ros.events.stream import EventStream
    from seal_ros.recorder.session import RecorderConfig, RecordingSession

    EventStream().push(EventPacket("evt3", W, H, 1, TIME_BASE, packets[0]))  # compile the decoder first
    s = RecordingSession(out / "core", RecorderConfig(window_ms=30.0), W, H)
    stream = EventStream()
    period_us = int(1e6 / fps)
    next_img, j = period_us + 1_000, 0
    c0, t0 = time.process_time(), time.monotonic()
    for k, payload in enumerate(packets):
        d = stream.push(EventPacket("evt3", W, H, k + 1, TIME_BASE, payload))
        s.add_events(d.events, d.lost_packets, payload.nbytes)
        while next_img <= 1_000 + (k + 1) * PACKET_US - 40_000:
            s.add_image(TIME_BASE + next_img * 1000, image(j))
            next_img, j = next_img + period_us, j + 1
        s.poll()
    s.stop()
    dt = time.monotonic() - t0
    st = s.stats()
    return dict(events_per_s=round(st["events_written"] / dt), cpu_cores=round((time.process_time() - c0) / dt, 2),
                wall_s=round(dt, 3), pairs_written=st["pairs_written"], bytes_written=st["bytes_written"])


def run_real_bag(out: Path) -> dict:
    """Write amplification on the real EVT3 recording (sparse scene: ~6.5 payload bytes an event)."""
    from seal_ros.events.stream import EventStream
    from seal_ros.io.bags import BagReader
    from seal_ros.recorder.session import RecorderConfig, RecordingSession

    bag = ROOT.parent / "shared" / "data" / "evt3_640x480"
    if not bag.exists():
        return dict(skipped=f"{bag} not found")
    s, stream, raw = RecordingSession(out / "real", RecorderConfig(), W, H), EventStream(), 0
    with BagReader(bag) as r:
        for pk in r.event_packets():
            d = stream.push(pk)
            s.add_events(d.events, d.lost_packets, pk.events.nbytes)
            raw += pk.events.nbytes
    s.stop()
    h5 = (out / "real" / "events" / "events.h5").stat().st_size
    return dict(events=s.writer.n_events, raw_event_bytes=raw, h5_bytes=h5, write_amplification=round(h5 / raw, 2))


def run_disk(nbytes: int, out: Path) -> dict:
    buf = np.random.default_rng(1).integers(0, 255, 64 << 20, dtype=np.uint8)
    t0 = time.monotonic()
    path = out / "disk.bin"
    with open(path, "wb") as f:
        left = nbytes
        while left > 0:
            chunk = buf[: min(left, len(buf))]
            chunk.tofile(f)
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())
    dt = time.monotonic() - t0
    path.unlink()
    return dict(bytes_per_s=round(nbytes / dt), wall_s=round(dt, 3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20e6, help="events per second (1e6..20e6)")
    ap.add_argument("--seconds", type=float, default=4.0, help="stream duration")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out", default=None, help="scratch directory (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(101, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    scratch = Path(args.out or tempfile.mkdtemp(prefix="bench_recorder_"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        packets, total = make_packets(args.rate, args.seconds)
        node = run_node(packets, total, args.fps, scratch / "node")
        shutil.rmtree(scratch / "node", ignore_errors=True)
        core = run_core(packets, args.fps, scratch)
        disk = run_disk(node["bytes_written"], scratch)
        real = run_real_bag(scratch)
        result = dict(
            target=dict(events_per_s=args.rate, images_per_s=args.fps, seconds=args.seconds,
                        cores=os.cpu_count(), raw_bytes_per_event=round(node["raw_event_bytes"] / total, 3)),
            node=node, core_peer=core, disk_peer=disk, real_evt3_bag=real,
            ratios=dict(
                node_vs_target=round(node["sustained_events_per_s"] / args.rate, 3),
                node_vs_core=round(node["sustained_events_per_s"] / max(core["events_per_s"], 1), 3),
                node_write_rate_vs_disk=round(node["bytes_written"] / (node["playback_s"] + node["caught_up_after_stream_s"])
                                              / disk["bytes_per_s"], 3),
            ),
        )
        print(json.dumps(result, indent=1))
        return 0
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
