"""What ROS tools see of the nodes, over real DDS: /diagnostics (one convention for all three
nodes), reliable subscribers (ros2 topic echo's default) receiving results and images, the
configurable image QoS, and services that fail without ending the node."""
from __future__ import annotations

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy

from conftest import LIBCAER_CMP_BAG, call_service, set_parameters, spin_until
from seal_ros.nodes.common import EVENTS_QOS, event_packet_type

TOPIC = "/surface_test/events"
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # what ros2 topic echo / rqt use


@pytest.fixture(scope="module")
def packets():
    from seal_ros.io.bags import BagReader

    with BagReader(LIBCAER_CMP_BAG) as bag:
        return list(bag.event_packets())[:60]


def _msg(pkt, encoding=None):
    from seal_ros.nodes.player import packet_to_msg

    msg = packet_to_msg(pkt)
    if encoding is not None:
        msg.encoding = encoding
    return msg


def _statuses(helper, store):
    from diagnostic_msgs.msg import DiagnosticArray

    def keep(msg):
        for st in msg.status:
            store.append((st.name, st.level[0] if isinstance(st.level, bytes) else int(st.level), st.message,
                          {kv.key: kv.value for kv in st.values}))
    helper.create_subscription(DiagnosticArray, "/diagnostics", keep, 50)


def _latest(store, prefix):
    for st in reversed(store):
        if st[0].startswith(prefix):
            return st
    return None


def _start(ros_context, ros_executor, node_cls, params):
    """The node under test and a helper node, both on the executor; the helper collects /diagnostics."""
    node = node_cls(context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    helper = Node("surface_helper", context=ros_context)
    ros_executor.add_node(node)
    ros_executor.add_node(helper)
    store = []
    _statuses(helper, store)
    return node, helper, store


def _reconstructor(ros_context, ros_executor, **params):
    from seal_ros.nodes.event_reconstructor import EventReconstructorNode

    params = dict(dict(events_topic=TOPIC, diagnostics_period_s=0.2, topic_timeout_s=0.8), **params)
    node, helper, store = _start(ros_context, ros_executor, EventReconstructorNode, params)
    pub = helper.create_publisher(event_packet_type(), TOPIC, EVENTS_QOS)
    return node, helper, pub, store


def test_reconstructor_diagnostics_ok_then_warn_then_silent_and_reliable_images(ros_context, ros_executor, packets):
    from sensor_msgs.msg import Image

    node, helper, pub, store = _reconstructor(ros_context, ros_executor)
    images = []
    helper.create_subscription(Image, "/event_reconstructor/image", images.append, RELIABLE)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0
                      and helper.count_publishers("/event_reconstructor/image") > 0, 10)
    for pkt in packets[:30]:
        pub.publish(_msg(pkt))
        ros_executor.spin_once(timeout_sec=0.01)
    n = len(store)
    # good input: OK, "ok", every counter a key; a reliable subscriber gets the images
    assert spin_until(ros_executor, lambda: len(store) > n + 1 and _latest(store, "event_reconstructor")[1] == 0, 5)
    name, level, message, values = _latest(store, "event_reconstructor")
    assert message == "ok" and name == "event_reconstructor: event reconstruction"
    assert {"packets", "events", "images_published", "bad_packets", "lost_packets", "fault"} <= set(values)
    assert int(values["packets"]) == 30 and values["fault"] == ""
    assert spin_until(ros_executor, lambda: len(images) >= 3, 5)
    # a refused packet: WARN for one status, with the counter's rise in words
    for pkt in packets[30:33]:
        pub.publish(_msg(pkt, encoding="no_such_encoding"))
        ros_executor.spin_once(timeout_sec=0.01)
    assert spin_until(ros_executor, lambda: _latest(store, "event_reconstructor")[1] == 1, 5)
    _, _, message, values = _latest(store, "event_reconstructor")
    assert "dropped encoding +3 (3 in total)" in message and "bad packet errors +3" in message
    assert values["err_bad_packet"] == "3"
    # the input stays silent (topic_timeout_s 0.8): a warning naming the topic
    assert spin_until(ros_executor, lambda: "no message on /surface_test/events for"
                      in _latest(store, "event_reconstructor")[2], 5)
    assert _latest(store, "event_reconstructor")[1] == 1


def test_a_method_that_cannot_load_is_a_diagnostics_error(ros_context, ros_executor, packets, tmp_path):
    node, helper, pub, store = _reconstructor(ros_context, ros_executor, method="firenet",
                                              checkpoint=str(tmp_path / "none.pth"))
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    for pkt in packets[:10]:  # enough to close a window: the network is built for the first one
        pub.publish(_msg(pkt))
        ros_executor.spin_once(timeout_sec=0.01)
    assert spin_until(ros_executor, lambda: (_latest(store, "event_reconstructor") or (0, 0))[1] == 2, 5)
    message = _latest(store, "event_reconstructor")[2]
    assert message.startswith("method firenet could not be loaded; running on hpf")


