"""pair_recorder over real DDS: the EVT3 bag and an image stream played at real timing."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest
import rclpy
from conftest import EVT3_BAG, call_service, set_parameters, spin_until
from rclpy.context import Context
from rclpy.node import Node

from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader
from seal_ros.nodes.common import EVENTS_QOS, RESULT_QOS, SENSOR_QOS, ns_to_stamp
from seal_ros.recorder.reader import PairsDataset, validate


def image_for(k):
    img = np.full((30, 40), (k * 11) % 256, np.uint8)
    img[k % 30] = 255
    return img


@pytest.fixture(scope="module")
def bag_stream():
    """Raw messages with their receive times, and the decoder's events for the whole bag."""
    msgs, events, stream = [], [], EventStream()
    with BagReader(EVT3_BAG) as bag:
        from seal_ros.events.packet import EventPacket

        for t, msg in bag.messages(bag.topic_of_type("event_camera_msgs/msg/EventPacket")):
            msgs.append((t, msg))
            events.append(stream.push(EventPacket.from_msg(msg)).events)
    return msgs, EventArray.concatenate(events)


def to_ros_packet(msg):
    from event_camera_msgs.msg import EventPacket

    out = EventPacket(height=msg.height, width=msg.width, seq=msg.seq, time_base=msg.time_base,
                      encoding=msg.encoding, is_bigendian=bool(msg.is_bigendian), events=msg.events.tobytes())
    out.header.stamp = ns_to_stamp(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
    out.header.frame_id = msg.header.frame_id
    return out


class Player:
    """A second DDS participant publishing events and images at the recording's real timing."""

    def __init__(self):
        from event_camera_msgs.msg import EventPacket
        from sensor_msgs.msg import Image

        self.ctx = Context()
        rclpy.init(context=self.ctx)
        self.node = Node("player", context=self.ctx)
        self.pub_e = self.node.create_publisher(EventPacket, "/cam/events", EVENTS_QOS)
        self.pub_i = self.node.create_publisher(Image, "/cam/image", SENSOR_QOS)

    def matched(self):
        return self.pub_e.get_subscription_count() > 0 and self.pub_i.get_subscription_count() > 0

    def play(self, msgs, stamps, t_first_event, latency_ns=5_000_000, stamp_shift=0, edit=None):
        """Events at their recorded pace, images at ``stamps`` (event clock) + latency, their header
        stamps ``stamps + stamp_shift``; ``edit(index, ros_packet)`` may change a packet."""
        from sensor_msgs.msg import Image

        items = [(t - msgs[0][0], "e", to_ros_packet(m)) for t, m in msgs]
        if edit is not None:
            for i, it in enumerate(items):
                edit(i, it[2])
        for k, st in enumerate(stamps):
            img = image_for(k)
            msg = Image(height=img.shape[0], width=img.shape[1], encoding="mono8", step=img.shape[1],
                        data=img.tobytes())
            msg.header.stamp = ns_to_stamp(st + stamp_shift)
            items.append((st - t_first_event + latency_ns, "i", msg))
        items.sort(key=lambda it: it[0])
        t0 = time.monotonic()
        for dt, kind, msg in items:
            wait = t0 + dt / 1e9 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            (self.pub_e if kind == "e" else self.pub_i).publish(msg)

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


def make_recorder(ros_context, ros_executor, out_dir, **params):
    from rclpy.parameter import Parameter

    from seal_ros.nodes.pair_recorder import PairRecorderNode

    overrides = dict(dict(output_dir=str(out_dir), session_name="run", window_ms=30.0, status_period_s=0.2), **params)
    node = PairRecorderNode(context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
                            cli_args=["--ros-args", "-p", "events_topic:=/cam/events", "-p", "image_topic:=/cam/image"])
    ros_executor.add_node(node)
    helper = Node("recorder_test_helper", context=ros_context)
    ros_executor.add_node(helper)
    return node, helper


def trigger(ros_executor, helper, name):
    from std_srvs.srv import Trigger

    client = helper.create_client(Trigger, f"/pair_recorder/{name}")
    return call_service(ros_executor, client, Trigger.Request(), timeout_s=30)


def test_node_records_exact_pairs_from_a_live_stream(ros_context, ros_executor, tmp_path, bag_stream):
    from seal_ros.msg import RecorderStatus

    msgs, all_ev = bag_stream
    # image stamps in the event clock, as from a hardware-synchronised camera: no mapping
    node, helper = make_recorder(ros_context, ros_executor, tmp_path, stamp_source="sensor")
    statuses = []
    helper.create_subscription(RecorderStatus, "/pair_recorder/status", statuses.append, RESULT_QOS)
    player = Player()
    try:
        assert spin_until(ros_executor, player.matched, 10)
        r = trigger(ros_executor, helper, "start")
        assert r.success, r.message
        t_first = int(all_ev.t[0])
        stamps = list(range(t_first + 40_000_000, int(all_ev.t[-1]) - 60_000_000, 50_000_000))
        th = threading.Thread(target=player.play, args=(msgs, stamps, t_first))
        th.start()
        while th.is_alive():
            ros_executor.spin_once(timeout_sec=0.02)
        th.join()
        spin_until(ros_executor, lambda: False, 0.5)  # let the last messages arrive
        assert spin_until(ros_executor, lambda: any(s.recording and s.pairs_written for s in statuses), 5)
        r = trigger(ros_executor, helper, "stop")
        assert r.success, r.message
    finally:
        player.close()
    session = tmp_path / "run"
    summary = validate(session)
    assert summary["valid"], summary["problems"]
    tu = all_ev.t // 1000
    with PairsDataset(session) as ds:
        assert len(ds.pairs) >= len(stamps) - 2  # best-effort transport: allow a lost image or two
        got = {p["image_t_us"]: p for p in ds.pairs}
        exact = 0
        for k, st in enumerate(stamps):
            p = got.get(st // 1000)
            if p is None:
                continue
            np.testing.assert_array_equal(ds.image(ds.pairs.index(p)), image_for(k))
            assert (p["t0_us"], p["t1_us"]) == ((st - 30_000_000) // 1000, st // 1000)
            if not p["flags"]["lost_packets"]:
                assert p["event_count"] == int(((tu >= p["t0_us"]) & (tu < p["t1_us"])).sum())
                exact += 1
        assert exact >= len(stamps) - 4
    assert "pairs" in r.message and str(len(ds.pairs)) in r.message
    assert spin_until(ros_executor, lambda: statuses and not statuses[-1].recording
                      and statuses[-1].pairs_written == len(ds.pairs), 5)
    assert statuses[-1].session_dir == str(session) and statuses[-1].events_written > 300_000


def test_played_twice_in_ros_time_with_an_outlier_two_sessions_and_nothing_lost(
        ros_context, ros_executor, tmp_path, bag_stream):
    """Images stamped in ROS time (the default stamp_source: header); the first pass has one packet an
    hour ahead; the second pass replays the same seqs (ros2 bag play, twice)."""
    msgs, _ = bag_stream
    msgs = msgs[:260]  # about a second
    stream = EventStream()
    from seal_ros.events.packet import EventPacket

    evs = [stream.push(EventPacket.from_msg(m)).events for _, m in msgs]
    firsts = [(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec, int(e.t[0])) for (_, m), e in zip(msgs, evs)
              if len(e)]
    offset = min(h - t for h, t in firsts)  # ROS time minus event time, as the node estimates it
    OUT = 130  # this packet goes an hour ahead in the first pass
    good = EventArray.concatenate([e for i, e in enumerate(evs) if i != OUT])
    t_first = int(good.t[0])
    stamps = list(range(t_first + 40_000_000, int(good.t[-1]) - 60_000_000, 50_000_000))

    def future(i, pk):
        if i == OUT:
            pk.time_base += 3600 * 10**9

    node, helper = make_recorder(ros_context, ros_executor, tmp_path)  # default: stamp_source header
    player = Player()
    try:
        assert spin_until(ros_executor, player.matched, 10)
        assert trigger(ros_executor, helper, "start").success
        for edit in (future, None):
            th = threading.Thread(target=player.play, args=(msgs, stamps, t_first),
                                  kwargs=dict(stamp_shift=offset, edit=edit))
            th.start()
            while th.is_alive():
                ros_executor.spin_once(timeout_sec=0.02)
            th.join()
            spin_until(ros_executor, lambda: False, 0.5)
        r = trigger(ros_executor, helper, "stop")
        assert r.success, r.message
    finally:
        player.close()
    c = node._diag_values()
    assert c["restarts"] == 1 and c["sessions"] == 2 and c["time_outlier_packets"] == 1 and c["time_jumps"] == 0
    assert c["internal_errors"] == 0 and c["skipped_off_timeline"] == 0
    from seal_ros.nodes.pair_recorder import PROBLEM_COUNTERS

    assert set(PROBLEM_COUNTERS) <= set(c)
    everything = EventArray.concatenate(evs)
    for name, reason, ev in (("run", "restart", good), ("run_1", "stopped", everything)):
        tu = ev.t // 1000
        summary = validate(tmp_path / name)
        assert summary["valid"] and summary["stop_reason"] == reason, summary
        if c["lost_packets"] == 0:  # (best-effort transport: a lost packet is flagged, not stored)
            assert summary["events"] == len(ev)  # every event of the pass, and only those
        with PairsDataset(tmp_path / name) as ds:
            assert len(ds.pairs) >= len(stamps) - 4, (name, len(ds.pairs))
            assert ds.meta["clock"]["stamp_source"] == "header"
            assert abs(ds.meta["clock"]["ros_minus_event_ns"] - offset) < 5_000_000
            exact = 0
            for p in ds.pairs:
                # images paired in the event clock: their ROS stamps mapped back with the estimated offset
                st = min(stamps, key=lambda v: abs(v - p["image_t_us"] * 1000))
                assert abs(p["image_t_us"] * 1000 - st) < 5_000_000
                assert p["t1_us"] - p["t0_us"] == 30_000
                if not p["flags"]["lost_packets"]:
                    assert p["event_count"] == int(((tu >= p["t0_us"]) & (tu < p["t1_us"])).sum())
                    exact += 1
            assert exact >= len(stamps) - 6
    assert not (tmp_path / "run_2").exists()


@pytest.fixture
def read_only_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    # root ignores permissions: a read-only tmpfs
    ok = shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)],
                                                  capture_output=True).returncode == 0
    yield d if ok else tmp_path / "file_not_dir" / "sub"
    if ok:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_read_only_output_dir_gives_a_clear_error_and_the_node_keeps_running(
        ros_context, ros_executor, tmp_path, read_only_dir):
    from seal_ros.msg import RecorderStatus

    (tmp_path / "file_not_dir").write_text("x")
    node, helper = make_recorder(ros_context, ros_executor, read_only_dir)
    statuses = []
    helper.create_subscription(RecorderStatus, "/pair_recorder/status", statuses.append, RESULT_QOS)
    r = trigger(ros_executor, helper, "start")
    assert not r.success and str(read_only_dir.parent) in r.message
    assert "not writable" in r.message or "Read-only" in r.message or "Not a directory" in r.message
    assert spin_until(ros_executor, lambda: statuses and statuses[-1].last_error, 5)
    assert not statuses[-1].recording
    # bad values are refused with a reason; the node still serves
    res = set_parameters(ros_executor, "/pair_recorder", helper, {"window_ms": -1.0})
    assert not res[0].successful and "window_ms" in res[0].reason
    res = set_parameters(ros_executor, "/pair_recorder", helper, {"session_name": "../x"})
    assert not res[0].successful
    res = set_parameters(ros_executor, "/pair_recorder", helper, {"output_dir": str(tmp_path / "ok")})
    assert res[0].successful
    r = trigger(ros_executor, helper, "start")
    assert r.success, r.message
    assert not trigger(ros_executor, helper, "start").success  # already recording
    r = trigger(ros_executor, helper, "stop")
    assert r.success and "0 pairs" in r.message
    assert not trigger(ros_executor, helper, "stop").success  # not recording
    assert (tmp_path / "ok" / "run" / "pairs.jsonl").exists()


