"""``bag_player``: publishes a recording's EventPackets at real speed (or faster).

For machines without rosbag2 (the demo, tests, a training box); on a robot,
``ros2 bag play`` does the same. Packets keep their recorded header stamps.
"""
from __future__ import annotations

import threading
import time

from rclpy.node import Node

from seal_ros.io.bags import BagReader
from seal_ros.nodes.common import EVENTS_QOS, event_packet_type, ns_to_stamp
from seal_ros.nodes.params import Param, ParamSet

PARAMS = [
    Param("bag", "", "rosbag2 directory or .mcap/.db3 file to play.", read_only=True),
    Param("topic", "/event_camera/events", "Topic to publish EventPackets on.", read_only=True),
    Param("rate", 1.0, "Playback speed factor (1.0 = real time).", range=(0.01, 100.0)),
    Param("start_delay_s", 0.5, "Wait before the first packet (lets subscribers connect).", range=(0.0, 60.0)),
]


def packet_to_msg(pkt):
    Msg = event_packet_type()
    msg = Msg(height=pkt.height, width=pkt.width, seq=pkt.seq, time_base=pkt.time_base,
              encoding=pkt.encoding, is_bigendian=pkt.is_bigendian, events=pkt.events.tobytes())
    msg.header.stamp = ns_to_stamp(pkt.stamp_ns)
    msg.header.frame_id = pkt.frame_id
    return msg


class BagPlayerNode(Node):
    """Plays ``bag`` once on a thread of its own; ``done`` is set at the end.

    ``published`` holds (header stamp ns, wall time of publication) per packet,
    which the demo uses to measure end-to-end latency.
    """

    def __init__(self, **kwargs):
        super().__init__("bag_player", **kwargs)
        self.params = ParamSet(self, PARAMS)
        with BagReader(self.params["bag"]) as bag:
            self.packets = list(bag.event_packets())
        self.pub = self.create_publisher(event_packet_type(), self.params["topic"], EVENTS_QOS)
        self.published: list[tuple[int, float]] = []
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _play(self):
        if self._stop.wait(self.params["start_delay_s"]) or not self.packets:
            self.done.set()
            return
        t0_rec = self.packets[0].stamp_ns
        t0_wall = time.monotonic()
        for pkt in self.packets:
            due = t0_wall + (pkt.stamp_ns - t0_rec) / 1e9 / self.params["rate"]
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            self.pub.publish(packet_to_msg(pkt))
            self.published.append((pkt.stamp_ns, time.monotonic()))
        self.done.set()

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=2.0)
        return super().destroy_node()


def main(args=None):
    from seal_ros.nodes.common import run_node

    run_node(BagPlayerNode, args)
