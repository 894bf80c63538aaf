"""DDD17-Seg reader (the layout published with Ev-SegNet and used by ESS).

    ROOT/dir*/                      sorted; ESS splits 7 dirs as train 0,2,3,5,6 / valid 1 / test 4
        events.dat.t                int64 ns, one per event (raw memmap)
        events.dat.xyp              int16 (N, 3): x, y, p (p in {0, 1})
        index/index_50ms.npy        per image j: (t_ns, last event index, first event index of its 50 ms)
        segmentation_masks/segmentation_<j+1>.png   6 classes, 200 x 346

Each mask pairs with the events of its 50 ms window (rows below 200 dropped, as
the labels were cropped), rendered with ``events.representations.event_image``.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from seal_ros.datasets.dsec import EvalSample
from seal_ros.events.representations import event_image
from seal_ros.events.types import EventArray

SPLITS = {"train": [0, 2, 3, 5, 6], "valid": [1], "test": [4]}


class Ddd17Seg:
    def __init__(self, root, benchmark=None, split: str = "test", num_bins: int = 3):
        dirs = sorted(p for p in Path(root).glob("dir*") if p.is_dir())
        if not dirs:
            raise FileNotFoundError(f"{root}: no DDD17 dir* folders")
        if len(dirs) == 7:
            dirs = [dirs[i] for i in SPLITS[split]]
        self.items = []
        self.data = {}
        for d in dirs:
            n = os.path.getsize(d / "events.dat.t") // 8
            t = np.memmap(d / "events.dat.t", dtype=np.int64, mode="r", shape=(n,))
            xyp = np.memmap(d / "events.dat.xyp", dtype=np.int16, mode="r", shape=(n, 3))
            idx = np.load(d / "index" / "index_50ms.npy")
            self.data[d] = (t, xyp, idx)
            for m in sorted((d / "segmentation_masks").glob("*.png")):
                j = int(m.stem.split("_")[-1]) - 1
                if 0 <= j < len(idx):
                    self.items.append((d, m, j))
        self.num_bins = num_bins

    def __len__(self):
        return len(self.items)

    def __getitem__(self, n) -> EvalSample:
        d, mpath, j = self.items[n]
        t, xyp, idx = self.data[d]
        label = cv2.imread(str(mpath), cv2.IMREAD_UNCHANGED)
        label = label if label.ndim == 2 else label[:, :, 0]
        h, w = label.shape
        _, i1, i0 = (int(v) for v in idx[j])
        i0 = max(0, i0)
        tt = np.asarray(t[i0:i1], np.int64)
        e = np.asarray(xyp[i0:i1], np.int64)
        ok = (e[:, 1] < h) & (e[:, 0] < w) & (e[:, 0] >= 0) & (e[:, 1] >= 0)
        ev = EventArray(e[ok, 0].astype(np.uint16), e[ok, 1].astype(np.uint16),
                        (e[ok, 2] > 0).astype(np.uint8), tt[ok])
        return EvalSample(event_image(ev, w, h, num_bins=self.num_bins), label.astype(np.uint8),
                          f"{d.name}/{mpath.stem}")


def open_eval_dataset(benchmark, path, split: str = "test", window_ms: float = 50.0):
    if benchmark.raw_dataset == "ddd17":
        return Ddd17Seg(path, benchmark, split)
    from seal_ros.datasets.dsec import DsecSemantic

    return DsecSemantic(path, benchmark, split, window_ms=window_ms)
