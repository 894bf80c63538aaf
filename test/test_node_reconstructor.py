"""event_reconstructor over real DDS, fed with a real recording."""
from __future__ import annotations

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from conftest import LIBCAER_CMP_BAG, set_parameters, spin_until
from seal_ros.events.stream import EventStream
from seal_ros.io.bags import BagReader
from seal_ros.nodes.common import EVENTS_QOS, SENSOR_QOS, event_packet_type, ns_to_stamp, stamp_to_ns

TOPIC = "/test_e2v/events"
WINDOW_MS = 33.3


@pytest.fixture(scope="module")
def packets():
    with BagReader(LIBCAER_CMP_BAG) as bag:
        return list(bag.event_packets())[:40]


def _msg(pkt):
    Msg = event_packet_type()
    msg = Msg(height=pkt.height, width=pkt.width, seq=pkt.seq, time_base=pkt.time_base, encoding=pkt.encoding,
              is_bigendian=pkt.is_bigendian, events=pkt.events.tobytes())
    msg.header.stamp = ns_to_stamp(pkt.stamp_ns)
    msg.header.frame_id = "davis"
    return msg


def _setup(ros_executor, ros_context, **overrides):
    from sensor_msgs.msg import Image

    from seal_ros.nodes.event_reconstructor import EventReconstructorNode

    params = [Parameter("events_topic", value=TOPIC), Parameter("window_duration_ms", value=WINDOW_MS)]
    params += [Parameter(k, value=v) for k, v in overrides.items()]
    node = EventReconstructorNode(context=ros_context, parameter_overrides=params)
    helper = Node("e2v_test_helper", context=ros_context)
    ros_executor.add_node(node)
    ros_executor.add_node(helper)
    got = []
    helper.create_subscription(Image, "/event_reconstructor/image", got.append, SENSOR_QOS)
    pub = helper.create_publisher(event_packet_type(), TOPIC, EVENTS_QOS)
    frames_pub = helper.create_publisher(Image, "/event_reconstructor/frames", SENSOR_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0 and helper.count_publishers(
        "/event_reconstructor/image") > 0, 10.0)
    return node, helper, pub, frames_pub, got


def _play(ros_executor, pub, packets):
    for pkt in packets:
        pub.publish(_msg(pkt))
        ros_executor.spin_once(timeout_sec=0.005)


def test_real_recording_gives_images_stamped_at_window_ends(ros_executor, ros_context, packets):
    node, helper, pub, _, got = _setup(ros_executor, ros_context)
    _play(ros_executor, pub, packets)
    assert spin_until(ros_executor, lambda: len(got) >= 5, 10.0), f"only {len(got)} images"
    spin_until(ros_executor, lambda: False, 0.3)

    # The window grid, computed from the recording itself.
    stream = EventStream()
    first = next(int(d.events.t[0]) for d in map(stream.push, packets) if len(d.events))
    d_ns = int(WINDOW_MS * 1e6)
    stamps = [stamp_to_ns(m.header.stamp) for m in got]
    assert stamps == sorted(stamps)
    for s in stamps:
        assert s > first and (s - first) % d_ns == 0, f"stamp {s} is not a window end"
    for m in got:
        assert (m.width, m.height, m.encoding) == (346, 260, "mono8")  # the sensor's size
        assert m.header.frame_id == "davis"
    img = np.frombuffer(m.data, np.uint8).reshape(260, 346)
    assert img.std() > 5, "the picture is flat"
    assert node.counts["events_in"] > 100_000 and node.counts["bad_packets"] == 0


def test_bad_checkpoint_falls_back_to_hpf_and_keeps_publishing(ros_executor, ros_context, packets, tmp_path):
    from sensor_msgs.msg import Image

    node, helper, pub, frames_pub, got = _setup(ros_executor, ros_context)
    _play(ros_executor, pub, packets[:5])
    assert spin_until(ros_executor, lambda: node.size == (346, 260), 10.0)

    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"\x00not a checkpoint" * 100)
    results = set_parameters(ros_executor, "/event_reconstructor", helper,
                             {"checkpoint": str(bad), "method": "e2vid"})
    assert all(r.successful for r in results)
    assert node.active_method == "hpf" and node.counts["method_failures"] >= 1
    # out-of-range values are refused with a reason
    (r,) = set_parameters(ros_executor, "/event_reconstructor", helper, {"cutoff_hz": -2.0})
    assert not r.successful and "cutoff_hz" in r.reason

    n = len(got)
    _play(ros_executor, pub, packets[5:25])
    assert spin_until(ros_executor, lambda: len(got) > n, 10.0), "no image after the failed switch"

    # a frame of another size is rejected and counted
    wrong = Image(height=10, width=10, encoding="mono8", step=10, data=bytes(100))
    frames_pub.publish(wrong)
    assert spin_until(ros_executor, lambda: node.counts["frames_rejected"] >= 1, 5.0)


