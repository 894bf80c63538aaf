"""``bag_player`` over real DDS: any recording in, EventPackets (and images) out, at real speed or a rate."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from conftest import DAVIS_AEDAT, EVT3_BAG, ROOT, spin_until
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from recording_fixtures import RAW_EVT3, bag_events, raw_body, read_all, same_events, write_packet_bag

from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.nodes.common import EVENTS_QOS, RESULT_QOS, packet_from_msg, stamp_to_ns

# a reliable reader, as ros2 topic echo has: the player's default reliable outputs lose nothing
RELIABLE = QoSProfile(history=EVENTS_QOS.history, depth=1000, reliability=RESULT_QOS.reliability,
                      durability=EVENTS_QOS.durability)


def play(ros_context, recording, expect_frames=0, **params):
    """Play ``recording`` with a player in one DDS participant, receive in another; (packets, images, player)."""
    from event_camera_msgs.msg import EventPacket
    from sensor_msgs.msg import Image

    from seal_ros.nodes.player import BagPlayerNode

    ctx2 = Context()
    rclpy.init(context=ctx2)
    try:
        sub = Node("player_test_sub", context=ctx2)
        got, images = [], []
        sub.create_subscription(EventPacket, "/t/events", got.append, RELIABLE)
        sub.create_subscription(Image, "/t/image", images.append, RELIABLE)
        over = [Parameter("bag", value=str(recording)), Parameter("topic", value="/t/events"),
                Parameter("image_topic", value="/t/image"), Parameter("wait_for_subscribers", value=1),
                Parameter("start_delay_s", value=0.5)]
        over += [Parameter(k, value=v) for k, v in params.items()]
        player = BagPlayerNode(context=ros_context, parameter_overrides=over)
        ex1, ex2 = SingleThreadedExecutor(context=ros_context), SingleThreadedExecutor(context=ctx2)
        ex1.add_node(player)
        ex2.add_node(sub)
        try:
            assert spin_until(ex2, lambda: (ex1.spin_once(timeout_sec=0) or True) and player.done.is_set(), 60)
            n = player.counts["packets"]
            assert spin_until(ex2, lambda: len(got) >= n and len(images) >= expect_frames, 5)
        finally:
            player.destroy_node()
        return [packet_from_msg(m) for m in got], images, player
    finally:
        rclpy.shutdown(context=ctx2)


def decode(packets) -> EventArray:
    s = EventStream()
    return EventArray.concatenate([s.push(p).events for p in packets])


def test_plays_a_raw_file_words_unchanged(ros_context):
    packets, _, player = play(ros_context, RAW_EVT3)
    assert player.error is None and len(packets) == player.counts["packets"] > 5
    assert b"".join(p.events.tobytes() for p in packets) == raw_body(RAW_EVT3)
    ref, _, _ = read_all(RAW_EVT3)
    assert same_events(decode(packets), ref)
    assert packets[0].stamp_ns == 1_601_020_109 * 10**9 + 11_718_656_000  # % Date + sensor time


def test_plays_aedat4_events_and_frames_as_images(ros_context):
    from seal_ros.io.aedat import read_aedat4

    packets, images, player = play(ros_context, DAVIS_AEDAT, expect_frames=3, packet_ms=5.0)
    whole = read_aedat4(DAVIS_AEDAT)
    assert {p.encoding for p in packets} == {"evt3"} and same_events(decode(packets), whole.events)
    assert [stamp_to_ns(m.header.stamp) for m in images] == [f.t_ns for f in whole.frames]
    img = np.frombuffer(images[1].data, np.uint8).reshape(images[1].height, images[1].width)
    assert images[1].encoding == "mono8" and np.array_equal(img, whole.frames[1].image)


def test_plays_the_legacy_bag_type(ros_context, tmp_path):
    pk, ev = bag_events(EVT3_BAG, packets=30)
    write_packet_bag(tmp_path / "legacy", "event_array_msgs/msg/EventArray", pk, 2)
    packets, _, _ = play(ros_context, tmp_path / "legacy", rate=4.0)
    assert [p.seq for p in packets] == [p.seq for p in pk] and [p.stamp_ns for p in packets] == [p.stamp_ns for p in pk]
    assert same_events(decode(packets), ev)


@pytest.mark.parametrize("rate", [0.5, 4.0])
def test_rate_factor(ros_context, rate):
    packets, _, player = play(ros_context, DAVIS_AEDAT, packet_ms=5.0, rate=rate)
    stamps = np.array([s for s, _ in player.published])
    wall = np.array([w for _, w in player.published])
    expected = (stamps[-1] - stamps[0]) / 1e9 / rate
    assert expected * 0.95 <= wall[-1] - wall[0] <= expected + 0.5, (wall[-1] - wall[0], expected)


def test_stamps_now(ros_context):
    before = time.time_ns()
    packets, _, _ = play(ros_context, RAW_EVT3, stamps="now")
    assert before < packets[0].stamp_ns < time.time_ns()
    ref = [p.stamp_ns for p in play(ros_context, RAW_EVT3)[0]]
    assert np.array_equal(np.diff([p.stamp_ns for p in packets]), np.diff(ref))


def test_ros2_run_refuses_a_non_recording_in_one_line():
    res = subprocess.run([sys.executable, str(ROOT / "executables" / "bag_player"), "--ros-args", "-p",
                          "bag:=/dev/zero"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == ["bag_player: /dev/zero: a character device, not a recording file"]
