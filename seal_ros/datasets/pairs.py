"""Event-image pairs for training: sources and the torch dataset on top.

A *pair source* is a sequence of :class:`PairSample` (events of one window and
the image that goes with it). Sources here:

- :class:`AedatPairs`: an AEDAT4 file with APS frames (DAVIS); each frame pairs
  with the events of a window centred on its exposure (``window_ms``);
- :class:`RecorderPairs`: a dataset written by ``pair_recorder`` /
  ``seal-ros record-pairs`` (DSEC layout), read through the recorder's reader.

:class:`TrainPairs` turns a source into model inputs: the event image
(``events.representations.event_image``, 3 temporal bins) and the image, both
resized to ``size`` x ``size`` without keeping the aspect ratio, scaled to
[0, 1] and ImageNet-normalised (SEAL's input convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from seal_ros.events.representations import event_image
from seal_ros.events.types import EventArray

CACHE_MAX_PAIRS = 64
IMAGENET_MEAN = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
IMAGENET_STD = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)


@dataclass
class PairSample:
    events: EventArray
    image: np.ndarray  # uint8 (H, W) or (H, W, 3)
    width: int
    height: int
    t0_ns: int
    t1_ns: int
    name: str = ""


class AedatPairs:
    """Pairs from an AEDAT4 recording with frames: window centred on each frame's exposure."""

    def __init__(self, path, window_ms: float = 20.0, min_events: int = 1):
        from seal_ros.io.aedat import read_aedat4

        rec = read_aedat4(path)
        self.path, self.window_ms = Path(path), float(window_ms)
        self.width, self.height = rec.width, rec.height
        ev = rec.events
        half = int(window_ms * 1e6 / 2)
        self.samples: list[PairSample] = []
        for i, fr in enumerate(rec.frames):
            mid = (fr.exposure_start_ns + fr.exposure_end_ns) // 2
            t0, t1 = mid - half, mid + half
            lo, hi = np.searchsorted(ev.t, [t0, t1], side="left")
            if hi - lo < min_events:
                continue
            self.samples.append(PairSample(ev[lo:hi], fr.image, rec.width, rec.height, t0, t1,
                                           name=f"{Path(path).stem}_{i:06d}"))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i) -> PairSample:
        return self.samples[i]

    def fingerprint(self) -> dict:
        """What identifies these pairs (keys training caches)."""
        return {"kind": "aedat", "file": _file_id(self.path), "window_ms": self.window_ms,
                "pairs": [s.name for s in self.samples]}


class RecorderPairs:
    """Pairs of recorder datasets (DSEC layout), through ``seal_ros.recorder.reader.PairDataset``.

    ``path`` is one session directory or a list of them. Pairs flagged with lost
    packets or empty are skipped unless ``keep_flagged``."""

    def __init__(self, path, keep_flagged: bool = False):
        from seal_ros.recorder.reader import PairDataset

        roots = path if isinstance(path, (list, tuple)) else [path]
        ok = None if keep_flagged else _clean_pair
        self.ds = PairDataset(roots, flags_ok=ok)
        sizes = set(self.ds.sizes)
        if len(sizes) > 1:
            raise ValueError(f"recorder datasets of different sensor sizes: {sorted(sizes)}")
        self.width, self.height = next(iter(sizes)) if sizes else (0, 0)

    def __len__(self):
        return len(self.ds)

    def fingerprint(self) -> dict:
        return {"kind": "recorder", "pairs": len(self.ds), "roots": [
            {"path": str(r.resolve()), "files": sorted((f.name, _file_id(f)) for f in r.iterdir() if f.is_file())}
            for r in self.ds.roots]}

    def __getitem__(self, i) -> PairSample:
        img, ev, meta = self.ds[i]
        t0, t1 = meta.get("t0_us", 0), meta.get("t1_us", 0)
        return PairSample(ev, img, int(meta["width"]), int(meta["height"]), int(t0) * 1000,
                          int(t1) * 1000, name=str(meta.get("image", i)))


def _file_id(path) -> list:
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def _clean_pair(meta: dict) -> bool:
    flags = meta.get("flags") or {}
    return not flags.get("lost_packets") and not flags.get("empty") \
        and int(meta.get("event_count", 1)) > 0


class PairSourceError(ValueError):
    """A training data source that cannot be opened (one line saying why)."""


SOURCES = ("auto", "aedat", "recorder", "recording", "seal_mhsg")


