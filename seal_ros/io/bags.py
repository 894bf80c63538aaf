"""rosbag2 reading without ROS, on the pure-Python ``rosbags`` package.

Robust to the quirks real bags have: the ``event_camera_msgs`` type is always
registered from our own copy of its definition (bags are often written
without the package installed, and embedded MCAP schemas do not always
parse), and a ``metadata.yaml`` with an empty or unknown
``storage_identifier`` falls back to reading the storage files by extension.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.packet import EVENT_PACKET_MSGDEF, EVENT_PACKET_TYPE, EventPacket

STORAGE_SUFFIXES = (".mcap", ".db3")


class BagError(Exception):
    """A bag that cannot be read as asked: the message names what was wrong."""


@dataclass
class TopicInfo:
    name: str
    msgtype: str
    count: int


def _typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg(EVENT_PACKET_MSGDEF, EVENT_PACKET_TYPE))
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


class BagReader:
    """Reads one rosbag2 bag (a bag directory, or a single .mcap/.db3 file)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag")
        if self.path.is_file():
            if self.path.suffix not in STORAGE_SUFFIXES:
                raise BagError(f"{self.path}: not a rosbag2 storage file (.mcap or .db3)")
            self.files = [self.path]
        else:
            self.files = _storage_files(self.path)
        self.typestore = _typestore()
        self._readers = []
        try:
            from rosbags.rosbag2 import Reader

            for f in self.files:
                r = Reader(f)
                r.open()
                self._readers.append(r)
        except BagError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds
            self.close()
            raise BagError(f"{self.path}: cannot open ({exc})") from None

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

    def topic_of_type(self, msgtype: str, topic: Optional[str] = None) -> str:
        """``topic`` if given and present, else the only/first topic of ``msgtype``."""
        topics = self.topics()
        if topic is not None:
            if topic not in topics:
                raise BagError(f"{self.path}: no topic {topic!r} (topics: {', '.join(sorted(topics)) or 'none'})")
            return topic
        names = [t.name for t in topics.values() if t.msgtype == msgtype]
        if not names:
            raise BagError(f"{self.path}: no topic of type {msgtype}")
        return sorted(names)[0]

    def messages(self, topic: str) -> Iterator[tuple[int, object]]:
        """(receive time ns, deserialized message) for every message on ``topic``, in time order."""
        for r in self._readers:
            conns = [c for c in r.connections if c.topic == topic]
            if not conns:
                continue
            for conn, t_ns, raw in r.messages(connections=conns):
                try:
                    msg = self.typestore.deserialize_cdr(raw, conn.msgtype)
                except KeyError:
                    raise BagError(f"{self.path}: unknown message type {conn.msgtype!r} on {topic}") from None
                except Exception as exc:  # noqa: BLE001
                    raise BagError(f"{self.path}: cannot deserialize a {conn.msgtype} message on {topic} ({exc})") from None
                yield t_ns, msg

    def event_packets(self, topic: Optional[str] = None) -> Iterator[EventPacket]:
        topic = self.topic_of_type(EVENT_PACKET_TYPE, topic)
        mtype = self.topics()[topic].msgtype
        if mtype != EVENT_PACKET_TYPE:
            raise BagError(f"{self.path}: topic {topic} carries {mtype}, not {EVENT_PACKET_TYPE}")
        for _, msg in self.messages(topic):
            yield EventPacket.from_msg(msg)

    def images(self, topic: Optional[str] = None) -> Iterator[tuple[int, np.ndarray]]:
        """(header stamp ns, HxW or HxWx3 uint8 image) for each sensor_msgs/Image on ``topic``."""
        from seal_ros.io.images import image_msg_to_array

        topic = self.topic_of_type("sensor_msgs/msg/Image", topic)
        for _, msg in self.messages(topic):
            stamp = msg.header.stamp
            yield int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec), image_msg_to_array(msg)
