"""DSEC-Semantic reader (the published layout of ESS / DSEC-Semantic).

    ROOT/[train|test/]<sequence>/
        semantic/timestamps.txt                 label stamps, us (DSEC time base)
        semantic/[left/]11classes/data/*.png    class ids 0..10, 255 ignore (440 x 640)
        semantic/[left/]19classes/data/*.png    Cityscapes ids 0..18
        events/left/events.h5                   events/{x,y,t,p}, ms_to_idx, t_offset (t in us)
        events/left/rectify_map.h5              optional: rectify_map (480, 640, 2)

Each label pairs with the events of ``[stamp - window_ms, stamp)``, rectified
when a map is present, restricted to the label's rows (the labels drop the
bottom 40 sensor rows), and rendered with ``events.representations.event_image``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from seal_ros.events.representations import event_image
from seal_ros.events.types import EventArray


@dataclass
class EvalSample:
    event_image: np.ndarray  # uint8 (H, W, 3)
    label: np.ndarray  # uint8 (H, W) class ids, 255 ignore
    name: str


class DsecSequence:
    def __init__(self, seq: Path, label_dir: str):
        self.seq = Path(seq)
        sem = self.seq / "semantic"
        cands = [sem / label_dir / "data", sem / "left" / label_dir / "data"]
        ldir = next((c for c in cands if c.is_dir()), None)
        if ldir is None:
            raise FileNotFoundError(f"{self.seq}: no semantic/{label_dir}/data")
        self.labels = sorted(ldir.glob("*.png"))
        ts = next((p for p in (sem / "timestamps.txt", sem / "left" / "timestamps.txt") if p.is_file()), None)
        if ts is None:
            raise FileNotFoundError(f"{self.seq}: no semantic/timestamps.txt")
        self.stamps = np.loadtxt(ts, dtype=np.int64).reshape(-1)
        if len(self.stamps) != len(self.labels):
            raise ValueError(f"{self.seq}: {len(self.labels)} labels but {len(self.stamps)} timestamps")
        self.h5_path = self.seq / "events" / "left" / "events.h5"
        if not self.h5_path.is_file():
            raise FileNotFoundError(f"{self.h5_path}: missing")
        rect = self.seq / "events" / "left" / "rectify_map.h5"
        self.rectify = None
        if rect.is_file():
            with h5py.File(rect, "r") as f:
                self.rectify = f["rectify_map"][()]
        self._h5 = None

    def _file(self):
        if self._h5 is None:
            self._h5 = h5py.File(self.h5_path, "r")
        return self._h5

    def events(self, t0_us: int, t1_us: int):
        """(x, y, t_us_relative, p) of ``[t0_us, t1_us)`` (absolute us)."""
        f = self._file()
        off = int(f["t_offset"][()]) if "t_offset" in f else 0
        ms = f["ms_to_idx"]
        a, b = t0_us - off, t1_us - off
        lo_ms, hi_ms = max(0, a // 1000), max(0, b // 1000 + 1)
        i0 = int(ms[min(lo_ms, len(ms) - 1)])
        i1 = int(ms[hi_ms]) if hi_ms < len(ms) else int(f["events/t"].shape[0])
        t = f["events/t"][i0:i1].astype(np.int64)
        keep = (t >= a) & (t < b)
        g = f["events"]
        return (g["x"][i0:i1][keep], g["y"][i0:i1][keep], t[keep], g["p"][i0:i1][keep])


class DsecSemantic:
    def __init__(self, root, benchmark, split: str = "test", window_ms: float = 50.0, num_bins: int = 3):
        root = Path(root)
        base = root / split if (root / split).is_dir() else root
        seqs = sorted(p for p in base.iterdir() if (p / "semantic").is_dir()) if base.is_dir() else []
        if not seqs:
            raise FileNotFoundError(f"{root}: no DSEC-Semantic sequences (dirs with semantic/ and events/)")
        self.sequences = [DsecSequence(s, benchmark.label_dir) for s in seqs]
        self.index = [(k, i) for k, s in enumerate(self.sequences) for i in range(len(s.labels))]
        self.window_us = int(window_ms * 1000)
        self.num_bins = num_bins

    def __len__(self):
        return len(self.index)

    def __getitem__(self, n) -> EvalSample:
        k, i = self.index[n]
        seq = self.sequences[k]
        label = cv2.imread(str(seq.labels[i]), cv2.IMREAD_UNCHANGED)
        if label is None:
            raise ValueError(f"{seq.labels[i]}: unreadable label")
        label = label if label.ndim == 2 else label[:, :, 0]
        h, w = label.shape
        stamp = int(seq.stamps[i])
        x, y, t, p = seq.events(stamp - self.window_us, stamp)
        if seq.rectify is not None and len(x):
            xy = seq.rectify[y.astype(np.int64), x.astype(np.int64)]
            x, y = np.rint(xy[:, 0]), np.rint(xy[:, 1])
        x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
        ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        ev = EventArray(x[ok].astype(np.uint16), y[ok].astype(np.uint16), np.asarray(p)[ok].astype(np.uint8),
                        np.asarray(t)[ok] * 1000)
        return EvalSample(event_image(ev, w, h, num_bins=self.num_bins), label.astype(np.uint8),
                          f"{seq.seq.name}/{seq.labels[i].stem}")