def resolve_source(data: dict) -> str:
    """``data.source``, with ``auto`` decided from ``data.path``: an .aedat4 file, the SEAL
    authors' training layout (a folder with metadata/train.txt), a recorder dataset (a session
    folder with pairs.jsonl, or a folder of them), else any recording with frames that
    :mod:`seal_ros.io.recordings` reads."""
    src = data.get("source", "auto")
    if src not in SOURCES:
        raise PairSourceError(f"data.source must be one of {', '.join(SOURCES)}, got {src!r}")
    if src != "auto":
        return src
    path = data.get("path")
    if isinstance(path, (str, Path)) and Path(path).suffix.lower() in (".aedat4", ".aedat"):
        return "aedat"
    if isinstance(path, (str, Path)) and any((Path(path) / d / "train.txt").is_file()
                                             for d in ("metadata", "dataset/metadata")):
        return "seal_mhsg"
    p = Path(path) if isinstance(path, (str, Path)) else None
    if p is not None and p.is_dir() and ((p / "pairs.jsonl").is_file() or any(p.glob("*/pairs.jsonl"))):
        return "recorder"
    return "recording" if p is not None and p.exists() else "recorder"


def open_pairs(data: dict):
    """A pair source from a config ``data`` section: ``{source: auto|aedat|recorder|recording, path: ...}``."""
    path = data.get("path")
    if not path:
        raise PairSourceError("data.path is required")
    src = resolve_source(data)
    if src == "seal_mhsg":
        raise PairSourceError(f"data ({src}): {path} is the SEAL authors' training layout; stage seal reads it")
    try:
        if src == "aedat":
            out = AedatPairs(path, window_ms=float(data.get("window_ms", 20.0)))
        elif src == "recording":  # any format of seal_ros.io.recordings that has frames
            from seal_ros.datasets.recording_pairs import RecordingPairs

            out = RecordingPairs(path, window_ms=float(data.get("window_ms", 20.0)))
        else:
            out = RecorderPairs(path)
    except (OSError, ValueError) as exc:
        raise PairSourceError(f"data ({src}): {exc}") from exc
    except Exception as exc:  # the readers' own error types (AedatError, DatasetError)
        if type(exc).__name__ in ("AedatError", "DatasetError", "RecordingError"):
            raise PairSourceError(f"data ({src}): {exc}") from exc
        raise
    if len(out) == 0:
        raise PairSourceError(f"data ({src}): {path} holds no usable pairs")
    return out


def to_model_input(img_u8: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (H, W) / (H, W, 3) -> ImageNet-normalised float (3, size, size)."""
    a = np.asarray(img_u8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    x = torch.from_numpy(np.ascontiguousarray(a[:, :, :3])).permute(2, 0, 1).float()[None] / 255.0
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)[0]
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def rgb(img_u8: np.ndarray) -> np.ndarray:
    a = np.asarray(img_u8)
    return np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else np.ascontiguousarray(a[:, :, :3])


class TrainPairs(torch.utils.data.Dataset):
    """Model-ready pairs: ``{"event", "image", "index"}`` (float (3, S, S) each).

    ``flip``: :meth:`item` flips both horizontally for half of the samples of an
    epoch, drawn from (``seed``, epoch, index) so resumed runs see the same."""

    def __init__(self, source, size: int, num_bins: int = 3, repeat: int = 1,
                 cache: Optional[bool] = None, flip: bool = False, seed: int = 0):
        self.source = source
        self.size = int(size)
        self.num_bins = num_bins
        self.repeat = max(1, int(repeat))
        self.flip, self.seed = bool(flip), int(seed)
        if cache is None:  # keep small sets (overfitting, tests) in memory
            cache = len(source) <= CACHE_MAX_PAIRS
        self._cache: Optional[dict] = {} if cache else None

    def __len__(self):
        return len(self.source) * self.repeat

    def event_image(self, i: int) -> np.ndarray:
        s = self.source[i % len(self.source)]
        return event_image(s.events, s.width, s.height, num_bins=self.num_bins)

    def __getitem__(self, i):
        j = i % len(self.source)
        if self._cache is not None and j in self._cache:
            return self._cache[j]
        s = self.source[j]
        ev = event_image(s.events, s.width, s.height, num_bins=self.num_bins)
        item = {"event": to_model_input(ev, self.size), "image": to_model_input(s.image, self.size),
                "index": j}
        if self._cache is not None:
            self._cache[j] = item
        return item

    def item(self, i: int, epoch: int) -> dict:
        if self.flip and flip_coin(self.seed, epoch, i):
            return dict(self[i], event=self[i]["event"].flip(-1), image=self[i]["image"].flip(-1))
        return self[i]


def flip_coin(seed: int, epoch: int, index: int) -> bool:
    """The seeded 50 % horizontal-flip draw of one sample in one epoch (the authors flip
    with probability one half; here the draw depends only on (seed, epoch, index))."""
    return bool(np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(index)]).random() < 0.5)
