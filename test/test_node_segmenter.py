"""seal_segmenter over real DDS, with the evt3 recording playing (tiny random model: plumbing, not accuracy)."""
import time

import numpy as np
import pytest

from conftest import EVT3_BAG, call_service, set_parameters, spin_until
from seal_ros.seal.rle import decode_rle

TOPIC = "/seg_test/events"
WINDOW_MS = 10.0


@pytest.fixture(scope="module")
def packets():
    from seal_ros.io.bags import BagReader

    return list(BagReader(EVT3_BAG).event_packets())


class Feeder:
    """Publishes the recording's packets at about real speed, looping (seq carried on) when it runs out.

    ``sent`` keeps every packet as published, so a test can replay exactly that stream offline.
    """

    def __init__(self, node, packets, rate_hz=250.0, carry_seq=True):
        from seal_ros.nodes.common import RESULT_QOS, event_packet_type

        self.pub = node.create_publisher(event_packet_type(), TOPIC, RESULT_QOS)
        self.packets, self.rate_hz, self.sent, self.t0 = packets, rate_hz, [], None
        self.carry_seq = carry_seq  # False: every loop replays the same seqs, as ros2 bag play --loop

    def step(self):
        from dataclasses import replace

        from seal_ros.nodes.player import packet_to_msg

        now = time.monotonic()
        self.t0 = now if self.t0 is None else self.t0
        while len(self.sent) < 1 + (now - self.t0) * self.rate_hz:
            loop, k = divmod(len(self.sent), len(self.packets))
            pk = replace(self.packets[k], seq=self.packets[k].seq + loop * len(self.packets) * self.carry_seq)
            self.pub.publish(packet_to_msg(pk))
            self.sent.append(pk)


