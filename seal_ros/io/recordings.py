"""One registry for every recording format (core, no rclpy).

``open_recording(path, **options)`` recognises the format by content (and
extension), opens it and returns a :class:`Recording`: the sensor size, and
streaming iterators over time-ordered event chunks (with triggers and lost
packets), frames and IMU samples where the format has them. Nothing is loaded
whole: every format reads a bounded block at a time (``chunk_events`` bounds
the events of one chunk), so a 10 GB file streams in constant memory.
Anything that is not a supported recording (a FIFO, a device, a directory
that holds no recording, a known but unsupported format) is refused with one
:class:`RecordingError` line that names what was found.

One module per format behind the registry, in :mod:`seal_ros.io.formats`
(each defines ``FORMAT``, a :class:`FormatSpec`); :data:`FORMAT_MODULES` is
the list, in detection order.
"""
from __future__ import annotations

import importlib
import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray

FORMAT_MODULES = (
    "seal_ros.io.formats.raw",
    "seal_ros.io.formats.rosbag2",
    "seal_ros.io.formats.rosbag1",
    "seal_ros.io.formats.dsec",
    "seal_ros.io.formats.aedat4",
    "seal_ros.io.formats.evreal",
    "seal_ros.io.formats.text",
)
HEAD_BYTES = 4096
DEFAULT_CHUNK_EVENTS = 1 << 18


class RecordingError(Exception):
    """A path that cannot be read as a recording: one line saying why (and what it is)."""


@dataclass
class Frame:
    """One intensity frame: ``t_ns`` its stamp, exposure bounds in ns, ``image`` uint8 (H, W) or (H, W, 3)."""

    t_ns: int
    exposure_start_ns: int
    exposure_end_ns: int
    image: np.ndarray


@dataclass
class ImuArray:
    """IMU samples: ``t`` int64 ns, ``accel`` (N, 3) m/s^2, ``gyro`` (N, 3) rad/s (float64)."""

    t: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Chunk:
    """Events (and triggers) of one block, in time order; ``lost_packets`` lost just before it."""

    events: EventArray
    triggers: TriggerArray = field(default_factory=TriggerArray.empty)
    lost_packets: int = 0


@dataclass
class Options:
    """What a user may tell a reader; each format uses the fields that apply to it."""

    topic: Optional[str] = None  # events topic (bags)
    image_topic: Optional[str] = None  # frames topic (bags)
    imu_topic: Optional[str] = None  # IMU topic (bags)
    width: Optional[int] = None  # sensor size, where the file does not say it (or to override)
    height: Optional[int] = None
    time_unit: str = "auto"  # text files: s, us, ns or auto
    chunk_events: int = DEFAULT_CHUNK_EVENTS  # most events in one chunk
    events_required: bool = True  # False: a bag of frames only opens too (an image source)


class Recording:
    """An opened recording. Subclasses set ``width``/``height`` and implement :meth:`chunks`.

    ``stats`` holds the counters of the last :meth:`chunks` pass (decoder
    counters for encoded formats, ``lost_packets``, ...). ``clock_offset_ns``
    maps event time to ROS time (``ros = t + offset``) when the recording
    knows it (bags: their header stamps), else None. ``encoding`` names the
    packet encoding of formats that carry encoded words (RAW, EventPacket
    bags), whose :meth:`packets` then yields them unchanged. Frame and IMU
    times are in the events' clock, except in bags (``ros_stamped_frames``):
    there they are the messages' header stamps.
    """

    format = ""
    encoding: Optional[str] = None
    ros_stamped_frames = False  # frames/IMU carry header stamps (bags), not the events' clock
    has_frames = False
    has_triggers = False
    has_imu = False

    def __init__(self, path, options: Options):
        self.path = Path(path)
        self.options = options
        self.width = 0
        self.height = 0
        self.clock_offset_ns: Optional[int] = None
        self.stats: dict = {}
        self.details: dict = {}  # what the format adds to info() (topic, header fields, ...)

    # ---- to override ---------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def frames(self) -> Iterator[Frame]:
        return iter(())

    def imu(self) -> Iterator[ImuArray]:
        return iter(())

    def packets(self):
        """The recording's EventPackets as stored (only where ``encoding`` is set)."""
        raise RecordingError(f"{self.path}: {self.format} holds no encoded event packets")

    def close(self) -> None:
        pass

    # ---- shared --------------------------------------------------------------------
    def info(self) -> dict:
        return {"input": str(self.path), "format": self.format, "width": self.width, "height": self.height,
                "encoding": self.encoding, "frames": self.has_frames, "triggers": self.has_triggers,
                "imu": self.has_imu, **self.details}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _in_sensor(self, events: EventArray, keep=None) -> EventArray:
        """``events`` inside the sensor (``keep``: a mask of further valid ones); the rest counted in
        ``stats['dropped_out_of_range']``, the kept ones in ``stats['events']``."""
        ok = (events.x < self.width) & (events.y < self.height)
        if keep is not None:
            ok &= keep
        dropped = len(events) - int(np.count_nonzero(ok))
        if dropped:
            events = events[ok]
        self.stats["dropped_out_of_range"] = self.stats.get("dropped_out_of_range", 0) + dropped
        self.stats["events"] = self.stats.get("events", 0) + len(events)
        return events

    def _size(self, width, height, what: str) -> None:
        """Set the sensor size: the user's options win, then ``width``/``height`` from the file."""
        w = self.options.width or width
        h = self.options.height or height
        if not w or not h:
            raise RecordingError(f"{self.path}: {what} does not give the sensor size; pass width and height")
        self.width, self.height = int(w), int(h)


