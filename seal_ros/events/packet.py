"""A ROS-free mirror of ``event_camera_msgs/msg/EventPacket``.

Nodes convert the ROS message into this (zero copy for the payload), bag
readers produce it directly, and every decoder consumes it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The upstream definition (event_camera_msgs/msg/EventPacket.msg), field order kept:
# the same type name and fields give the same wire type as the real package.
EVENT_PACKET_MSGDEF = """\
std_msgs/Header header
uint32 height
uint32 width
uint64 seq
uint64 time_base
string encoding
bool is_bigendian
uint8[] events
"""
EVENT_PACKET_TYPE = "event_camera_msgs/msg/EventPacket"


@dataclass
class EventPacket:
    encoding: str
    width: int
    height: int
    seq: int
    time_base: int
    events: np.ndarray  # uint8 payload
    stamp_ns: int = 0  # header.stamp in ns
    frame_id: str = ""
    is_bigendian: bool = False

    @classmethod
    def from_msg(cls, msg) -> "EventPacket":
        """Build from an rclpy or rosbags message object (duck-typed, no ROS import)."""
        data = msg.events
        if isinstance(data, np.ndarray):
            buf = data.view(np.uint8) if data.dtype != np.uint8 else data
        else:  # rclpy gives array.array('B'); bytes also works
            buf = np.frombuffer(data, np.uint8)
        stamp = msg.header.stamp
        return cls(
            encoding=str(msg.encoding),
            width=int(msg.width),
            height=int(msg.height),
            seq=int(msg.seq),
            time_base=int(msg.time_base),
            events=buf,
            stamp_ns=int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
            frame_id=str(msg.header.frame_id),
            is_bigendian=bool(msg.is_bigendian),
        )
