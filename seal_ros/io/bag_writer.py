"""Writing rosbag2 bags of EventPackets, images and IMU samples without ROS (``rosbags``).

Each message is written at its header stamp (as ``ros2 bag record`` would
have received it). Types come from our own definitions, so the bag reads
back with or without ``event_camera_msgs`` installed, and ``ros2 bag play``
plays it into a graph that has it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_ros.events.packet import EVENT_PACKET_TYPE, EventPacket
from seal_ros.io.bags import _typestore
from seal_ros.io.event_msgs import IMAGE_TYPE, IMU_TYPE
from seal_ros.io.images import array_to_image_fields
from seal_ros.io.recordings import ImuArray

STORAGES = ("mcap", "sqlite3")


class EventBagWriter:
    """``add_packet`` / ``add_image`` / ``add_imu`` into a new rosbag2 bag directory ``path``."""

    def __init__(self, path, storage: str = "mcap", events_topic: str = "/event_camera/events",
                 image_topic: str = "/event_camera/image", imu_topic: str = "/event_camera/imu",
                 frame_id: str = "event_camera"):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        self.store = _typestore(2)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(self.path, version=8, storage_plugin=plugin)
        self.writer.open()
        self.topics = {"events": events_topic, "image": image_topic, "imu": imu_topic}
        self.frame_id = frame_id
        self._conns: dict = {}
        self.counts = {"packets": 0, "images": 0, "imu": 0}
        T = self.store.types
        self._Header, self._Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]

    def _conn(self, kind: str, msgtype: str):
        if kind not in self._conns:
            self._conns[kind] = self.writer.add_connection(self.topics[kind], msgtype, typestore=self.store)
        return self._conns[kind]

    def _header(self, stamp_ns: int, frame_id: str = ""):
        stamp_ns = max(0, int(stamp_ns))
        return self._Header(stamp=self._Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                            frame_id=frame_id or self.frame_id)

    def _write(self, kind: str, msgtype: str, stamp_ns: int, msg) -> None:
        self.writer.write(self._conn(kind, msgtype), max(0, int(stamp_ns)), self.store.serialize_cdr(msg, msgtype))

    def add_packet(self, pkt: EventPacket) -> None:
        Msg = self.store.types[EVENT_PACKET_TYPE]
        msg = Msg(header=self._header(pkt.stamp_ns, pkt.frame_id), height=int(pkt.height), width=int(pkt.width),
                  seq=int(pkt.seq), time_base=int(pkt.time_base), encoding=str(pkt.encoding),
                  is_bigendian=bool(pkt.is_bigendian), events=np.ascontiguousarray(pkt.events, np.uint8))
        self._write("events", EVENT_PACKET_TYPE, pkt.stamp_ns, msg)
        self.counts["packets"] += 1

    def add_image(self, stamp_ns: int, image: np.ndarray) -> None:
        f = array_to_image_fields(image)
        f["data"] = np.frombuffer(f["data"], np.uint8)
        msg = self.store.types[IMAGE_TYPE](header=self._header(stamp_ns), **f)
        self._write("image", IMAGE_TYPE, stamp_ns, msg)
        self.counts["images"] += 1

    def add_imu(self, stamp_ns: int, imu: ImuArray) -> None:
        """One sensor_msgs/Imu a sample (no orientation: its covariance[0] is -1, the message's convention)."""
        T = self.store.types
        V3, Q = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
        unknown = np.zeros(9)
        unknown[0] = -1.0
        for k in range(len(imu)):
            t = int(imu.t[k]) + (stamp_ns - int(imu.t[0]))
            a, g = imu.accel[k], imu.gyro[k]
            msg = T[IMU_TYPE](header=self._header(t), orientation=Q(x=0.0, y=0.0, z=0.0, w=1.0),
                              orientation_covariance=unknown, angular_velocity=V3(x=g[0], y=g[1], z=g[2]),
                              angular_velocity_covariance=np.zeros(9),
                              linear_acceleration=V3(x=a[0], y=a[1], z=a[2]),
                              linear_acceleration_covariance=np.zeros(9))
            self._write("imu", IMU_TYPE, t, msg)
            self.counts["imu"] += 1

    def close(self) -> None:
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
