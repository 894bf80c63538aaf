"""``bag_player``: plays any recording into the ROS graph as EventPackets (and frames as images).

Any format ``seal-ros`` reads (:mod:`seal_ros.io.recordings`): a rosbag2 or
ROS 1 bag, a Prophesee RAW file, DSEC ``events.h5``, a text file, EVREAL,
AEDAT4. The packets are :func:`seal_ros.io.packetize.event_packets`'s (a bag
of EventPackets as recorded, RAW words passed through, everything else
encoded in ``encoding`` with packets of ``packet_ms``), published at real
speed times ``rate``, streamed from disk on a thread of the node's own (a
10 GB file is never loaded whole); frames go to ``image_topic``. Header
stamps: the recording's (``stamps: recorded``, as ``seal-ros convert`` writes
them) or ROS time from the start of playback (``stamps: now``, like a live
driver). On a robot, ``ros2 bag play`` plays rosbag2 bags the same way.
"""
from __future__ import annotations

import collections
import threading
import time

from rclpy.node import Node

from seal_ros.io.recordings import RecordingError, open_recording
from seal_ros.nodes.common import EVENTS_QOS, SENSOR_QOS, event_packet_type, ns_to_stamp
from seal_ros.nodes.params import Param, ParamSet
from seal_ros.warmup import warm_up

PARAMS = [
    Param("bag", "", "Recording to play: rosbag2 / ROS 1 bag, Prophesee RAW, events.h5, text, EVREAL or AEDAT4.",
          read_only=True),
    Param("topic", "/event_camera/events", "Topic to publish EventPackets on.", read_only=True),
    Param("image_topic", "/event_camera/image", "Topic to publish the recording's frames on (when it has some).",
          read_only=True),
    Param("encoding", "", "EventPacket encoding; empty: the recording's own (bag packets as recorded, RAW words "
          "passed through), evt3 for formats without one.",
          choices=("", "evt3", "evt2", "libcaer_cmp", "libcaer", "mono"), read_only=True),
    Param("packet_ms", 1.0, "Packet duration when packets are cut or encoded (ms).", range=(0.01, 1000.0),
          read_only=True),
    Param("stamps", "recorded", "Header stamps: the recording's clock, or ROS time from the start of playback.",
          choices=("recorded", "now"), read_only=True),
    Param("reliability", "reliable", "QoS reliability of the outputs (reliable also serves best-effort "
          "subscribers, such as the nodes').", choices=("reliable", "best_effort"), read_only=True),
    Param("wait_for_subscribers", 0, "Before start_delay_s, wait until this many subscribers match the events "
          "topic (at most 60 s).", range=(0, 100), read_only=True),
    Param("rate", 1.0, "Playback speed factor (1.0 = real time).", range=(0.01, 100.0)),
    Param("start_delay_s", 0.5, "Wait before the first packet (lets subscribers connect).", range=(0.0, 60.0)),
]
WAIT_FOR_SUBSCRIBERS_S = 60.0
PUBLISHED_KEEP = 1 << 20  # (stamp, wall time) pairs kept for latency measurements


def packet_to_msg(pkt):
    Msg = event_packet_type()
    msg = Msg(height=pkt.height, width=pkt.width, seq=pkt.seq, time_base=pkt.time_base,
              encoding=pkt.encoding, is_bigendian=pkt.is_bigendian, events=pkt.events.tobytes())
    msg.header.stamp = ns_to_stamp(pkt.stamp_ns)
    msg.header.frame_id = pkt.frame_id
    return msg


def frame_to_msg(stamp_ns: int, image, frame_id: str):
    from sensor_msgs.msg import Image

    from seal_ros.io.images import array_to_image_fields

    msg = Image(**array_to_image_fields(image))
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


