"""Real DDS on loopback: our messages and event_camera_msgs cross between two participants intact."""
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from conftest import spin_until
from seal_ros.nodes.common import EVENTS_QOS, RESULT_QOS, ns_to_stamp, packet_from_msg, stamp_to_ns


def _mask_array():
    from seal_ros.msg import InstanceMask, InstanceMaskArray
    from sensor_msgs.msg import Image

    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 2:5] = 255
    inst = InstanceMask(id=7, prompt_id=3, class_index=1, class_name="person", class_score=0.75,
                        mask_score=0.9, score=0.675, granularity=1, bbox=[2.0, 1.0, 4.0, 2.0],
                        mask=Image(height=4, width=6, encoding="mono8", step=6, data=mask.tobytes()))
    msg = InstanceMaskArray(width=6, height=4, vocabulary=["car", "person"], instances=[inst], event_count=12)
    msg.header.stamp = ns_to_stamp(1_675_956_550_318_678_998)
    msg.header.frame_id = "event_camera"
    return msg


def test_instance_masks_and_event_packets_cross_dds(ros_context):
    from event_camera_msgs.msg import EventPacket
    from seal_ros.msg import InstanceMaskArray

    # A second participant: its own context, as another process would have.
    ctx2 = Context()
    rclpy.init(context=ctx2)
    try:
        pub_node = Node("roundtrip_pub", context=ros_context)
        sub_node = Node("roundtrip_sub", context=ctx2)
        ex1, ex2 = SingleThreadedExecutor(context=ros_context), SingleThreadedExecutor(context=ctx2)
        ex1.add_node(pub_node)
        ex2.add_node(sub_node)
        got_masks, got_events = [], []
        sub_node.create_subscription(InstanceMaskArray, "/rt/instances", got_masks.append, RESULT_QOS)
        sub_node.create_subscription(EventPacket, "/rt/events", got_events.append, EVENTS_QOS)
        pub_m = pub_node.create_publisher(InstanceMaskArray, "/rt/instances", RESULT_QOS)
        pub_e = pub_node.create_publisher(EventPacket, "/rt/events", EVENTS_QOS)

        payload = np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8)
        ev = EventPacket(height=480, width=640, seq=42, time_base=123_456_789_000, encoding="evt3",
                         is_bigendian=False, events=payload.tobytes())
        ev.header.stamp = ns_to_stamp(1_000_000_123)
        sent = _mask_array()

        def both():
            ex1.spin_once(timeout_sec=0)
            return got_masks and got_events

        ok = False
        for _ in range(100):  # publish until discovery completes and both arrive
            pub_m.publish(sent)
            pub_e.publish(ev)
            if spin_until(ex2, both, timeout_s=0.1):
                ok = True
                break
        assert ok, "messages did not cross DDS"

        m = got_masks[0]
        assert stamp_to_ns(m.header.stamp) == 1_675_956_550_318_678_998
        assert list(m.vocabulary) == ["car", "person"]
        inst = m.instances[0]
        assert (inst.id, inst.prompt_id, inst.class_index, inst.class_name) == (7, 3, 1, "person")
        assert abs(inst.score - 0.675) < 1e-6 and list(inst.bbox) == [2.0, 1.0, 4.0, 2.0]
        received_mask = np.frombuffer(inst.mask.data, np.uint8).reshape(4, 6)
        assert received_mask.sum() == 255 * 6 and received_mask[1:3, 2:5].all()

        pkt = packet_from_msg(got_events[0])
        assert (pkt.encoding, pkt.width, pkt.height, pkt.seq, pkt.time_base) == ("evt3", 640, 480, 42, 123_456_789_000)
        assert pkt.stamp_ns == 1_000_000_123
        np.testing.assert_array_equal(pkt.events, payload)
    finally:
        rclpy.shutdown(context=ctx2)