def split_chunk(events: EventArray, triggers: TriggerArray, lost: int, max_events: int) -> Iterator[Chunk]:
    """``events`` in chunks of at most ``max_events``; each trigger rides with the first chunk whose last
    event is not earlier (the rest with the last chunk); lost packets with the first."""
    if len(events) <= max_events:
        yield Chunk(events, triggers, lost)
        return
    starts = list(range(0, len(events), max_events))
    cut = np.searchsorted(triggers.t, [int(events.t[min(i + max_events, len(events)) - 1]) for i in starts], "right") \
        if len(triggers) else np.zeros(len(starts), np.int64)
    cut[-1] = len(triggers)
    lo = 0
    for k, i in enumerate(starts):
        hi = int(cut[k]) if k == 0 else max(int(cut[k]), lo)
        tr = triggers[lo:hi] if hi > lo else TriggerArray.empty()
        yield Chunk(events[i:i + max_events], tr, lost if k == 0 else 0)
        lo = hi


@dataclass
class FormatSpec:
    """A format of the registry: ``detect(path, head) -> bool`` on a regular file's first bytes
    (``head`` is None for a directory) and ``open(path, options) -> Recording``."""

    name: str
    description: str
    detect: Callable[[Path, Optional[bytes]], bool]
    open: Callable[[Path, Options], Recording]
    reads: str = ""  # what is read from it, for the README table


def formats() -> list[FormatSpec]:
    return [importlib.import_module(m).FORMAT for m in FORMAT_MODULES]


# Known formats this package does not read, by their first bytes: named in the refusal.
_KNOWN_UNSUPPORTED = (
    (b"#!AER-DAT2", "AEDAT 2.0 (convert it to AEDAT4 with DV)"),
    (b"#!AER-DAT3", "AEDAT 3.1 (convert it to AEDAT4 with DV)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip file (unpack it first)"),
    (b"\x93NUMPY", "a single .npy file (EVREAL recordings are a directory of events_*.npy files)"),
)


def _kind_of(path: Path, st) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return ""


def detect(path) -> FormatSpec:
    """The format of ``path``; :class:`RecordingError` naming what it is when no reader takes it."""
    path = Path(os.path.expandvars(os.path.expanduser(str(path))))
    try:
        st = path.stat()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot access ({exc.strerror or exc})") from None
    special = _kind_of(path, st)
    if special:
        raise RecordingError(f"{path}: {special}, not a recording file")
    head = None
    if not stat.S_ISDIR(st.st_mode):
        try:
            with open(path, "rb") as f:
                head = f.read(HEAD_BYTES)
        except OSError as exc:
            raise RecordingError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if not head:
            raise RecordingError(f"{path}: an empty file, not a recording")
    for spec in formats():
        if spec.detect(path, head):
            return spec
    if head is None:
        raise RecordingError(f"{path}: a directory that holds no recording (no rosbag2 metadata.yaml or "
                             f".mcap/.db3, events.h5, events.txt or EVREAL events_*.npy)")
    for magic, name in _KNOWN_UNSUPPORTED:
        if head.startswith(magic):
            raise RecordingError(f"{path}: {name}: not a format seal-ros reads")
    raise RecordingError(f"{path}: not a recording format seal-ros reads (starts with "
                         f"{head[:8].hex(' ')}); supported: {', '.join(s.name for s in formats())}")


def open_recording(path, format: Optional[str] = None, **options) -> Recording:
    """Open ``path`` (format detected unless ``format`` names one); ``options`` are :class:`Options` fields."""
    names = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"unknown recording option(s): {', '.join(unknown)}")
    opts = Options(**{k: v for k, v in options.items() if v is not None})
    if opts.chunk_events < 1:
        raise RecordingError(f"chunk_events must be at least 1, got {opts.chunk_events}")
    path = Path(os.path.expandvars(os.path.expanduser(str(path))))
    if format is None:
        spec = detect(path)
    else:
        specs = {s.name: s for s in formats()}
        if format not in specs:
            raise RecordingError(f"unknown format {format!r} (known: {', '.join(specs)})")
        spec = specs[format]
        if not path.exists():
            raise RecordingError(f"{path}: no such file or directory")
    return spec.open(path, opts)
