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
    node, helper, pub, _, got = _setup(ros_executor, ros_context, stamp_source="sensor")
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
    c = node.source.counters()
    assert c["events"] > 100_000 and c["bad_packets"] == 0


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

    node, helper, pub, frames_pub, got = _setup(ros_executor, ros_context, method="cf", cf_init_from_frame=True,
                                                stamp_source="sensor")
    _play(ros_executor, pub, packets[:6])  # the filter is built for the first window
    assert spin_until(ros_executor, lambda: node.recon is not None, 10.0)
    assert node.active_method == "cf" and node.recon.filter.cutoff_hz == 0.5  # cutoff_hz -1: the reference's
    stream = EventStream()
    t_first = next(int(d.events.t[0]) for d in map(stream.push, packets) if len(d.events))
    frame = Image(height=260, width=346, encoding="mono8", step=346, data=bytes([128]) * (346 * 260))
    frame.header.stamp = ns_to_stamp(t_first + 1_000_000)
    frames_pub.publish(frame)
    assert spin_until(ros_executor, lambda: node.counts["frames_in"] >= 1, 5.0)
    n = len(got)
    _play(ros_executor, pub, packets[6:20])
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
                                       idle_timeout_s=0.3, stamp_source="sensor")
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


@pytest.fixture(scope="module")
def evt3_packets():
    from conftest import EVT3_BAG

    with BagReader(EVT3_BAG) as bag:
        return list(bag.event_packets())[:150]


def _offset_and_firsts(packets):
    """(smallest header - first event over the packets, [(header stamp, first event time)])."""
    stream = EventStream()
    firsts = [(p.stamp_ns, int(d.events.t[0])) for p, d in zip(packets, map(stream.push, packets)) if len(d.events)]
    return min(s - t for s, t in firsts), firsts


def test_a_recording_played_twice_gives_images_in_ros_time_from_both_passes(ros_executor, ros_context,
                                                                             evt3_packets):
    node, helper, pub, _, got = _setup(ros_executor, ros_context)  # default: stamp_source header
    _play(ros_executor, pub, evt3_packets)
    assert spin_until(ros_executor, lambda: len(got) >= 10, 10.0)
    n1 = len(got)
    _play(ros_executor, pub, evt3_packets)  # the same seqs again: ros2 bag play, twice
    assert spin_until(ros_executor, lambda: len(got) >= n1 + 10, 10.0), "nothing from the second pass"
    spin_until(ros_executor, lambda: False, 0.3)
    stamps = [stamp_to_ns(m.header.stamp) for m in got]
    back = [i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1]]
    assert len(back) == 1 and back[0] >= 10 and len(stamps) - back[0] >= 10  # one restart, output on both sides
    c = node.source.counters()
    assert c["restarts"] == 1 and c["time_jumps"] == 0 and c["bad_packets"] == 0
    offset, firsts = _offset_and_firsts(evt3_packets)
    d_ns = int(WINDOW_MS * 1e6)
    for s in stamps:
        # ROS time (2023), and within a frame period of the header stamp of the packet holding the window's end
        t1 = s - offset
        k = max(i for i, (_, t) in enumerate(firsts) if t < t1)
        assert abs(s - firsts[k][0]) < d_ns, (s, firsts[k])


def _shift(pkt, seq, dt_ns=0, **kw):
    from dataclasses import replace

    return replace(pkt, seq=seq, time_base=pkt.time_base + dt_ns, **kw)


