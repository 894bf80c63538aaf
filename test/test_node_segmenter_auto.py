"""seal_segmenter in automatic mode over real DDS (tiny random model: plumbing, ids and filters, not accuracy).

The events are a synthetic static object: every 10 ms window holds exactly the same events (positions,
polarities and times within the window), so every window has the same event image and the model the
same masks; the tracker must then give them the same ids window after window.
"""
import time

import numpy as np
import pytest

from conftest import set_parameters, spin_until
from test_node_segmenter import spin_feeding

from seal_ros.seal.rle import decode_rle

TOPIC = "/seg_auto_test/events"
W, H = 160, 120
PERIOD_NS = 10_000_000
# Every filter open: a random model's IoU predictions and class probabilities are meaningless.
OPEN = dict(auto_pred_iou_thresh=0.0, auto_stability_score_thresh=0.0, min_class_score=0.0, auto_min_area=1,
            background_classes="", auto_points_per_side=8, auto_density_points=16, auto_max_instances=6)


def _object_events(rng):
    """A textured 60 x 50 rectangle; times in [0, 10 ms), the first at 0 (windows then match packets)."""
    from seal_ros.events.types import EventArray

    n = 3000
    x = rng.integers(40, 100, n).astype(np.uint16)
    y = rng.integers(30, 80, n).astype(np.uint16)
    keep = ((x // 6 + y // 6) % 2 == 0)
    x, y = x[keep], y[keep]
    t = np.sort(rng.integers(0, PERIOD_NS // 1000, len(x))) * 1000
    t[0] = 0
    return EventArray(x, y, (x % 2).astype(np.uint8), t.astype(np.int64))


class StaticFeeder:
    """One evt3 packet per 10 ms of the same object, at most 100 a second, and no more than one window
    ahead of the segmenter's worker (``done()``: windows it finished), so that no window is dropped."""

    def __init__(self, node, done):
        from seal_ros.events.encoders import make_encoder
        from seal_ros.events.types import EventArray, TriggerArray
        from seal_ros.nodes.common import RESULT_QOS, event_packet_type

        self.pub = node.create_publisher(event_packet_type(), TOPIC, RESULT_QOS)
        self.pattern = _object_events(np.random.default_rng(3))
        self.encoder = make_encoder("evt3", W, H)
        self.EventArray, self.TriggerArray = EventArray, TriggerArray
        self.sent, self.t0, self.base_ns, self.done = 0, None, 1_000_000_000, done

    def step(self):
        from seal_ros.events.packet import EventPacket
        from seal_ros.nodes.player import packet_to_msg

        now = time.monotonic()
        self.t0 = now if self.t0 is None else self.t0
        while self.sent < 1 + (now - self.t0) * 100 and self.sent <= self.done() + 1:
            p = self.pattern
            ev = self.EventArray(p.x, p.y, p.p, p.t + self.base_ns + self.sent * PERIOD_NS)
            payload, time_base = self.encoder.encode(ev, self.TriggerArray.empty())
            pkt = EventPacket("evt3", W, H, self.sent, time_base, payload, int(ev.t[0]) + 5_000_000_000, "cam")
            self.pub.publish(packet_to_msg(pkt))
            self.sent += 1


@pytest.fixture
def auto_rig(ros_context, ros_executor, tmp_path):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from seal_ros.msg import InstanceMaskArray
    from seal_ros.nodes.common import RESULT_QOS
    from seal_ros.nodes.seal_segmenter import SealSegmenterNode

    def make(**overrides):
        params = dict(model="tiny", device="cpu", events_topic=TOPIC, window_duration_ms=10.0,
                      models_dir=str(tmp_path), plane_rate_hz=0.0, mode="auto", **OPEN)
        params.update(overrides)
        node = SealSegmenterNode(context=ros_context,
                                 parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        helper = Node("seg_auto_helper", context=ros_context)
        ros_executor.add_node(node)
        ros_executor.add_node(helper)
        got = []
        helper.create_subscription(InstanceMaskArray, "/seal_segmenter/instances", got.append, RESULT_QOS)
        feeder = StaticFeeder(helper, lambda: node.runner.counts["windows"])
        assert spin_until(ros_executor, lambda: feeder.pub.get_subscription_count() > 0, 10)
        assert spin_until(ros_executor, lambda: node.runner.state == "ready", 60)
        return node, helper, feeder, got

    return make


def _tracks(arr):
    return [(m.track_id, m.class_name) for m in arr.instances]


def test_auto_mode_finds_instances_without_prompts_with_stable_ids(auto_rig, ros_executor):
    from seal_ros.nodes.common import stamp_to_ns

    from sensor_msgs.msg import Image

    from seal_ros.nodes.common import SENSOR_QOS

    node, helper, feeder, got = auto_rig()
    overlays = []
    helper.create_subscription(Image, "/seal_segmenter/overlay", overlays.append, SENSOR_QOS)
    assert len(node.store) == 0  # no prompt, from anywhere
    assert spin_feeding(ros_executor, feeder, lambda: sum(bool(a.instances) for a in got) >= 4 and overlays)
    assert (overlays[-1].width, overlays[-1].height, overlays[-1].encoding) == (W, H, "rgb8")
    answered = [a for a in got if a.instances]
    for arr in answered:
        assert (arr.width, arr.height) == (W, H)
        assert 1 <= len(arr.instances) <= OPEN["auto_max_instances"]
        for m in arr.instances:
            assert m.prompt_id == 0 and m.track_id >= 1
            assert m.class_name in arr.vocabulary and arr.vocabulary[m.class_index] == m.class_name
            assert (m.mask.width, m.mask.height) == (0, 0)  # masks as run lengths only (mask_image false)
            assert decode_rle(np.asarray(m.mask_rle, np.uint32), H, W).sum() >= 1
    # consecutive windows of the same static object: the same objects under the same ids
    last = answered[-3:]
    assert [stamp_to_ns(a.header.stamp) - stamp_to_ns(a.window_start) for a in last] == [PERIOD_NS] * 3
    ends = [stamp_to_ns(a.header.stamp) for a in last]
    assert ends[1] - ends[0] == PERIOD_NS and ends[2] - ends[1] == PERIOD_NS  # consecutive windows
    assert _tracks(last[0]) == _tracks(last[1]) == _tracks(last[2])
    assert len({t for t, _ in _tracks(last[0])}) == len(last[0].instances)  # one id per object
    assert node.runner.counts["dropped_windows"] == 0
    assert node.runner.segmenter.totals["instances"] >= sum(len(a.instances) for a in answered)


def test_query_topic_restricts_the_classes(auto_rig, ros_executor):
    from std_msgs.msg import String

    from seal_ros.nodes.common import RESULT_QOS

    node, helper, feeder, got = auto_rig(auto_max_instances=100)  # no cap: a query only removes results
    assert spin_feeding(ros_executor, feeder, lambda: sum(bool(a.instances) for a in got) >= 2)
    before = got[-1]
    classes = [m.class_name for m in before.instances]
    assert len(set(classes)) >= 2  # the seeded tiny model names the static object's masks differently
    wanted = classes[-1]
    expected = [t for t in _tracks(before) if t[1] == wanted]
    assert node.runner.segmenter.totals["dropped_cap"] == 0
    pub = helper.create_publisher(String, "/seal_segmenter/query", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    pub.publish(String(data=f"  {wanted.upper()} "))  # names compare case- and space-insensitively
    assert spin_feeding(ros_executor, feeder, lambda: node.params["query"] == f"  {wanted.upper()} ", 10)
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: len(got) >= n + 3)
    for arr in got[n + 1:]:  # the first may have been under way when the query changed
        assert _tracks(arr) == expected  # the same objects, same ids, the other classes gone
    assert node.runner.segmenter.totals["dropped_query"] >= len(classes) - len(expected)

    # a bad query is refused, counted, and the old one stays
    pub.publish(String(data="car, CAR\x01"))
    assert spin_feeding(ros_executor, feeder, lambda: node.errors.counts.get("bad_query", 0) == 1, 10)
    assert node.params["query"] == f"  {wanted.upper()} "
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: len(got) >= n + 2)
    assert _tracks(got[-1]) == expected

    # the mode is live: prompted, and no prompt, answers nothing
    (res,) = set_parameters(ros_executor, "/seal_segmenter", helper, {"mode": "prompted"})
    assert res.successful
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: len(got) >= n + 3)
    assert all(a.instances == [] for a in got[n + 1:])
    (res,) = set_parameters(ros_executor, "/seal_segmenter", helper, {"mode": "everything"})
    assert not res.successful and "not one of" in res.reason
