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
_U8 = np.dtype(np.uint8)


@dataclass(slots=True)
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
        if _slotted(type(msg)):  # an rclpy message: its fields sit in slots behind Python properties
            data, header = msg._events, msg._header
            stamp = header._stamp
            return cls(msg._encoding, msg._width, msg._height, msg._seq, msg._time_base,
                       data if type(data) is np.ndarray else np.frombuffer(data, _U8),
                       stamp._sec * 1_000_000_000 + stamp._nanosec, header._frame_id, msg._is_bigendian)
        data = msg.events
        if isinstance(data, np.ndarray):
            buf = data if data.dtype == _U8 else data.view(_U8)
        else:  # array.array('B') or bytes
            buf = np.frombuffer(data, _U8)
        header = msg.header
        stamp = header.stamp
        # positional, in field order (cheaper than keywords: this runs once a message)
        return cls(str(msg.encoding), int(msg.width), int(msg.height), int(msg.seq), int(msg.time_base), buf,
                   int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec), str(header.frame_id),
                   bool(msg.is_bigendian))


_SLOTTED: dict = {}


def _slotted(msg_type) -> bool:
    """True for rclpy-generated EventPacket types (fields in ``_name`` slots, checked types)."""
    known = _SLOTTED.get(msg_type)
    if known is None:
        slots = set(getattr(msg_type, "__slots__", ()))
        known = _SLOTTED[msg_type] = {"_events", "_header", "_encoding", "_time_base", "_seq"} <= slots and all(
            "_stamp" in getattr(t, "__slots__", ()) for t in (type(msg_type().header),))
    return known
