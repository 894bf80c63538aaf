"""The recording behind both bag formats (rosbag2 and ROS 1): events, frames and IMU from topics.

The events topic is ``topic`` or the first one of a supported event type
(packet types before event lists; see :mod:`seal_ros.io.event_msgs`). Packet
topics are decoded with one :class:`~seal_ros.events.stream.EventStream`
(lost packets counted from ``seq``); event lists are read as they are (their
``ts`` is ROS time). Frames come from ``image_topic`` or the first
``sensor_msgs/Image`` topic, IMU samples from ``imu_topic`` or the first
``sensor_msgs/Imu`` topic. The clock offset (ROS time minus event time) is
the first packet's header stamp minus its first event time for packet topics
(a driver's sensor clock), 0 for event lists.
"""
from __future__ import annotations

from itertools import islice
from typing import Iterator

import numpy as np

from seal_ros.events.types import TriggerArray
from seal_ros.io import event_msgs as em
from seal_ros.io.bags import BagError
from seal_ros.io.recordings import Frame, ImuArray, Options, Recording, RecordingError, split_chunk

IMU_BATCH = 1024
OFFSET_PROBE_PACKETS = 64  # packets decoded at open to find the first event (clock offset)


class BagRecording(Recording):
    reader_cls = None  # set by the format module
    ros_stamped_frames = True

    def __init__(self, path, options: Options):
        super().__init__(path, options)
        try:
            with self._open() as bag:
                topics = bag.topics()
                types = {t.msgtype for t in topics.values()}
                self.has_frames = em.IMAGE_TYPE in types or options.image_topic is not None
                self.has_imu = em.IMU_TYPE in types or options.imu_topic is not None
                if options.image_topic is not None:
                    bag.topic_of_type(em.IMAGE_TYPE, options.image_topic)
                if options.imu_topic is not None:
                    bag.topic_of_type(em.IMU_TYPE, options.imu_topic)
                if not options.events_required and options.topic is None and not types & set(em.EVENT_TYPES):
                    self._frames_only(bag)
                    return
                self.topic = bag.topic_of_type(em.EVENT_TYPES, options.topic)
                self.msgtype = bag.msgtype(self.topic)
                self.messages = topics[self.topic].count
                if self.msgtype in em.PACKET_TYPES:
                    self._probe_packets(bag)
                else:
                    first = next(bag.event_lists(self.topic), None)
                    if first is None:
                        raise RecordingError(f"{path}: no messages on {self.topic}")
                    self._size(first[1], first[2], f"{self.msgtype} on {self.topic} (width/height 0)")
                    self.clock_offset_ns = 0
        except BagError as exc:
            raise RecordingError(str(exc)) from None
        self.details = {"topic": self.topic, "msgtype": self.msgtype, "messages": self.messages}

    def _open(self):
        return self.reader_cls(self.path)

    def _frames_only(self, bag) -> None:
        """A bag without events opened as an image source: the size of its first image."""
        if not self.has_frames:
            raise RecordingError(f"{self.path}: neither events nor images (topics: {bag.describe()})")
        self.topic = self.msgtype = None
        self.messages = 0
        first = next(bag.images(self.options.image_topic), None)
        h, w = first[1].shape[:2] if first is not None else (None, None)
        self._size(w, h, "an empty image topic")
        self.details = {"topic": None, "msgtype": None, "messages": 0}

    def _no_events(self):
        return self.topic is None

    def _probe_packets(self, bag) -> None:
        from seal_ros.events.stream import EventStream

        stream = EventStream()
        first = None
        for pkt in islice(bag.event_packets(self.topic), OFFSET_PROBE_PACKETS):
            first = first or pkt
            ev = stream.push(pkt).events
            if len(ev):
                self.clock_offset_ns = pkt.stamp_ns - int(ev.t[0])
                break
        if first is None:
            raise RecordingError(f"{self.path}: no messages on {self.topic}")
        self.encoding = first.encoding
        self.has_triggers = True
        self._size(first.width, first.height, f"{self.msgtype} on {self.topic}")

    # ---- streams -------------------------------------------------------------------
    def packets(self):
        if self.encoding is None:
            return super().packets()
        return self._packets()

    def _packets(self):
        try:
            with self._open() as bag:
                yield from bag.event_packets(self.topic)
        except BagError as exc:
            raise RecordingError(str(exc)) from None

    def chunks(self):
        n = self.options.chunk_events
        self.stats = {}
        if self._no_events():
            return
        if self.encoding is not None:
            from seal_ros.events.stream import EventStream

            stream = EventStream()
            try:
                for pkt in self._packets():
                    d = stream.push(pkt)
                    yield from split_chunk(d.events, d.triggers, d.lost_packets, n)
            finally:  # also when the reader stops early
                self.stats = stream.stats
            return
        messages = 0
        try:
            with self._open() as bag:
                for events, _, _, _ in bag.event_lists(self.topic):
                    messages += 1
                    self.stats["packets"] = messages
                    yield from split_chunk(self._in_sensor(events), TriggerArray.empty(), 0, n)
        except BagError as exc:
            raise RecordingError(str(exc)) from None

    def frames(self) -> Iterator[Frame]:
        if not self.has_frames:
            return
        try:
            with self._open() as bag:
                for t, img in bag.images(self.options.image_topic):
                    yield Frame(t, t, t, img)
        except BagError as exc:
            raise RecordingError(str(exc)) from None

    def imu(self) -> Iterator[ImuArray]:
        if not self.has_imu:
            return
        buf: list = []
        try:
            with self._open() as bag:
                for sample in bag.imu(self.options.imu_topic):
                    buf.append(sample)
                    if len(buf) >= IMU_BATCH:
                        yield _imu_array(buf)
                        buf = []
        except BagError as exc:
            raise RecordingError(str(exc)) from None
        if buf:
            yield _imu_array(buf)


def _imu_array(samples: list) -> ImuArray:
    return ImuArray(np.array([s[0] for s in samples], np.int64), np.array([s[1] for s in samples], np.float64),
                    np.array([s[2] for s in samples], np.float64))