@pytest.fixture
def small_disk(tmp_path):
    """(directory, min_free_mb) leaving about 20 MB for the recording: a real 24 MB tmpfs as root,
    else the temporary directory's device with the reserve set accordingly."""
    d = tmp_path / "small"
    d.mkdir()
    ok = os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(d)], capture_output=True).returncode == 0
    if ok:
        yield d, 2.0
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
    else:
        st = os.statvfs(d)
        yield d, (st.f_bavail * st.f_frsize - 20_000_000) / 1e6


def mono_packet(seq, t0_ns, n, rng):
    """A ``mono`` EventPacket: one uint64 an event (bit 63 polarity, 48..62 y, 32..47 x, 0..31 dt ns)."""
    from event_camera_msgs.msg import EventPacket

    dt = np.sort(rng.integers(0, 10_000_000, n)).astype(np.uint64)
    w = (rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63)) | (rng.integers(0, 240, n).astype(np.uint64) << np.uint64(48)) \
        | (rng.integers(0, 320, n).astype(np.uint64) << np.uint64(32)) | dt
    msg = EventPacket(height=240, width=320, seq=seq, time_base=t0_ns, encoding="mono", is_bigendian=False,
                      events=w.astype("<u8").tobytes())
    msg.header.stamp = ns_to_stamp(t0_ns)
    return msg


