"""SEAL-protocol average precision (binary scores, per class, over IoU thresholds).

For every ground-truth instance the segmenter is prompted once and returns one
mask and one label. Per class ``c`` and IoU threshold ``thr``::

    y_true  = (gt_label == c)
    y_score = 1 if pred_label == c and (gt_label != c or iou >= thr) else 0
    AP_c    = sklearn.metrics.average_precision_score(y_true, y_score)

A prediction of ``c`` on an instance of another class is a false positive
whatever its IoU; a correct label with a poor mask counts as a miss. AP is
averaged over IoU 0.50:0.05:0.95, with AP50 and AP25 beside it, and the mean
is taken over classes ignoring NaN (classes with no ground-truth instance).

Because the scores are binary, AP has a floor: with recall ``r`` and precision
``p`` at score 1 and prevalence ``pi = mean(y_true)``, sklearn's step-wise AP is
``r * p + (1 - r) * pi``, never below ``pi`` (see :func:`binary_ap_closed_form`).
The COCO-style AP in :mod:`seal_ros.evaluation.coco` uses the scores instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score

COCO_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def class_ap(gt_labels, pred_labels, ious, cls: int, thr: float) -> float:
    """AP of one class at one IoU threshold; NaN when the class has no ground truth."""
    gt = np.asarray(gt_labels)
    pred = np.asarray(pred_labels)
    iou = np.asarray(ious, dtype=np.float64)
    if not (gt.shape == pred.shape == iou.shape):
        raise ValueError(f"shapes differ: gt {gt.shape}, pred {pred.shape}, iou {iou.shape}")
    y_true = gt == cls
    if not y_true.any():
        return float("nan")
    y_score = ((pred == cls) & ((gt != cls) | (iou >= thr))).astype(np.float64)
    return float(average_precision_score(y_true, y_score))


def binary_ap_closed_form(gt_labels, pred_labels, ious, cls: int, thr: float) -> float:
    """The same AP written out (for binary scores): ``r * p + (1 - r) * prevalence``."""
    gt = np.asarray(gt_labels)
    y_true = gt == cls
    if not y_true.any():
        return float("nan")
    y_score = (np.asarray(pred_labels) == cls) & ((gt != cls) | (np.asarray(ious) >= thr))
    prevalence = y_true.mean()
    tp = float((y_true & y_score).sum())
    if y_score.sum() == 0:
        return float(prevalence)
    recall = tp / y_true.sum()
    precision = tp / y_score.sum()
    return float(recall * precision + (1.0 - recall) * prevalence)


@dataclass
class SealAP:
    """Per-class and mean results of the SEAL protocol."""

    classes: list[str]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {AP, AP50, AP25}
    mAP: float = float("nan")
    mAP50: float = float("nan")
    mAP25: float = float("nan")
    num_instances: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "mAP": self.mAP, "mAP50": self.mAP50, "mAP25": self.mAP25,
            "num_instances": self.num_instances, "per_class": self.per_class, "counts": self.counts,
        }


def _nanmean(values) -> float:
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def seal_ap(gt_labels, pred_labels, ious, classes, eval_classes=None,
            thresholds=COCO_THRESHOLDS) -> SealAP:
    """The SEAL protocol over all prompted instances of a benchmark.

    ``gt_labels``/``pred_labels`` are class indices into ``classes`` (a prediction
    may be -1: nothing/empty mask), ``ious`` the IoU of each predicted mask with
    its instance. ``eval_classes`` (indices) restricts the classes that are
    scored; by default all of them.
    """
    gt = np.asarray(gt_labels, dtype=np.int64)
    pred = np.asarray(pred_labels, dtype=np.int64)
    iou = np.asarray(ious, dtype=np.float64)
    eval_idx = list(range(len(classes))) if eval_classes is None else list(eval_classes)
    out = SealAP(classes=list(classes), num_instances=int(gt.size))
    for c in eval_idx:
        name = classes[c]
        ap_thr = [class_ap(gt, pred, iou, c, t) for t in thresholds] if gt.size else [float("nan")]
        out.per_class[name] = {
            "AP": _nanmean(ap_thr) if not np.all(np.isnan(ap_thr)) else float("nan"),
            "AP50": class_ap(gt, pred, iou, c, 0.5) if gt.size else float("nan"),
            "AP25": class_ap(gt, pred, iou, c, 0.25) if gt.size else float("nan"),
        }
        out.counts[name] = int((gt == c).sum())
    out.mAP = _nanmean(v["AP"] for v in out.per_class.values())
    out.mAP50 = _nanmean(v["AP50"] for v in out.per_class.values())
    out.mAP25 = _nanmean(v["AP25"] for v in out.per_class.values())
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (0 when both are empty)."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
