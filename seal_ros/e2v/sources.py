"""Recordings as event chunks plus optional intensity frames (for the CLIs and benchmarks).

A rosbag2 bag (directory or .mcap/.db3) is decoded packet by packet with
:class:`~seal_ros.events.stream.EventStream`; an AEDAT4 file is read whole
with :func:`~seal_ros.io.aedat.read_aedat4` and cut into chunks; a folder in
EVREAL's layout is read with :func:`~seal_ros.io.evreal.read_evreal`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from seal_ros.events.types import EventArray


class SourceError(Exception):
    """The input cannot be read as a recording: one line saying why."""


@dataclass
class Recording:
    width: int
    height: int
    chunks: Callable[[], Iterator[tuple[EventArray, int]]]  # (events, lost_packets) in arrival order
    frames: list = field(default_factory=list)  # [(t_ns, uint8 H x W)]
    kind: str = ""
    decode_errors: int = 0


def _gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        return np.clip(img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5,
                       0, 255).astype(np.uint8)
    return img


def _from_aedat(path: Path, chunk_events: int) -> Recording:
    from seal_ros.io.aedat import AedatError, read_aedat4

    try:
        rec = read_aedat4(path)
    except AedatError as exc:
        raise SourceError(str(exc)) from None
    ev = rec.events

    def chunks():
        for i in range(0, len(ev), chunk_events):
            yield ev[i:i + chunk_events], 0

    return Recording(rec.width, rec.height, chunks, [(f.t_ns, f.image) for f in rec.frames], "aedat4")


def _from_evreal(path: Path, chunk_events: int) -> Recording:
    from seal_ros.io.evreal import EvrealError, read_evreal

    try:
        rec = read_evreal(path)
    except EvrealError as exc:
        raise SourceError(str(exc)) from None

    def chunks():
        for ev in rec.chunks(chunk_events):
            yield ev, 0

    frames = [(int(t), rec.frame(k)) for k, t in enumerate(rec.frame_ts_ns)]
    return Recording(rec.width, rec.height, chunks, frames, "evreal")


def _from_bag(path: Path, topic, image_topic) -> Recording:
    from seal_ros.events.stream import EventStream
    from seal_ros.io.bags import BagError, BagReader

    try:
        with BagReader(path) as bag:
            first = next(iter(bag.event_packets(topic)), None)
            if first is None:
                raise SourceError(f"{path}: no event packets")
            frames = []
            has_images = any(t.msgtype == "sensor_msgs/msg/Image" for t in bag.topics().values())
            if has_images or image_topic:
                frames = [(t, _gray(img)) for t, img in bag.images(image_topic)]
    except BagError as exc:
        raise SourceError(str(exc)) from None
    rec = Recording(int(first.width), int(first.height), None, frames, "rosbag2")

    def chunks():
        stream = EventStream()
        try:
            with BagReader(path) as bag:
                for pkt in bag.event_packets(topic):
                    d = stream.push(pkt)
                    if d.error:
                        rec.decode_errors += 1
                    yield d.events, d.lost_packets
        except BagError as exc:
            raise SourceError(str(exc)) from None

    rec.chunks = chunks
    return rec


def open_recording(path, topic=None, image_topic=None, chunk_events: int = 20000) -> Recording:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if path.is_file() and path.suffix.lower() in (".aedat4", ".aedat"):
        return _from_aedat(path, chunk_events)
    from seal_ros.io.evreal import is_evreal

    if is_evreal(path):
        return _from_evreal(path, chunk_events)
    return _from_bag(path, topic, image_topic)