def test_disk_full_stops_recording_cleanly_and_the_node_keeps_running(ros_context, ros_executor, tmp_path, small_disk):
    from sensor_msgs.msg import Image

    from seal_ros.msg import RecorderStatus

    disk, reserve = small_disk
    node, helper = make_recorder(ros_context, ros_executor, disk, min_free_mb=reserve, window_ms=5.0, reorder_ms=0.0)
    statuses = []
    helper.create_subscription(RecorderStatus, "/pair_recorder/status", statuses.append, RESULT_QOS)
    player = Player()
    try:
        assert spin_until(ros_executor, player.matched, 10)
        assert trigger(ros_executor, helper, "start").success
        rng = np.random.default_rng(3)
        t = 10**15
        for k in range(1, 45):  # 4.4 M events (~40 MB stored) into ~20 MB of space
            player.pub_e.publish(mono_packet(k, t, 100_000, rng))
            img = Image(height=24, width=32, encoding="mono8", step=32, data=bytes([k]) * (24 * 32))
            img.header.stamp = ns_to_stamp(t + 8_000_000)
            player.pub_i.publish(img)
            t += 10_000_000
            spin_until(ros_executor, lambda: False, 0.03)
        assert spin_until(ros_executor, lambda: statuses and "disk full" in statuses[-1].last_error
                          and not statuses[-1].recording, 15)
    finally:
        player.close()
    summary = validate(disk / "run")
    assert summary["valid"] and summary["pairs"] > 0 and summary["stop_reason"] == "disk_full"
    assert not summary["unclosed"]  # closed cleanly inside the reserve
    # the node is alive and can record elsewhere
    res = set_parameters(ros_executor, "/pair_recorder", helper, {"output_dir": str(tmp_path / "big")})
    assert res[0].successful
    assert trigger(ros_executor, helper, "start").success
    assert trigger(ros_executor, helper, "stop").success
