"""Ground-truth instances from a semantic label map: connected components per instance class.

seal_ros's own evaluation of the raw public datasets (no instance ground truth
there); the authors' benchmark ships instance files (:mod:`seal_ros.datasets.seal_layout`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.measure import label as cc_label

from seal_ros.datasets.seal_layout import SealItem
from seal_ros.evaluation.benchmarks import Benchmark


@dataclass
class GtInstance:
    mask: np.ndarray  # bool (H, W)
    label: int  # class index into the benchmark's classes


def instances_from_semantic(label_map: np.ndarray, benchmark: Benchmark,
                            min_area: int = 16) -> list[GtInstance]:
    """One instance per 8-connected component of each instance class (area >= ``min_area``)."""
    label_map = np.asarray(label_map)
    out: list[GtInstance] = []
    for cls in benchmark.instance_ids:
        region = label_map == cls
        if not region.any():
            continue
        comps, n = cc_label(region, connectivity=2, return_num=True)
        for k in range(1, n + 1):
            m = comps == k
            if int(m.sum()) >= min_area:
                out.append(GtInstance(mask=m, label=cls))
    return out


def items_from_semantic(dataset, benchmark: Benchmark, min_area: int = 16):
    """seal_ros's raw-dataset evaluation: :class:`SealItem` s from samples with an
    ``event_image`` and a semantic ``label`` map, instances as connected components
    (the raw datasets have no instance ground truth); images without any are left out."""
    for i in range(len(dataset)):
        s = dataset[i]
        inst = instances_from_semantic(s.label, benchmark, min_area=min_area)
        if inst:
            yield SealItem(s.event_image, np.stack([g.mask for g in inst]),
                           np.array([g.label for g in inst], np.int64), name=s.name)
