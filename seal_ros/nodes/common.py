"""Pieces every node shares: QoS, event subscriptions, counted errors, diagnostics."""
from __future__ import annotations

import collections

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, DurabilityPolicy

from seal_ros.events.packet import EventPacket

# Receives from metavision_driver and libcaer_driver (reliable or best-effort
# publishers alike) without ever blocking them; a deep queue absorbs bursts.
EVENTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)
# Camera images: sensor-data style.
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=30,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)
# Results and commands: reliable, shallow.
RESULT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
)


def event_packet_type():
    """The ``event_camera_msgs/msg/EventPacket`` class (import deferred for clear errors)."""
    from event_camera_msgs.msg import EventPacket as Msg

    return Msg


def packet_from_msg(msg) -> EventPacket:
    return EventPacket.from_msg(msg)


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(t_ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))


class ErrorCounter:
    """Counts bad input by kind and logs it, throttled, without stopping the node."""

    def __init__(self, logger, throttle_s: float = 5.0):
        self._logger = logger
        self._throttle = throttle_s
        self.counts = collections.Counter()

    def report(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        self._logger.error(
            f"{message} [{kind}: {self.counts[kind]} so far]",
            throttle_duration_sec=self._throttle,
        )


class Diagnostics:
    """Publishes a ``diagnostic_msgs/DiagnosticArray`` on ``/diagnostics`` at a low rate.

    ``values`` is a callable returning a flat dict of name -> number/str.
    """

    def __init__(self, node, name: str, values, period_s: float = 1.0):
        from diagnostic_msgs.msg import DiagnosticArray

        self._node = node
        self._name = name
        self._values = values
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self._publish)

    def _publish(self):
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        values = self._values()
        level = DiagnosticStatus.WARN if values.get("errors", 0) else DiagnosticStatus.OK
        status = DiagnosticStatus(
            level=level, name=f"{self._node.get_name()}: {self._name}", hardware_id=self._node.get_fully_qualified_name(),
            message="errors counted" if level else "ok",
            values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()],
        )
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(msg)


def run_node(node_cls, args=None) -> None:
    """Standard ``main``: init, spin, shut down cleanly.

    A single-threaded executor: each node's callbacks are short adapters (heavy
    work such as the SEAL model runs on a worker thread of the node's own), and
    rclpy's multi-threaded executor measured slower here under load.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=args)
    node = node_cls()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
