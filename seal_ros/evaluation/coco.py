"""COCO-style mask AP (pycocotools) for the same prompted predictions, using their scores.

Each ground-truth instance becomes a COCO annotation; each prompt's prediction
a detection with its predicted class and score (SAM IoU x class probability).
Unlike the SEAL protocol's binary scores, this AP ranks detections by score
and has no floor at the class prevalence. Thresholds: 0.50:0.05:0.95 for AP,
plus AP50 and AP25, per class and averaged over classes with ground truth.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from seal_ros.seal.rle import coco_rle

_THRS = np.array([0.25] + [round(0.5 + 0.05 * i, 2) for i in range(10)])


class CocoAccumulator:
    """Collects ground truth and detections image by image, then evaluates."""

    def __init__(self, classes):
        self.classes = list(classes)
        self.images: list[dict] = []
        self.gts: list[dict] = []
        self.dets: list[dict] = []

    def add_image(self, height: int, width: int) -> int:
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "height": int(height), "width": int(width)})
        return image_id

    def add_gt(self, image_id: int, mask: np.ndarray, label: int) -> None:
        rle = coco_rle(mask)
        self.gts.append({
            "id": len(self.gts) + 1, "image_id": image_id, "category_id": int(label) + 1,
            "segmentation": rle, "area": float(mask_utils.area(rle)),
            "bbox": list(mask_utils.toBbox(rle)), "iscrowd": 0,
        })

    def add_det(self, image_id: int, mask: np.ndarray, label: int, score: float) -> None:
        if label < 0 or not np.any(mask):
            return
        self.dets.append({"image_id": image_id, "category_id": int(label) + 1,
                          "segmentation": coco_rle(mask), "score": float(score)})

    def evaluate(self, eval_classes=None) -> dict:
        eval_idx = list(range(len(self.classes))) if eval_classes is None else list(eval_classes)
        nan = float("nan")
        empty = {"mAP": nan, "mAP50": nan, "mAP25": nan,
                 "per_class": {self.classes[c]: {"AP": nan, "AP50": nan, "AP25": nan} for c in eval_idx}}
        if not self.gts:
            return empty
        gt = COCO()
        gt.dataset = {"images": self.images, "annotations": self.gts,
                      "categories": [{"id": i + 1, "name": n} for i, n in enumerate(self.classes)]}
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
            dt = gt.loadRes(self.dets) if self.dets else None
        if dt is None:
            out = empty
            for c in eval_idx:
                if any(g["category_id"] == c + 1 for g in self.gts):
                    out["per_class"][self.classes[c]] = {"AP": 0.0, "AP50": 0.0, "AP25": 0.0}
            return _means(out)
        ev = COCOeval(gt, dt, iouType="segm")
        ev.params.iouThrs = _THRS
        ev.params.catIds = [c + 1 for c in eval_idx]
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [max(100, len(self.dets))]
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
            ev.accumulate()
        prec = ev.eval["precision"]  # (T, R, K, A, M), -1 where no ground truth
        per_class = {}
        for k, c in enumerate(eval_idx):
            def ap(ts, k=k):
                p = prec[ts, :, k, 0, -1]
                return float(np.mean(p)) if np.all(p > -1) else nan
            per_class[self.classes[c]] = {"AP": ap(slice(1, None)), "AP50": ap(slice(1, 2)),
                                          "AP25": ap(slice(0, 1))}
        return _means({"per_class": per_class})


def _means(out: dict) -> dict:
    for key, name in (("AP", "mAP"), ("AP50", "mAP50"), ("AP25", "mAP25")):
        vals = np.array([v[key] for v in out["per_class"].values()], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        out[name] = float(vals.mean()) if vals.size else float("nan")
    return out
