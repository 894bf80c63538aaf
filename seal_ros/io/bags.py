"""rosbag2 and ROS 1 bag reading without ROS, on the pure-Python ``rosbags`` package.

:class:`BagReader` reads a rosbag2 bag (a directory, or one .mcap/.db3 file),
:class:`Ros1BagReader` a ROS 1 ``.bag``; both offer the same methods. Robust
to the quirks real bags have: every event type of :mod:`seal_ros.io.event_msgs`
(``EventPacket``, the legacy ``event_array_msgs/EventArray``, ``dvs_msgs`` and
``prophesee_event_msgs`` event lists) is registered from our own copy of its
definition (bags are often written without the packages installed, and
embedded MCAP schemas do not always parse), and a ``metadata.yaml`` with an
empty or unknown ``storage_identifier`` falls back to reading the storage
files by extension. A missing topic or type is refused with a line naming the
topics and types that are there.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.packet import EventPacket
from seal_ros.io import event_msgs as em

STORAGE_SUFFIXES = (".mcap", ".db3")


class BagError(Exception):
    """A bag that cannot be read as asked: the message names what was wrong."""


@dataclass
class TopicInfo:
    name: str
    msgtype: str
    count: int


def _typestore(ros_version: int = 2):
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY if ros_version == 2 else Stores.ROS1_NOETIC)
    em.register_types(store, ros_version)
    return store


def _storage_files(path: Path) -> list[Path]:
    meta = path / "metadata.yaml"
    files: list[Path] = []
    if meta.exists():
        import yaml

        try:
            info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
            files = [path / Path(p).name for p in info.get("relative_file_paths") or []]
        except Exception as exc:  # noqa: BLE001 - reported as a BagError
            raise BagError(f"{meta}: unreadable metadata ({exc})") from None
    if not files:
        files = sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES)
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise BagError(f"{path}: storage files missing: {', '.join(missing)}")
    if not files:
        raise BagError(f"{path}: no .mcap or .db3 storage file found")
    return files


def _types_list(types) -> str:
    return ", ".join(types) if isinstance(types, (tuple, list)) else str(types)


class _Bag:
    """What both bag kinds share: topics, typed lookups and the typed readers."""

    ros_version = 2

    def __init__(self, path):
        self.path = Path(path)
        self.typestore = _typestore(self.ros_version)
        self._readers: list = []

    def close(self) -> None:
        for r in self._readers:
            try:
                r.close()
            except Exception:  # noqa: BLE001
                pass
        self._readers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def topics(self) -> dict[str, TopicInfo]:
        out: dict[str, TopicInfo] = {}
        for r in self._readers:
            for c in r.connections:
                info = out.setdefault(c.topic, TopicInfo(c.topic, c.msgtype, 0))
                info.count += c.msgcount
        return out

    def describe(self) -> str:
        """``/a (type), /b (type)``: what the bag holds, for error messages."""
        return ", ".join(f"{t.name} ({t.msgtype})" for t in sorted(self.topics().values(), key=lambda t: t.name)) \
            or "no topics"

    def topic_of_type(self, msgtypes, topic: Optional[str] = None) -> str:
        """``topic`` if given and of one of ``msgtypes``, else the first topic (by name) of the first type present.

        ``msgtypes`` is one type name or a sequence, in order of preference."""
        wanted = (msgtypes,) if isinstance(msgtypes, str) else tuple(msgtypes)
        topics = self.topics()
        if topic is not None:
            if topic not in topics:
                raise BagError(f"{self.path}: no topic {topic!r} (topics: {self.describe()})")
            if topics[topic].msgtype not in wanted:
                raise BagError(f"{self.path}: topic {topic} carries {topics[topic].msgtype}, not "
                               f"{_types_list(wanted)}")
            return topic
        for mtype in wanted:
            names = sorted(t.name for t in topics.values() if t.msgtype == mtype)
            if names:
                return names[0]
        raise BagError(f"{self.path}: no topic of type {_types_list(wanted)} (topics: {self.describe()})")

    def msgtype(self, topic: str) -> str:
        return self.topics()[topic].msgtype

    def raw_messages(self, topic: str) -> Iterator[tuple[str, int, bytes]]:
        """(message type, receive time ns, serialized bytes) for every message on ``topic``, in time order."""
        for r in self._readers:
            conns = [c for c in r.connections if c.topic == topic]
            if conns:
                for conn, t_ns, raw in r.messages(connections=conns):
                    yield conn.msgtype, t_ns, raw

    def deserialize(self, raw, msgtype: str, topic: str = ""):
        try:
            if self.ros_version == 2:
                return self.typestore.deserialize_cdr(raw, msgtype)
            return self.typestore.deserialize_ros1(raw, msgtype)
        except KeyError:
            raise BagError(f"{self.path}: unknown message type {msgtype!r} on {topic}") from None
        except Exception as exc:  # noqa: BLE001
            raise BagError(f"{self.path}: cannot deserialize a {msgtype} message on {topic} ({exc})") from None

    def messages(self, topic: str) -> Iterator[tuple[int, object]]:
        """(receive time ns, deserialized message) for every message on ``topic``, in time order."""
        for mtype, t_ns, raw in self.raw_messages(topic):
            yield t_ns, self.deserialize(raw, mtype, topic)

    def event_packets(self, topic: Optional[str] = None) -> Iterator[EventPacket]:
        """The EventPackets of ``topic`` (``event_camera_msgs/EventPacket`` or the legacy
        ``event_array_msgs/EventArray``)."""
        topic = self.topic_of_type(em.PACKET_TYPES, topic)
        for _, msg in self.messages(topic):
            yield EventPacket.from_msg(msg)

    def event_lists(self, topic: Optional[str] = None):
        """(EventArray, width, height, header stamp ns) per ``dvs_msgs``/``prophesee_event_msgs`` EventArray."""
        topic = self.topic_of_type(em.LIST_TYPES, topic)
        parse = em.event_list_from_cdr if self.ros_version == 2 else em.event_list_from_ros1
        for mtype, _, raw in self.raw_messages(topic):
            try:
                yield parse(raw)
            except ValueError as exc:
                raise BagError(f"{self.path}: a broken {mtype} message on {topic} ({exc})") from None

    def images(self, topic: Optional[str] = None) -> Iterator[tuple[int, np.ndarray]]:
        """(header stamp ns, HxW or HxWx3 uint8 image) for each sensor_msgs/Image on ``topic``."""
        from seal_ros.io.images import image_msg_to_array

        topic = self.topic_of_type(em.IMAGE_TYPE, topic)
        for _, msg in self.messages(topic):
            yield _stamp_ns(msg.header.stamp), image_msg_to_array(msg)

    def imu(self, topic: Optional[str] = None) -> Iterator[tuple[int, tuple, tuple]]:
        """(header stamp ns, (ax, ay, az), (gx, gy, gz)) for each sensor_msgs/Imu on ``topic``."""
        topic = self.topic_of_type(em.IMU_TYPE, topic)
        for _, msg in self.messages(topic):
            a, g = msg.linear_acceleration, msg.angular_velocity
            yield _stamp_ns(msg.header.stamp), (a.x, a.y, a.z), (g.x, g.y, g.z)


def _stamp_ns(stamp) -> int:
    sec = getattr(stamp, "sec", None)
    nsec = getattr(stamp, "nanosec", None)
    return int(sec) * 1_000_000_000 + int(nsec if nsec is not None else stamp.nsec)


class BagReader(_Bag):
    """Reads one rosbag2 bag (a bag directory, or a single .mcap/.db3 file)."""

    ros_version = 2

    def __init__(self, path):
        super().__init__(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag")
        if self.path.is_file():
            if self.path.suffix not in STORAGE_SUFFIXES:
                raise BagError(f"{self.path}: not a rosbag2 storage file (.mcap or .db3)")
            self.files = [self.path]
        else:
            self.files = _storage_files(self.path)
        try:
            from rosbags.rosbag2 import Reader

            for f in self.files:
                r = Reader(f)
                r.open()
                self._readers.append(r)
        except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds
            self.close()
            raise BagError(f"{self.path}: cannot open ({exc})") from None


class Ros1BagReader(_Bag):
    """Reads one ROS 1 bag file (``#ROSBAG V2.0``)."""

    ros_version = 1

    def __init__(self, path):
        super().__init__(path)
        if not self.path.is_file():
            raise BagError(f"{self.path}: no such ROS 1 bag file")
        try:
            from rosbags.rosbag1 import Reader

            r = Reader(self.path)
            r.open()
            self._readers.append(r)
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise BagError(f"{self.path}: cannot open as a ROS 1 bag ({exc})") from None