class BagPlayerNode(Node):
    """Plays ``bag`` once on a thread of its own; ``done`` is set at the end.

    ``published`` holds (header stamp ns, wall time of publication) per packet
    (the last 2^20), which the demo uses to measure end-to-end latency;
    ``counts`` the packets, frames and events published; ``error`` the
    one-line reason when the recording could not be played.
    """

    def __init__(self, **kwargs):
        super().__init__("bag_player", **kwargs)
        self.params = ParamSet(self, PARAMS)
        self.rec = self._open()
        self.get_logger().info(warm_up("bag_player"))  # numba kernels before the first packet
        self.pub = self.create_publisher(event_packet_type(), self.params["topic"], self._qos(EVENTS_QOS))
        self.image_pub = None
        if self.rec.has_frames:
            from sensor_msgs.msg import Image

            self.image_pub = self.create_publisher(Image, self.params["image_topic"], self._qos(SENSOR_QOS))
        self.published: collections.deque = collections.deque(maxlen=PUBLISHED_KEEP)
        self.counts = {"packets": 0, "frames": 0, "bytes": 0}
        self.error = None
        self._packets = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _qos(self, base):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        rel = ReliabilityPolicy.RELIABLE if self.params["reliability"] == "reliable" else ReliabilityPolicy.BEST_EFFORT
        return QoSProfile(history=base.history, depth=base.depth, reliability=rel, durability=base.durability)

    def _wait_for_subscribers(self) -> bool:
        """False when stopped meanwhile."""
        want = self.params["wait_for_subscribers"]
        deadline = time.monotonic() + WAIT_FOR_SUBSCRIBERS_S
        while self.pub.get_subscription_count() < want:
            if time.monotonic() > deadline:
                self.get_logger().warning(f"bag_player: {self.pub.get_subscription_count()} of {want} subscribers "
                                          f"after {WAIT_FOR_SUBSCRIBERS_S:.0f} s; playing anyway")
                break
            if self._stop.wait(0.01):
                return False
        return True

    def _open(self):
        try:
            return open_recording(self.params["bag"])
        except RecordingError as exc:
            raise ValueError(f"bag_player: {exc}") from None

    @property
    def packets(self) -> list:
        """Every packet the player publishes, in memory (small recordings: the demo, benchmarks)."""
        if self._packets is None:
            from seal_ros.io.packetize import event_packets

            self._packets = list(event_packets(self._open(), self.params["encoding"] or None,
                                               int(self.params["packet_ms"] * 1e6)))
        return self._packets

    def _timeline(self):
        from seal_ros.io.packetize import Clock, event_packets, timeline

        start = self.get_clock().now().nanoseconds if self.params["stamps"] == "now" else None
        clock = Clock(self.rec, start)
        packets = event_packets(self.rec, self.params["encoding"] or None, int(self.params["packet_ms"] * 1e6),
                                clock=clock, frame_id="")
        return timeline(self.rec, packets, clock, frames=self.image_pub is not None)

    def _play(self):
        try:
            if not self._wait_for_subscribers() or self._stop.wait(self.params["start_delay_s"]):
                return
            t0_rec = t0_wall = None
            for stamp, kind, item in self._timeline():
                if t0_rec is None:
                    t0_rec, t0_wall = stamp, time.monotonic()
                due = t0_wall + (stamp - t0_rec) / 1e9 / self.params["rate"]
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                if self._stop.is_set():
                    return
                if kind == "events":
                    self.pub.publish(packet_to_msg(item))
                    self.published.append((item.stamp_ns, time.monotonic()))
                    self.counts["packets"] += 1
                    self.counts["bytes"] += int(item.events.nbytes)
                elif kind == "frame":
                    self.image_pub.publish(frame_to_msg(stamp, item.image, "event_camera"))
                    self.counts["frames"] += 1
        except RecordingError as exc:
            self.error = str(exc)
            self.get_logger().error(f"bag_player: {exc}")
        finally:
            self.done.set()

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=2.0)
        return super().destroy_node()


def main(args=None):
    import sys

    from seal_ros.nodes.common import run_node

    try:
        run_node(BagPlayerNode, args)
    except ValueError as exc:  # a recording that cannot be played: one line, exit status 2
        print(exc, file=sys.stderr)
        sys.exit(2)