def test_best_effort_images_on_request(ros_context, ros_executor):
    node, helper, pub, _ = _reconstructor(ros_context, ros_executor, image_reliability="best_effort")
    assert spin_until(ros_executor, lambda: helper.count_publishers("/event_reconstructor/image") > 0, 10)
    (info,) = helper.get_publishers_info_by_topic("/event_reconstructor/image")
    assert info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    res = set_parameters(ros_executor, "/event_reconstructor", helper, {"image_reliability": "reliable"})
    assert not res[0].successful  # fixed at start-up (read-only)


def test_recorder_publishes_diagnostics_and_status_to_reliable_subscribers(ros_context, ros_executor, tmp_path):
    from std_srvs.srv import Trigger

    from seal_ros.msg import RecorderStatus
    from seal_ros.nodes.pair_recorder import PairRecorderNode

    params = dict(output_dir=str(tmp_path), status_period_s=0.1, diagnostics_period_s=0.2, topic_timeout_s=0.5,
                  events_topic="/surface_rec/events", image_topic="/surface_rec/image")
    node, helper, store = _start(ros_context, ros_executor, PairRecorderNode, params)
    statuses = []
    helper.create_subscription(RecorderStatus, "/pair_recorder/status", statuses.append, RELIABLE)
    assert spin_until(ros_executor, lambda: _latest(store, "pair_recorder") is not None and statuses, 10)
    assert spin_until(ros_executor, lambda: _latest(store, "pair_recorder")[1] == 1, 5)
    name, level, message, values = _latest(store, "pair_recorder")
    assert name == "pair_recorder: pair recording"
    assert "no message on /surface_rec/events" in message and "no message on /surface_rec/image" in message
    assert statuses[-1].silent_topics == ["/surface_rec/events", "/surface_rec/image"]

    # a service whose work raises: success=False with the reason, counted; the node keeps serving
    def broken(*a, **k):
        raise RuntimeError("simulated failure")

    node.worker.start = broken
    client = helper.create_client(Trigger, "/pair_recorder/start")
    r = call_service(ros_executor, client, Trigger.Request())
    assert not r.success and "RuntimeError: simulated failure" in r.message
    assert node.errors.counts["service_error"] == 1
    # a 300-character session name is refused at run time, the old value stays
    res = set_parameters(ros_executor, "/pair_recorder", helper, {"session_name": "y" * 300})
    assert not res[0].successful and "at most 247" in res[0].reason
    assert node.params["session_name"] == ""
    stop = call_service(ros_executor, helper.create_client(Trigger, "/pair_recorder/stop"), Trigger.Request())
    assert not stop.success and stop.message == "not recording"


def test_segmenter_results_reach_reliable_subscribers_and_missing_weights_are_an_error(
        ros_context, ros_executor, packets, tmp_path):
    from sensor_msgs.msg import Image

    from seal_ros.nodes.seal_segmenter import SealSegmenterNode

    params = dict(model="vit_b", device="cpu", events_topic=TOPIC, window_duration_ms=10.0,
                  models_dir=str(tmp_path))
    node, helper, store = _start(ros_context, ros_executor, SealSegmenterNode, params)
    images = []
    helper.create_subscription(Image, "/seal_segmenter/event_image", images.append, RELIABLE)
    pub = helper.create_publisher(event_packet_type(), TOPIC, EVENTS_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0 and node.runner.state != "loading", 30)
    for pkt in packets[:20]:
        pub.publish(_msg(pkt))
        ros_executor.spin_once(timeout_sec=0.01)
    assert spin_until(ros_executor, lambda: len(images) >= 2, 10)
    assert spin_until(ros_executor, lambda: (_latest(store, "seal_segmenter") or (0, 0))[1] == 2, 5)
    assert _latest(store, "seal_segmenter")[2].startswith("model weights missing")


def test_an_exception_in_a_callback_is_counted_and_spinning_goes_on(ros_context):
    from rclpy.executors import SingleThreadedExecutor

    from seal_ros.nodes.common import ErrorCounter, _spin

    node = Node("raising_node", context=ros_context)
    node.errors = ErrorCounter(node.get_logger())
    calls = []

    def tick():
        calls.append(1)
        if len(calls) <= 2:
            raise MemoryError("a hostile input")  # what a fallback let escape before (issue 13.2)
        ros_context.try_shutdown()  # the third call ends the spin, as a signal would

    node.create_timer(0.01, tick)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    _spin(ex, node)
    assert len(calls) == 3 and node.errors.counts["callback_exception"] == 2
    node.destroy_node()
