"""The event message types found in ROS 1 and ROS 2 bags, read without ROS.

Packet types (encoded words, decoded by :mod:`seal_ros.events.decoders`):
``event_camera_msgs/msg/EventPacket`` and its pre-2023 name
``event_array_msgs/msg/EventArray`` (the same fields and encodings). Event-list
types (one record an event): ``dvs_msgs/msg/EventArray`` (rpg_dvs_ros) and
``prophesee_event_msgs/msg/EventArray`` (prophesee_ros_wrapper), both
``Header, uint32 height, uint32 width, Event[] events`` with
``Event = uint16 x, uint16 y, time ts, bool polarity``.

Every definition is registered from our own copy (bags are often written
without the packages, and embedded schemas do not always parse). Event lists
are read straight from the serialized bytes with numpy (a Python object per
event would be ~100x slower): ROS 1 packs ``Event`` in 13 bytes; ROS 2 CDR
aligns its fields (see :func:`event_list_from_cdr`).
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.packet import EVENT_PACKET_MSGDEF, EVENT_PACKET_TYPE
from seal_ros.events.types import EventArray

LEGACY_PACKET_TYPE = "event_array_msgs/msg/EventArray"
PACKET_TYPES = (EVENT_PACKET_TYPE, LEGACY_PACKET_TYPE)
DVS_TYPE = "dvs_msgs/msg/EventArray"
PROPHESEE_TYPE = "prophesee_event_msgs/msg/EventArray"
LIST_TYPES = (DVS_TYPE, PROPHESEE_TYPE)
EVENT_TYPES = PACKET_TYPES + LIST_TYPES
IMAGE_TYPE = "sensor_msgs/msg/Image"
IMU_TYPE = "sensor_msgs/msg/Imu"

EVENT_MSGDEF = {1: "uint16 x\nuint16 y\ntime ts\nbool polarity\n",
                2: "uint16 x\nuint16 y\nbuiltin_interfaces/Time ts\nbool polarity\n"}
LIST_MSGDEF = "{header}\nuint32 height\nuint32 width\n{pkg}/Event[] events\n"
_ROS1_EVENT = np.dtype([("x", "<u2"), ("y", "<u2"), ("sec", "<u4"), ("nsec", "<u4"), ("p", "u1")])


def register_types(store, ros_version: int) -> None:
    """Register every event type above in a rosbags typestore (ROS 1 or ROS 2 flavour)."""
    from rosbags.typesys import get_types_from_msg

    header = "std_msgs/Header header" if ros_version == 2 else "Header header"
    packet = EVENT_PACKET_MSGDEF if ros_version == 2 else EVENT_PACKET_MSGDEF.replace("std_msgs/Header", "Header")
    types = {}
    for name in PACKET_TYPES:
        types.update(get_types_from_msg(packet, name))
    for name in LIST_TYPES:
        pkg = name.split("/")[0]
        types.update(get_types_from_msg(EVENT_MSGDEF[ros_version], f"{pkg}/msg/Event"))
        types.update(get_types_from_msg(LIST_MSGDEF.format(header=header, pkg=pkg), name))
    store.register(types)


def _list_fields(n: int, width: int, height: int, ev: np.ndarray) -> tuple:
    t = ev["sec"].astype(np.int64) * 1_000_000_000 + ev["nsec"].astype(np.int64)
    events = EventArray(ev["x"].astype(np.uint16), ev["y"].astype(np.uint16), (ev["p"] != 0).astype(np.uint8), t)
    return events, int(width), int(height)


def event_list_from_ros1(raw) -> tuple[EventArray, int, int, int]:
    """(events, width, height, header stamp ns) of a serialized ROS 1 dvs/prophesee EventArray."""
    buf = np.frombuffer(raw, np.uint8)
    head = buf[:16].view("<u4") if len(buf) >= 16 else None
    if head is None:
        raise ValueError("message too short")
    stamp = int(head[1]) * 1_000_000_000 + int(head[2])
    o = 16 + int(head[3])  # seq, sec, nsec, frame_id length + bytes
    height, width, n = (int(v) for v in buf[o:o + 12].view("<u4"))
    o += 12
    if o + 13 * n > len(buf):
        raise ValueError(f"{n} events do not fit the message ({len(buf)} bytes)")
    ev = np.frombuffer(raw, _ROS1_EVENT, n, o)
    events, w, h = _list_fields(n, width, height, ev)
    return events, w, h, stamp


def event_list_from_cdr(raw) -> tuple[EventArray, int, int, int]:
    """(events, width, height, header stamp ns) of a CDR (ROS 2) dvs/prophesee EventArray.

    After the 4-byte encapsulation header, offsets are aligned from the data's
    start. An ``Event`` at an offset ``s`` (always even) puts ``x`` at ``s``,
    ``y`` at ``s+2``, ``ts.sec`` at the next multiple of 4 from ``s+4``,
    ``ts.nanosec`` 4 later, ``polarity`` 4 later; the next event starts at the
    next even offset. So every event after the first is 16 bytes
    ``x y pad2 sec nsec p pad1``, and the first one (the array starts 4-aligned)
    is 14 bytes ``x y sec nsec p pad1``.
    """
    buf = np.frombuffer(raw, np.uint8)
    if len(buf) < 16 or buf[1] != 1:
        raise ValueError("not a little-endian CDR message")
    d = buf[4:]
    sec, nsec, slen = (int(v) for v in d[:12].view("<u4"))
    stamp = sec * 1_000_000_000 + nsec
    o = 12 + slen
    o = (o + 3) & ~3
    height, width, n = (int(v) for v in d[o:o + 12].view("<u4"))
    o += 12
    need = 0 if n == 0 else 14 + 16 * (n - 1)
    if o + need - 1 > len(d):
        raise ValueError(f"{n} events do not fit the message ({len(buf)} bytes)")
    first = np.zeros(min(n, 1), _ROS1_EVENT)
    if n:
        f = d[o:o + 13]
        first["x"], first["y"] = f[0:2].view("<u2")[0], f[2:4].view("<u2")[0]
        first["sec"], first["nsec"] = f[4:8].view("<u4")[0], f[8:12].view("<u4")[0]
        first["p"] = f[12]
    rest_dtype = np.dtype({"names": ["x", "y", "sec", "nsec", "p"], "formats": ["<u2", "<u2", "<u4", "<u4", "u1"],
                           "offsets": [0, 2, 6, 10, 14], "itemsize": 16})
    rest_bytes = d[o + 14:o + 14 + 16 * (n - 1)] if n > 1 else d[:0]
    if n > 1 and len(rest_bytes) < 16 * (n - 1):  # the last event's trailing pad byte may be absent
        rest_bytes = np.concatenate([rest_bytes, np.zeros(16 * (n - 1) - len(rest_bytes), np.uint8)])
    rest = np.frombuffer(rest_bytes.tobytes(), rest_dtype, max(n - 1, 0))
    ev = np.zeros(n, _ROS1_EVENT)
    if n:
        ev[:1] = first
        for k in ("x", "y", "sec", "nsec", "p"):
            ev[k][1:] = rest[k]
    events, w, h = _list_fields(n, width, height, ev)
    return events, w, h, stamp
