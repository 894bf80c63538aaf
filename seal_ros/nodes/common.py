"""Pieces every node shares: QoS, event subscriptions, counted errors, diagnostics, ``main``."""
from __future__ import annotations

import functools
import os
import signal
import sys

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from seal_ros.events.packet import EventPacket
from seal_ros.nodes.health import ERROR, WARN, ErrorCounter, HealthJudge, TopicWatch, status_values  # noqa: F401
from seal_ros.nodes.params import Param, ParameterError

# Receives from metavision_driver and libcaer_driver (reliable or best-effort
# publishers alike) without ever blocking them; a deep queue absorbs bursts.
EVENTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)
# Camera images in: sensor-data style (matches reliable and best-effort publishers).
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=30,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)
# Results, status and commands: reliable, shallow (every subscriber matches).
RESULT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
)
IMAGE_RELIABILITY = ("reliable", "best_effort")


def image_qos(reliability: str) -> QoSProfile:
    """QoS of published images: ``reliable`` (every subscriber matches, ``ros2 topic echo`` and
    rqt included) or ``best_effort`` (only best-effort subscribers; never waits for a slow one)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=5 if reliability == "reliable" else 30,
        reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def image_reliability_param(topics: str) -> Param:
    return Param("image_reliability", "reliable", f"QoS reliability of {topics}: reliable (every subscriber "
                 "matches, ros2 topic echo and rqt included) or best_effort (only best-effort subscribers).",
                 choices=IMAGE_RELIABILITY, read_only=True)


def topic_timeout_param(topics: str) -> Param:
    return Param("topic_timeout_s", 2.0, f"{topics} silent for longer than this is a diagnostics warning "
                 "(0: never).", range=(0.0, 3600.0), read_only=True)


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


class Diagnostics:
    """Publishes one ``diagnostic_msgs/DiagnosticStatus`` on ``/diagnostics`` every ``period_s``.

    ``values()`` returns a flat dict of name -> number/str (every counter);
    ``problem_keys`` name the counters whose rise is a warning; ``errors`` (an
    :class:`ErrorCounter`) adds its ``err_<kind>`` counts (problems too);
    ``watch`` (a :class:`TopicWatch`) adds silent inputs; a non-empty
    ``fault`` value is an error. Level and message: :class:`HealthJudge`.
    """

    def __init__(self, node, name: str, values, period_s: float = 1.0, problem_keys=(), errors=None,
                 watch=None):
        from diagnostic_msgs.msg import DiagnosticArray

        self._node = node
        self._name = name
        self._values = values
        self._errors = errors
        self._watch = watch
        self.judge = HealthJudge(problem_keys)
        self.last = None  # (level, message, values) of the last status
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        values = dict(self._values())
        if self._errors is not None:
            values.update(self._errors.values())
        silent = self._watch.silent() if self._watch is not None else []
        level, message = self.judge.judge(values, silent)
        self.last = (level, message, values)
        status = DiagnosticStatus(
            level=bytes([level]), name=f"{self._node.get_name()}: {self._name}",
            hardware_id=self._node.get_fully_qualified_name(), message=message,
            values=[KeyValue(key=k, value=v) for k, v in status_values(values)],
        )
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(msg)


def safe_service(errors: ErrorCounter, name: str):
    """Decorator for a service callback: an exception becomes ``success=False`` with the reason
    (counted as ``service_error``), never the end of the node."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(request, response):
            try:
                return fn(request, response)
            except Exception as exc:  # noqa: BLE001 - a service call must not end the node
                errors.report("service_error", f"{name} failed: {type(exc).__name__}: {exc}")
                response.success = False
                response.message = f"{name} failed: {type(exc).__name__}: {exc}"
                return response
        return call
    return wrap


class _Stop(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM."""


def _on_signal(signum, frame):
    # Later signals (the terminal's SIGINT to the whole group, then launch's own
    # SIGINT/SIGTERM) are ignored while the node shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop()


def _spin(executor, node) -> None:
    """Spin until shutdown; a callback's exception is counted and logged, never the end of the node."""
    errors = getattr(node, "errors", None)
    while executor.context.ok():
        try:
            executor.spin_once(timeout_sec=0.5)
        except (_Stop, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001
            from rclpy.executors import ExternalShutdownException

            if isinstance(exc, ExternalShutdownException) or not executor.context.ok():
                return
            if errors is not None:
                errors.report("callback_exception", f"a callback failed: {type(exc).__name__}: {exc}")
            else:
                node.get_logger().error(f"a callback failed: {type(exc).__name__}: {exc}")


def _exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: with torch loaded it alone takes 1.5-2 s on two
    busy cores, and the node is already shut down (its files closed, DDS left)."""
    import ctypes

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        ctypes.CDLL(None).fflush(None)  # rcutils logs through C stdio
    except (OSError, AttributeError):
        pass
    os._exit(code)


def run_node(node_cls, args=None, exit_process: bool = True) -> int:
    """Standard ``main``: init, spin, shut down cleanly, exit with the status.

    SIGINT and SIGTERM (once or repeatedly, to this process alone or to its
    whole process group, as a terminal's Ctrl-C and ``ros2 launch`` do) end
    the node within 2 s with status 0, no traceback. An invalid start-up
    parameter prints one line and gives status 2. With ``exit_process`` the
    process ends right after the node's own shutdown (see :func:`_exit_now`);
    otherwise the status is returned. A single-threaded executor: each node's
    callbacks are short adapters (heavy work such as the SEAL model runs on a
    worker thread of the node's own), and rclpy's multi-threaded executor
    measured slower here under load.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    code, node, executor = 0, None, None
    try:
        # rclpy's own handlers (installed by init) wake the executor, then call ours.
        rclpy.init(args=args)
        node = node_cls()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        _spin(executor, node)
    except (_Stop, KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterError as exc:
        print(str(exc), file=sys.stderr)
        code = 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if executor is not None:
                executor.shutdown(timeout_sec=0.5)
            if node is not None:
                node.destroy_node()
        except (_Stop, KeyboardInterrupt):
            pass
        finally:
            rclpy.try_shutdown()
    if exit_process:
        _exit_now(code)
    return code
