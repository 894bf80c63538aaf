"""AEDAT4 reading (iniVation DV files) on the PyPI ``aedat`` package.

:func:`iter_aedat4` streams a file packet by packet: change-detection events
as an :class:`~seal_ros.events.types.EventArray` (times in ns), APS/frame-camera
frames as :class:`~seal_ros.io.recordings.Frame` (grayscale uint8), external
triggers and IMU samples (m/s^2, rad/s; DV stores g and deg/s).
:func:`read_aedat4` loads a whole (small) file. AEDAT4 stores microseconds
since the Unix epoch; every time here is ``us * 1000``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.images import to_gray
from seal_ros.io.recordings import Frame, ImuArray  # noqa: F401 - Frame is part of this API

G = 9.80665  # m/s^2 per g


class AedatError(Exception):
    """An AEDAT4 file that cannot be read: the message names what was wrong."""


@dataclass
class AedatRecording:
    events: EventArray
    frames: list
    width: int
    height: int
    triggers: TriggerArray = field(default_factory=TriggerArray.empty)


def open_decoder(path):
    """(aedat.Decoder, width, height, stream types); :class:`AedatError` (one line) when unreadable."""
    try:
        import aedat
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise AedatError(f"the 'aedat' package is required to read AEDAT4 files ({exc})") from None
    path = Path(path)
    if not path.is_file():
        raise AedatError(f"{path}: no such file")
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
    except Exception as exc:  # noqa: BLE001 - the Rust decoder raises plain exceptions
        raise AedatError(f"{path}: not a readable AEDAT4 file ({exc})") from None
    for info in streams.values():
        if info.get("type") == "events":
            return decoder, int(info["width"]), int(info["height"]), {i.get("type") for i in streams.values()}
    raise AedatError(f"{path}: no events stream in this AEDAT4 file")


def _events(ev) -> EventArray:
    return EventArray(ev["x"].astype(np.uint16), ev["y"].astype(np.uint16), ev["on"].astype(np.uint8),
                      ev["t"].astype(np.int64) * 1000)


def _frame(f) -> Frame:
    return Frame(t_ns=int(f["t"]) * 1000,
                 exposure_start_ns=int(f.get("exposure_begin_t", f["t"])) * 1000,
                 exposure_end_ns=int(f.get("exposure_end_t", f["t"])) * 1000,
                 image=to_gray(f["pixels"], str(f.get("format", "L"))))


def _triggers(tr) -> TriggerArray:
    # dv::TriggerType: 0 timestamp reset, 1/2 external signal rising/falling edge,
    # 3 pulse, 4/5 generator rising/falling, 6..9 APS frame/exposure start/end.
    # ``edge`` is 1 for rising edges (and pulses), ``id`` keeps the DV type.
    src = tr["source"].astype(np.uint8)
    rising = np.isin(src, (1, 3, 4)).astype(np.uint8)
    return TriggerArray(tr["t"].astype(np.int64) * 1000, rising, src)


def _imu(im) -> ImuArray:
    acc = np.stack([im[f"accelerometer_{a}"] for a in "xyz"], axis=1).astype(np.float64) * G
    gyr = np.stack([im[f"gyroscope_{a}"] for a in "xyz"], axis=1).astype(np.float64) * (np.pi / 180.0)
    return ImuArray(im["t"].astype(np.int64) * 1000, acc, gyr)


_KINDS = {"events": _events, "frame": _frame, "triggers": _triggers, "imus": _imu}


def iter_aedat4(path, kinds=("events", "frame", "triggers", "imus")):
    """(kind, value) per packet of the wanted kinds, in file order: ``events`` -> EventArray,
    ``frame`` -> Frame, ``triggers`` -> TriggerArray, ``imus`` -> ImuArray."""
    decoder = open_decoder(path)[0]
    try:
        for packet in decoder:
            for kind in kinds:
                if kind in packet:
                    yield kind, _KINDS[kind](packet[kind])
    except AedatError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt packets
        raise AedatError(f"{path}: corrupt AEDAT4 data ({exc})") from None


def read_aedat4(path) -> AedatRecording:
    """Read every event, frame and trigger of an AEDAT4 file (small files: it is all in memory).

    Raises :class:`AedatError` (one line) for a missing, truncated or
    non-AEDAT4 file, or one without an events stream.
    """
    _, width, height, _ = open_decoder(path)
    parts: dict = {"events": [], "frame": [], "triggers": []}
    for kind, value in iter_aedat4(path, tuple(parts)):
        parts[kind].append(value)
    events = EventArray.concatenate(parts["events"])
    if len(events) > 1 and np.any(np.diff(events.t) < 0):
        events = events[np.argsort(events.t, kind="stable")]
    frames = sorted(parts["frame"], key=lambda fr: fr.t_ns)
    return AedatRecording(events=events, frames=frames, width=width, height=height,
                          triggers=TriggerArray.concatenate(parts["triggers"]))