def test_a_future_packet_and_a_huge_sensor_do_not_stop_the_output(ros_executor, ros_context, evt3_packets):
    node, helper, pub, _, got = _setup(ros_executor, ros_context)
    _play(ros_executor, pub, evt3_packets[:60])
    assert spin_until(ros_executor, lambda: len(got) >= 3, 10.0)
    seq = evt3_packets[60].seq
    future = _shift(evt3_packets[60], seq, 3600 * 10**9)  # one packet an hour ahead
    huge = _shift(evt3_packets[61], seq + 1, width=32768, height=32768)  # would need 16 GiB of filter state
    _play(ros_executor, pub, [future, huge])
    n = len(got)
    _play(ros_executor, pub, evt3_packets[62:150])
    assert spin_until(ros_executor, lambda: len(got) >= n + 10, 10.0), "output stopped after the outlier"
    c = node._diag_values()
    stream = EventStream()
    n_future = [len(stream.push(p).events) for p in evt3_packets[:61]][-1]
    assert c["time_outlier_packets"] == 1 and c["time_jumps"] == 0 and c["dropped_late"] == 0
    assert c["dropped_time_outlier"] == n_future > 0  # only the outlier's own events
    assert c["dropped_sensor_size"] == 1 and c["internal_errors"] == 0
    assert node.size == (640, 480)
    stamps = [stamp_to_ns(m.header.stamp) for m in got]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] < 10**9  # no stamp an hour ahead


def test_rate_mode_buffer_is_capped_and_reset_forgets_the_stream(ros_executor, ros_context, packets):
    from std_srvs.srv import Trigger

    from conftest import call_service

    node, helper, pub, _, got = _setup(ros_executor, ros_context, rate_hz=0.01, max_window_events=1000)
    _play(ros_executor, pub, packets[:40])
    assert spin_until(ros_executor, lambda: node.source.counters()["packets"] >= 40, 10.0)
    total = sum(len(d.events) for d in map(EventStream().push, packets[:40]))
    c = node.source.counters()
    assert node.source._windower.pending == 1000 and c["dropped_overflow"] == total - 1000  # bounded, counted
    res = call_service(ros_executor, helper.create_client(Trigger, "/event_reconstructor/reset"), Trigger.Request())
    assert res.success
    assert node.source.counters()["dropped_reconfigure"] == 1000  # the open window, counted
    _play(ros_executor, pub, packets[:5])  # the same seqs: after ~/reset no restart, a fresh stream
    assert spin_until(ros_executor, lambda: node.source.counters()["packets"] >= 45, 10.0)
    assert node.source.counters()["restarts"] == 0 and node.source.counters()["lost_packets"] == 0


def test_diagnostics_name_every_problem_counter(ros_executor, ros_context, packets):
    from seal_ros.nodes.event_reconstructor import PROBLEM_COUNTERS

    node, *_ = _setup(ros_executor, ros_context)
    values = node._diag_values()
    assert set(PROBLEM_COUNTERS) <= set(values), set(PROBLEM_COUNTERS) - set(values)
    assert all(isinstance(values[k], (int, float)) for k in PROBLEM_COUNTERS)


def test_no_memory_for_a_reconstructor_is_counted_and_the_node_goes_on(ros_executor, ros_context, packets,
                                                                      monkeypatch):
    import seal_ros.nodes.event_reconstructor as mod

    real = mod.Reconstructor

    def no_memory(method, width, height, *a, **kw):
        if width * height > 346 * 260:
            raise MemoryError(f"cannot allocate the filter state of {width}x{height}")
        return real(method, width, height, *a, **kw)

    monkeypatch.setattr(mod, "Reconstructor", no_memory)
    node, helper, pub, _, got = _setup(ros_executor, ros_context, max_sensor_size=32768)
    wide = [_shift(p, p.seq, width=4096, height=4096) for p in packets[:15]]  # refused sizes are allowed here
    _play(ros_executor, pub, wide)
    assert spin_until(ros_executor, lambda: node.counts["dropped_no_reconstructor"] >= 1, 10.0)
    assert node.recon is None and node.errors.counts["no_reconstructor"] == 1  # said once for the size
    _play(ros_executor, pub, [_shift(p, p.seq + 1000) for p in packets[:20]])  # the real size: a new stream
    assert spin_until(ros_executor, lambda: len(got) >= 2, 10.0), "no output after the failed size"
    assert (got[-1].width, got[-1].height) == (346, 260) and node.counts["internal_errors"] == 0
