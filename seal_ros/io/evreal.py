"""EVREAL's dataset layout (ercanburak/EVREAL, ``tools/bag_to_npy.py`` and ``dataset.py``), read and written.

One folder per sequence::

    events_ts.npy            (N,)   float64, seconds, zeroed (see below)
    events_xy.npy            (N, 2) int, x then y
    events_p.npy             (N,)   int, 1 ON / 0 OFF
    images.npy               (K, H, W, 1) uint8, grayscale frames
    images_ts.npy            (K, 1) float64, seconds, zeroed
    image_event_indices.npy  (K, 1) int64: searchsorted(events_ts, images_ts, 'right') - 1,
                                    clipped to [0, N - 1] (the last event at or before each frame)
    metadata.json            {"sensor_resolution": [H, W]}   (optional)

Times are zeroed by the earliest of the first frame and the first event, as
``bag_to_npy`` does; frame stamps that go backwards are replaced by the mean
of their neighbours (``bag_to_npy``'s fix for HQF's engineering_posters).
:func:`write_evreal` adds one labelled extra to ``metadata.json``,
``t0_ns`` (the absolute time, ns, that was subtracted), which EVREAL ignores
and :func:`read_evreal` uses to give events and frames back in absolute ns.

Only the frames' ``images``/``images_ts``/``image_event_indices`` are
optional, as in EVREAL (a sequence without frames has ``num_frames == 0``).
The sensor size comes from ``metadata.json``, else the frames' shape, else
the largest coordinates + 1 (EVREAL's order).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from seal_ros.events.types import EventArray

EVENT_FILES = ("events_ts.npy", "events_xy.npy", "events_p.npy")
FRAME_FILES = ("images.npy", "images_ts.npy", "image_event_indices.npy")
METADATA = "metadata.json"


class EvrealError(Exception):
    """A folder that is not a readable EVREAL sequence: one line saying why."""


@dataclass
class EvrealRecording:
    """One EVREAL sequence. Arrays are memory-mapped where EVREAL maps them."""

    path: Path
    width: int
    height: int
    ts: np.ndarray  # (N,) float64 s, zeroed
    xy: np.ndarray  # (N, 2)
    p: np.ndarray  # (N,) 1 / 0
    images: np.ndarray  # (K, H, W, 1) uint8, or (0, H, W, 1)
    images_ts: np.ndarray  # (K,) float64 s, zeroed
    image_event_indices: np.ndarray  # (K,) int64
    t0_ns: int = 0  # absolute time of zero (from metadata.json's labelled extra; 0 when unknown)

    @property
    def num_events(self) -> int:
        return len(self.ts)

    @property
    def num_frames(self) -> int:
        return len(self.images_ts)

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` as uint8 (H, W) (EVREAL reads channel 0)."""
        img = np.asarray(self.images[k])
        return img[:, :, 0] if img.ndim == 3 else img

    @property
    def frame_ts_ns(self) -> np.ndarray:
        """Frame stamps in absolute ns (int64)."""
        return np.round(self.images_ts * 1e9).astype(np.int64) + self.t0_ns

    def events(self, i0: int = 0, i1: int | None = None) -> EventArray:
        """Events ``i0 .. i1 - 1`` as an :class:`EventArray` (t in absolute ns)."""
        i1 = self.num_events if i1 is None else i1
        xy = np.asarray(self.xy[i0:i1])
        t = np.round(np.asarray(self.ts[i0:i1], np.float64) * 1e9).astype(np.int64) + self.t0_ns
        return EventArray(xy[:, 0].astype(np.uint16), xy[:, 1].astype(np.uint16),
                          (np.asarray(self.p[i0:i1]) > 0).astype(np.uint8), t)

    def chunks(self, chunk_events: int = 20000) -> Iterator[EventArray]:
        for i in range(0, self.num_events, max(1, int(chunk_events))):
            yield self.events(i, min(i + chunk_events, self.num_events))