def spin_feeding(executor, feeder, predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        feeder.step()
        executor.spin_once(timeout_sec=0.01)
    return bool(predicate())


@pytest.fixture
def rig(ros_context, ros_executor, packets, tmp_path):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from seal_ros.msg import InstanceMaskArray
    from seal_ros.nodes.common import RESULT_QOS
    from seal_ros.nodes.seal_segmenter import SealSegmenterNode

    def make(carry_seq=True, **overrides):
        n_packets = overrides.pop("n_packets", None)
        params = dict(model="tiny", device="cpu", events_topic=TOPIC, window_duration_ms=WINDOW_MS,
                      models_dir=str(tmp_path), plane_rate_hz=50.0)
        params.update(overrides)
        node = SealSegmenterNode(context=ros_context,
                                 parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        helper = Node("seg_test_helper", context=ros_context)
        ros_executor.add_node(node)
        ros_executor.add_node(helper)
        got = []
        helper.create_subscription(InstanceMaskArray, "/seal_segmenter/instances", got.append, RESULT_QOS)
        feeder = Feeder(helper, packets[:n_packets], carry_seq=carry_seq)
        assert spin_until(ros_executor, lambda: feeder.pub.get_subscription_count() > 0, 10)
        assert spin_until(ros_executor, lambda: node.runner.state != "loading", 60)
        return node, helper, feeder, got

    return make


def _prompt_array(*prompts):
    from seal_ros.msg import PromptArray

    return PromptArray(prompts=list(prompts))


def _box_prompt(pid, box, persistent=True):
    from seal_ros.msg import Prompt

    return Prompt(id=pid, has_box=True, box=[float(v) for v in box], granularity=Prompt.GRANULARITY_INSTANCE,
                  persistent=persistent)


def _expected_windows(sent, stamp_source):
    """(window_start, window_end) stamps the node must produce, from the same core on the same packets."""
    from seal_ros.events.source import IngestConfig, WindowSource

    src = WindowSource("duration", int(WINDOW_MS * 1e6), config=IngestConfig(stamp_source=stamp_source))
    out = set()
    for p in sent:
        out |= {(w.t0_ns, w.t1_ns) for w in src.push(p).windows}
    return out


def test_prompt_in_instances_out(rig, ros_executor, packets):
    from geometry_msgs.msg import Point

    from seal_ros.msg import Prompt, PromptArray
    from seal_ros.nodes.common import RESULT_QOS, stamp_to_ns

    node, helper, feeder, got = rig()  # default: camera time mapped to ROS time
    pub = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    point = Prompt(id=7, points=[Point(x=320.0, y=240.0)], point_labels=[1], granularity=Prompt.GRANULARITY_PART,
                   persistent=True)
    pub.publish(_prompt_array(_box_prompt(3, (100, 80, 300, 260)), point))
    assert spin_feeding(ros_executor, feeder, lambda: sum(len(a.instances) == 2 for a in got) >= 3)
    expected = _expected_windows(feeder.sent, "header")
    answered = [a for a in got if a.instances]
    for arr in answered:
        assert len(arr.instances) == 2 and sorted(m.prompt_id for m in arr.instances) == [3, 7]
        assert (arr.width, arr.height) == (640, 480)
        assert (stamp_to_ns(arr.window_start), stamp_to_ns(arr.header.stamp)) in expected
        assert stamp_to_ns(arr.header.stamp) - stamp_to_ns(arr.window_start) == int(WINDOW_MS * 1e6)
        assert arr.event_count > 0
        assert abs(stamp_to_ns(arr.header.stamp) - packets[0].stamp_ns) < 60e9  # ROS time, not camera time
        # the instance and the part class lists, as used by the two prompts, concatenated
        n_inst = len(node.params["vocabulary"])
        assert list(arr.vocabulary) == node.params["vocabulary"] + node.params["part_vocabulary"]
        for m in arr.instances:
            # masks travel as run lengths; the mono8 image only with mask_image:=true
            assert (m.mask.width, m.mask.height, len(m.mask.data)) == (0, 0, 0)
            assert decode_rle(m.mask_rle, arr.height, arr.width).shape == (480, 640)
            assert m.class_index == -1 or arr.vocabulary[m.class_index] == m.class_name
        by_id = {m.prompt_id: m for m in arr.instances}
        assert by_id[3].granularity == Prompt.GRANULARITY_INSTANCE and by_id[7].granularity == Prompt.GRANULARITY_PART
        assert by_id[3].class_index < n_inst and (by_id[7].class_index == -1 or by_id[7].class_index >= n_inst)
    if len(feeder.sent) <= len(packets):  # one pass: stamps only go forward
        ends = [stamp_to_ns(a.header.stamp) for a in answered]
        assert ends == sorted(ends)

    # clear_prompts: the next windows answer nothing
    from std_srvs.srv import Trigger

    res = call_service(ros_executor, helper.create_client(Trigger, "/seal_segmenter/clear_prompts"), Trigger.Request())
    assert res.success and "2" in res.message
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: len(got) > n + 2 and not got[-1].instances)


def test_vocabulary_set_live_and_invalid_refused(rig, ros_executor):
    from seal_ros.msg import PromptArray
    from seal_ros.nodes.common import RESULT_QOS

    from seal_ros.nodes.common import stamp_to_ns

    node, helper, feeder, got = rig(stamp_source="sensor")  # stamps in the camera's event clock
    pub = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    pub.publish(_prompt_array(_box_prompt(1, (50, 50, 400, 400))))
    assert spin_feeding(ros_executor, feeder, lambda: any(a.instances for a in got))
    assert (stamp_to_ns(got[-1].window_start), stamp_to_ns(got[-1].header.stamp)) in _expected_windows(
        feeder.sent, "sensor")
    assert stamp_to_ns(got[-1].header.stamp) < 60 * 10**9  # seconds since the camera started
    old = list(got[-1].vocabulary)

    new = ["Traffic  Light", "pedestrian", "tram"]
    (res,) = set_parameters(ros_executor, "/seal_segmenter", helper, {"vocabulary": new})
    assert res.successful
    want = ["Traffic Light", "pedestrian", "tram"]
    assert spin_feeding(ros_executor, feeder, lambda: any(list(a.vocabulary) == want for a in got))
    first = next(i for i, a in enumerate(got) if list(a.vocabulary) == want)
    assert all(list(a.vocabulary) == old for a in got[:first])
    for a in got[first:]:
        assert list(a.vocabulary) == want
        assert all(m.class_index == -1 or want[m.class_index] == m.class_name for m in a.instances)

    for bad, needle in ((["car", "CAR"], "repeats"), ([""], "blank"), (["x" * 65], "characters")):
        (res,) = set_parameters(ros_executor, "/seal_segmenter", helper, {"vocabulary": bad})
        assert not res.successful and needle in res.reason
    assert node.get_parameter("vocabulary").value == new
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: len(got) >= n + 3)
    assert all(list(a.vocabulary) == want for a in got[n:])