def test_method_switch_to_a_network_checkpoint(ros_executor, ros_context, packets, tmp_path):
    import torch

    from seal_ros.e2v.checkpoint import save_checkpoint
    from seal_ros.e2v.networks import build

    torch.manual_seed(0)
    path = tmp_path / "firenet.pth"
    save_checkpoint(build("firenet"), path)
    node, helper, pub, _, got = _setup(ros_executor, ros_context, checkpoint=str(path), padding="zero",
                                       auto_hdr=True)
    results = set_parameters(ros_executor, "/event_reconstructor", helper, {"method": "firenet"})
    assert results[0].successful
    _play(ros_executor, pub, packets[:15])
    assert spin_until(ros_executor, lambda: len(got) >= 2, 10.0)
    assert node.active_method == "firenet" and node.recon.model is not None
    assert node.recon.net.padding.mode == "zero" and node.recon.display.auto_hdr is True
    assert (got[-1].width, got[-1].height) == (346, 260)


def test_complementary_filter_takes_frames_and_network_options_reach_the_reconstructor(
        ros_executor, ros_context, packets):
    from sensor_msgs.msg import Image

    node, helper, pub, frames_pub, got = _setup(ros_executor, ros_context, method="cf", cf_init_from_frame=True)
    _play(ros_executor, pub, packets[:2])
    assert spin_until(ros_executor, lambda: node.recon is not None, 10.0)
    assert node.active_method == "cf" and node.recon.filter.cutoff_hz == 0.5  # cutoff_hz -1: the reference's
    stream = EventStream()
    t_first = next(int(d.events.t[0]) for d in map(stream.push, packets) if len(d.events))
    frame = Image(height=260, width=346, encoding="mono8", step=346, data=bytes([128]) * (346 * 260))
    frame.header.stamp = ns_to_stamp(t_first + 1_000_000)
    frames_pub.publish(frame)
    assert spin_until(ros_executor, lambda: node.counts["frames_in"] >= 1, 5.0)
    n = len(got)
    _play(ros_executor, pub, packets[2:20])
    assert spin_until(ros_executor, lambda: len(got) > n + 2, 10.0)
    img = np.frombuffer(got[-1].data, np.uint8).reshape(260, 346)
    # most pixels saw no event: started from the frame, they show it: (exp(log(1 + 128/255)) - 1 + 0.1) * 255 / 1.3
    assert int(np.median(img)) == round((128 / 255 + 0.1) * 255 / 1.3)
    assert node.recon.filter.frames_used == 1 and node.counts["frames_rejected"] == 0
    results = set_parameters(ros_executor, "/event_reconstructor", helper, {"method": "hpf", "cutoff_hz": 0.2})
    assert all(r.successful for r in results)
    assert node.recon.method == "hpf" and node.recon.filter.cutoff_hz == 0.2


def test_rate_mode_and_publish_on_idle(ros_executor, ros_context, packets):
    node, helper, pub, _, got = _setup(ros_executor, ros_context, rate_hz=20.0, publish_on_idle=True,
                                       idle_timeout_s=0.3)
    _play(ros_executor, pub, packets[:20])
    assert spin_until(ros_executor, lambda: len(got) >= 1, 10.0)
    stream = EventStream()
    last_event = max(int(d.events.t[-1]) for d in map(stream.push, packets[:20]) if len(d.events))
    assert spin_until(ros_executor, lambda: stamp_to_ns(got[-1].header.stamp) >= last_event + 1, 10.0)
    # events stopped: after idle_timeout_s the decayed picture keeps coming, later in event time
    n, last = len(got), stamp_to_ns(got[-1].header.stamp)
    assert spin_until(ros_executor, lambda: len(got) >= n + 2, 10.0), "nothing published while idle"
    assert stamp_to_ns(got[-1].header.stamp) > last
    assert node.counts["images_published"] > node.counts["windows_out"]
