"""AEDAT4 reading (iniVation DV files) on the PyPI ``aedat`` package.

``read_aedat4(path)`` loads a whole file: change-detection events as an
:class:`~seal_ros.events.types.EventArray` (times in ns), APS/frame-camera
frames as :class:`Frame` objects (grayscale uint8, times in ns), external
triggers, and the sensor size. AEDAT4 stores microseconds; every time here is
``us * 1000``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray


class AedatError(Exception):
    """An AEDAT4 file that cannot be read: the message names what was wrong."""


@dataclass
class Frame:
    """One frame: ``t_ns`` is the frame's timestamp, exposure bounds in ns, ``image`` uint8 (H, W)."""

    t_ns: int
    exposure_start_ns: int
    exposure_end_ns: int
    image: np.ndarray


@dataclass
class AedatRecording:
    events: EventArray
    frames: list
    width: int
    height: int
    triggers: TriggerArray = field(default_factory=TriggerArray.empty)


def _to_gray(pixels: np.ndarray, fmt: str) -> np.ndarray:
    img = np.asarray(pixels)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        else:  # RGB / RGBA / BGR: luminance from the first three channels (ITU-R 601)
            c = img[:, :, :3].astype(np.float32)
            if fmt.upper().startswith("BGR"):
                c = c[:, :, ::-1]
            img = np.clip(c @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5, 0, 255)
    if img.dtype != np.uint8:
        if img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def read_aedat4(path) -> AedatRecording:
    """Read every event, frame and trigger of an AEDAT4 file.

    Raises :class:`AedatError` (one line) for a missing, truncated or
    non-AEDAT4 file, or one without an events stream.
    """
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

    width = height = 0
    for info in streams.values():
        if info.get("type") == "events":
            width, height = int(info["width"]), int(info["height"])
            break
    else:
        raise AedatError(f"{path}: no events stream in this AEDAT4 file")

    ev_parts, trig_parts, frames = [], [], []
    try:
        for packet in decoder:
            if "events" in packet:
                ev_parts.append(packet["events"])
            elif "frame" in packet:
                f = packet["frame"]
                frames.append(Frame(
                    t_ns=int(f["t"]) * 1000,
                    exposure_start_ns=int(f.get("exposure_begin_t", f["t"])) * 1000,
                    exposure_end_ns=int(f.get("exposure_end_t", f["t"])) * 1000,
                    image=_to_gray(f["pixels"], str(f.get("format", "L"))),
                ))
            elif "triggers" in packet:
                trig_parts.append(packet["triggers"])
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt packets
        raise AedatError(f"{path}: corrupt AEDAT4 data ({exc})") from None

    if ev_parts:
        ev = np.concatenate(ev_parts)
        t = ev["t"].astype(np.int64) * 1000
        events = EventArray(ev["x"].astype(np.uint16), ev["y"].astype(np.uint16),
                            ev["on"].astype(np.uint8), t)
        if len(t) > 1 and np.any(np.diff(t) < 0):
            events = events[np.argsort(t, kind="stable")]
    else:
        events = EventArray.empty()
    if trig_parts:
        tr = np.concatenate(trig_parts)
        # dv::TriggerType: 0 timestamp reset, 1/2 external signal rising/falling edge,
        # 3 pulse, 4/5 generator rising/falling, 6..9 APS frame/exposure start/end.
        # ``edge`` is 1 for rising edges (and pulses), ``id`` keeps the DV type.
        src = tr["source"].astype(np.uint8)
        rising = np.isin(src, (1, 3, 4)).astype(np.uint8)
        triggers = TriggerArray(tr["t"].astype(np.int64) * 1000, rising, src)
    else:
        triggers = TriggerArray.empty()
    frames.sort(key=lambda fr: fr.t_ns)
    return AedatRecording(events=events, frames=frames, width=width, height=height, triggers=triggers)