def test_two_plane_clicks_make_a_box_prompt(rig, ros_executor):
    from geometry_msgs.msg import PointStamped
    from nav_msgs.msg import OccupancyGrid

    from seal_ros.nodes.common import RESULT_QOS
    from seal_ros.nodes.seal_segmenter import PLANE_QOS
    from seal_ros.segment.clicks import CLICK_ID_BASE
    from seal_ros.segment.plane import PlaneGeometry, grid_to_image

    from visualization_msgs.msg import Marker, MarkerArray

    node, helper, feeder, got = rig()
    planes, markers = [], []
    helper.create_subscription(OccupancyGrid, "/seal_segmenter/plane", planes.append, PLANE_QOS)
    helper.create_subscription(MarkerArray, "/seal_segmenter/markers", markers.append, RESULT_QOS)
    clicks = helper.create_publisher(PointStamped, "/clicked_point", RESULT_QOS)
    assert spin_feeding(ros_executor, feeder, lambda: planes and clicks.get_subscription_count() > 0)
    grid = planes[-1]
    assert (grid.info.width, grid.info.height, grid.header.frame_id) == (640, 480, "seal_image_plane")
    assert grid.info.resolution == pytest.approx(0.01)
    img = grid_to_image(np.array(grid.data, np.int8), 640, 480, "raw")
    assert img.std() > 0  # the event image, not a blank plane

    geo = PlaneGeometry(640, 480, 0.01, 0.0, 0.0, "seal_image_plane")
    for col, row in ((412, 95), (150, 300)):  # bottom-left then top-right: any order works
        x, y = geo.pixel_to_world(col + 0.5, row + 0.5)
        msg = PointStamped()
        msg.header.frame_id = "seal_image_plane"
        msg.point.x, msg.point.y = x, y
        clicks.publish(msg)
        assert spin_feeding(ros_executor, feeder, lambda: node.clicks.pending is not None or len(node.store) > 0, 10)
    assert spin_until(ros_executor, lambda: len(node.store) == 1, 5)
    (prompt,) = node.store.snapshot()
    assert prompt.id == CLICK_ID_BASE and prompt.box == (150.0, 95.0, 413.0, 301.0) and prompt.persistent
    assert spin_feeding(ros_executor, feeder,
                        lambda: any(m.prompt_id == CLICK_ID_BASE for a in got for m in a.instances))
    assert spin_until(ros_executor, lambda: len(markers) > 0, 5)
    assert markers[-1].markers[0].action == Marker.DELETEALL
    for m in markers[-1].markers[1:]:
        assert m.header.frame_id == "seal_image_plane" and m.type in (Marker.LINE_STRIP, Marker.TEXT_VIEW_FACING)

    # a click from another frame is refused, counted, and changes nothing
    msg = PointStamped()
    msg.header.frame_id = "map"
    clicks.publish(msg)
    assert spin_feeding(ros_executor, feeder, lambda: node.errors.counts["bad_click"] == 1, 10)
    assert node.clicks.pending is None and len(node.store) == 1


def test_without_weights_stays_up_and_publishes_no_instances(rig, ros_executor, capfd):
    from sensor_msgs.msg import Image

    from seal_ros.nodes.common import SENSOR_QOS

    node, helper, feeder, got = rig(model="vit_b")
    images = []
    helper.create_subscription(Image, "/seal_segmenter/event_image", images.append, SENSOR_QOS)
    helper.create_subscription(Image, "/seal_segmenter/overlay", images.append, SENSOR_QOS)
    assert spin_feeding(ros_executor, feeder, lambda: len(images) >= 6)
    assert node.runner.state == "missing"
    assert got == []
    assert all((i.width, i.height, i.encoding) == (640, 480, "rgb8") for i in images)
    err = capfd.readouterr().err
    assert err.count("model files missing in") == 1  # said once
    line = next(ln for ln in err.splitlines() if "model files missing in" in ln)
    assert "seal.pt" in line and "ViT-L-14-336px.pt" in line and "seal-ros models fetch --dir" in line


def test_a_recording_played_twice_gives_results_from_both_passes(rig, ros_executor, packets):
    from seal_ros.events.stream import EventStream
    from seal_ros.nodes.common import stamp_to_ns
    from seal_ros.nodes.seal_segmenter import PROBLEM_COUNTERS

    node, helper, feeder, got = rig(carry_seq=False, n_packets=120)  # ros2 bag play --loop: the same seqs

    def backs():
        stamps = [stamp_to_ns(a.header.stamp) for a in got]
        return stamps, [i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1]]

    # results before and after the first restart (stamps go back once per loop)
    assert spin_feeding(ros_executor, feeder, lambda: backs()[1] and len(got) - backs()[1][0] >= 2, 60)
    stamps, back = backs()
    assert back[0] >= 2, stamps
    assert 1 <= node.source.counters()["restarts"] <= len(feeder.sent) // 120  # one per loop (some in flight)
    c = node._diag_values()
    assert c["time_jumps"] == 0 and c["bad_packets"] == 0 and c["internal_errors"] == 0
    assert set(PROBLEM_COUNTERS) <= set(c)
    # ROS time, within a frame period of the header stamps of the packets around the window's end
    stream = EventStream()
    firsts = [(p.stamp_ns, int(d.events.t[0])) for p, d in zip(packets[:120], map(stream.push, packets[:120]))
              if len(d.events)]
    offset = min(s - t for s, t in firsts)
    for a in got:
        s = stamp_to_ns(a.header.stamp)
        k = max(i for i, (_, t) in enumerate(firsts) if t < s - offset)
        assert abs(s - firsts[k][0]) < WINDOW_MS * 1e6