def _load(path: Path, name: str, mmap: bool) -> np.ndarray:
    try:
        return np.load(path / name, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EvrealError(f"{path / name}: not a readable .npy file ({str(exc).splitlines()[0][:120]})") from None


def is_evreal(path) -> bool:
    """True for a folder holding EVREAL's event files."""
    path = Path(path)
    return path.is_dir() and all((path / f).is_file() for f in EVENT_FILES)


def read_evreal(path, mmap: bool = True) -> EvrealRecording:
    """Read one EVREAL sequence folder; raises :class:`EvrealError` (one line) when it cannot."""
    path = Path(path)
    if not path.is_dir():
        raise EvrealError(f"{path}: no such folder")
    missing = [f for f in EVENT_FILES if not (path / f).is_file()]
    if missing:
        raise EvrealError(f"{path}: not an EVREAL sequence (missing {', '.join(missing)})")
    ts = np.asarray(_load(path, "events_ts.npy", mmap)).reshape(-1)
    xy = _load(path, "events_xy.npy", mmap)
    p = np.asarray(_load(path, "events_p.npy", mmap)).reshape(-1)
    xy = xy.reshape(-1, 2) if xy.ndim != 2 else xy
    if not (len(ts) == len(xy) == len(p)):
        raise EvrealError(f"{path}: {len(ts)} event times, {len(xy)} coordinates and {len(p)} polarities")
    if len(ts) == 0:
        raise EvrealError(f"{path}: no events")
    if all((path / f).is_file() for f in FRAME_FILES):
        images = _load(path, "images.npy", mmap)
        images_ts = np.asarray(_load(path, "images_ts.npy", False), np.float64).reshape(-1)
        iei = np.asarray(_load(path, "image_event_indices.npy", False)).reshape(-1).astype(np.int64)
        if images.ndim == 3:
            images = images[..., None]
        if not (len(images) == len(images_ts) == len(iei)) or images.ndim != 4:
            raise EvrealError(f"{path}: {len(images)} images, {len(images_ts)} image stamps and "
                              f"{len(iei)} image_event_indices")
        if images.dtype != np.uint8:
            raise EvrealError(f"{path}: images.npy is {images.dtype}, expected uint8")
        if len(iei) and (iei.min() < 0 or iei.max() >= len(ts)):
            raise EvrealError(f"{path}: image_event_indices outside 0..{len(ts) - 1}")
    else:
        images = np.zeros((0, 1, 1, 1), np.uint8)
        images_ts = np.zeros(0, np.float64)
        iei = np.zeros(0, np.int64)
    meta = {}
    if (path / METADATA).is_file():
        try:
            meta = json.loads((path / METADATA).read_text())
        except (OSError, ValueError) as exc:
            raise EvrealError(f"{path / METADATA}: not readable JSON ({exc})") from None
    if "sensor_resolution" in meta:
        height, width = (int(v) for v in meta["sensor_resolution"])
    elif len(images):
        height, width = images.shape[1:3]
    else:
        height, width = int(np.max(xy[:, 1])) + 1, int(np.max(xy[:, 0])) + 1
    if len(images) and tuple(images.shape[1:3]) != (height, width):
        raise EvrealError(f"{path}: frames are {images.shape[2]}x{images.shape[1]}, the sensor {width}x{height}")
    if int(np.max(xy[:, 0])) >= width or int(np.max(xy[:, 1])) >= height or int(np.min(xy)) < 0:
        raise EvrealError(f"{path}: event coordinates outside the {width}x{height} sensor")
    return EvrealRecording(path, int(width), int(height), ts, xy, p, images, images_ts, iei,
                           int(meta.get("t0_ns", 0)))


def to_evreal(events: EventArray, frames, frame_ts_ns, width: int | None = None,
              height: int | None = None) -> EvrealRecording:
    """The in-memory EVREAL layout of ``events`` and ``frames`` (uint8 H x W each), as ``bag_to_npy`` builds it.

    ``frame_ts_ns`` are the frames' stamps (absolute ns). Events are taken in
    the order given (EVREAL does not sort them). The sensor size defaults to
    the frames' size, else the largest coordinates + 1.
    """
    frame_ts_ns = np.asarray(frame_ts_ns, np.int64).reshape(-1)
    if len(frame_ts_ns) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(frame_ts_ns)} stamps")
    if not len(events):
        raise ValueError("no events")
    if width is None or height is None:
        if len(frames):
            height, width = np.asarray(frames[0]).shape[:2]
        else:
            height, width = int(events.y.max()) + 1, int(events.x.max()) + 1
    for img in frames:
        if np.asarray(img).shape != (height, width):
            raise ValueError(f"a frame is {img.shape[1]}x{img.shape[0]}, the sensor {width}x{height}")
    t0_ns = int(min(int(events.t.min()), int(frame_ts_ns.min()) if len(frame_ts_ns) else int(events.t.min())))
    ts = (events.t - t0_ns).astype(np.float64) / 1e9
    images_ts = (frame_ts_ns - t0_ns).astype(np.float64) / 1e9
    if len(images_ts) > 2:  # a stamp that goes backwards: the mean of its neighbours
        back = images_ts[:-1] > images_ts[1:]
        mean = (images_ts[:-2] + images_ts[2:]) / 2.0
        images_ts[1:-1][back[:-1]] = mean[back[:-1]]
    iei = np.clip(np.searchsorted(ts, images_ts, "right") - 1, 0, len(ts) - 1).astype(np.int64)
    xy = np.stack([events.x.astype(np.int64), events.y.astype(np.int64)], axis=1)
    images = (np.stack([np.asarray(f, np.uint8) for f in frames])[..., None] if len(frames)
              else np.zeros((0, height, width, 1), np.uint8))
    return EvrealRecording(Path(""), int(width), int(height), ts, xy, events.p.astype(np.int64), images,
                           images_ts, iei, t0_ns)


def write_evreal(path, events: EventArray, frames, frame_ts_ns, width: int | None = None,
                 height: int | None = None) -> Path:
    """Write ``events`` and ``frames`` as one EVREAL sequence folder (created if needed); returns it."""
    path = Path(path)
    rec = to_evreal(events, frames, frame_ts_ns, width, height)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / "events_ts.npy", rec.ts, allow_pickle=False)
    np.save(path / "events_xy.npy", rec.xy, allow_pickle=False)
    np.save(path / "events_p.npy", rec.p, allow_pickle=False)
    if rec.num_frames:
        np.save(path / "images.npy", rec.images, allow_pickle=False)
        np.save(path / "images_ts.npy", rec.images_ts[:, None], allow_pickle=False)
        np.save(path / "image_event_indices.npy", rec.image_event_indices[:, None], allow_pickle=False)
    (path / METADATA).write_text(json.dumps({"sensor_resolution": [int(height), int(width)], "t0_ns": rec.t0_ns}))
    return path
