"""Average precision of prompted open-vocabulary instance segmentation.

The authors' protocol (0nandon/SEAL ``event_encoder/test_seal.py``,
``compute_metrics_per_class`` / ``evaluate_class_for_iou`` / ``compute_iou``),
reproduced value for value (``test/test_seal_golden.py``). Every scored prompt
gives one (ground-truth label, predicted label, IoU). Per class ``c`` and IoU
threshold ``thr``::

    y_true  = (gt_label == c)
    y_score = 1 if pred_label == c and (gt_label != c or iou >= thr) else 0
    AP_c    = sklearn.metrics.average_precision_score(y_true, y_score)

- thresholds: exactly ``numpy.arange(0.5, 1.0, 0.05)`` (0.6000000000000001, ...),
  not rounded: an IoU exactly on a threshold counts as the authors' code counts it;
- ``AP`` averages those ten, ``AP50``/``AP25`` use 0.5 and 0.25;
- a class with no ground-truth instance: scikit-learn's value (0.0, with a
  warning) enters the class mean, as in the authors' numbers;
- IoU: ``intersection / union`` (0 when both are empty), computed by the caller
  at the model input size (512 x 512) against the nearest-resized ground truth.

Because the scores are binary, AP has a floor: with recall ``r`` and precision
``p`` at score 1 and prevalence ``pi``, scikit-learn's step-wise AP is
``r * p + (1 - r) * pi`` (see :func:`binary_ap_closed_form`).

seal_ros's addition, reported beside and labelled, never instead:
:func:`ap_excluding_absent_classes` (the same per-class values, the mean over
the classes that have ground truth).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import average_precision_score

__all__ = ["THRESHOLDS", "mask_iou", "class_ap", "binary_ap_closed_form", "authors_ap",
           "ap_excluding_absent_classes", "MEAN_KEYS"]

THRESHOLDS = np.arange(0.5, 1.0, 0.05)  # as the authors': floating-point values kept
MEAN_KEYS = (("AP", "all_AP"), ("AP50", "all_AP50"), ("AP25", "all_AP25"))


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """The authors' ``compute_iou``: intersection / union, 0.0 when the union is empty."""
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    union = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / union) if union > 0 else 0.0


def _arrays(gt_labels, pred_labels, ious):
    gt = np.asarray(gt_labels, dtype=np.int64)
    pred = np.asarray(pred_labels, dtype=np.int64)
    iou = np.asarray(ious, dtype=np.float64)
    if not (gt.shape == pred.shape == iou.shape) or gt.ndim != 1:
        raise ValueError(f"shapes differ: gt {gt.shape}, pred {pred.shape}, iou {iou.shape}")
    return gt, pred, iou


def class_ap(gt_labels, pred_labels, ious, cls: int, thr: float) -> float:
    """The authors' ``evaluate_class_for_iou``: AP of class ``cls`` at IoU ``thr``
    (NaN only when nothing was scored)."""
    gt, pred, iou = _arrays(gt_labels, pred_labels, ious)
    if gt.size == 0:
        return float("nan")
    y_true = (gt == cls).astype(np.int64)
    y_score = ((pred == cls) & ((gt != cls) | (iou >= thr))).astype(np.float64)
    with warnings.catch_warnings():
        # a class with no instance: scikit-learn warns and gives 0.0, which the authors average in
        warnings.filterwarnings("ignore", message="No positive class found")
        return float(average_precision_score(y_true, y_score))


def binary_ap_closed_form(gt_labels, pred_labels, ious, cls: int, thr: float) -> float:
    """The same AP written out for binary scores: ``r * p + (1 - r) * prevalence``
    (NaN for a class with no ground truth, where scikit-learn gives 0)."""
    gt, pred, iou = _arrays(gt_labels, pred_labels, ious)
    y_true = gt == cls
    if not y_true.any():
        return float("nan")
    y_score = (pred == cls) & ((gt != cls) | (iou >= thr))
    prevalence = y_true.mean()
    if y_score.sum() == 0:
        return float(prevalence)
    tp = float((y_true & y_score).sum())
    recall, precision = tp / y_true.sum(), tp / y_score.sum()
    return float(recall * precision + (1.0 - recall) * prevalence)


def _mean(values) -> float:
    vals = [v for v in values if not np.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def authors_ap(gt_labels, pred_labels, ious, class_ids, class_names) -> dict:
    """The authors' ``compute_metrics_per_class``: ``{name: {AP, AP50, AP25}}`` for each id
    in ``class_ids`` (``class_names[id]``), plus ``all_AP``, ``all_AP50``, ``all_AP25``.

    Labels are dataset class ids (the authors' ``PRED_TO_ID`` already applied)."""
    gt, pred, iou = _arrays(gt_labels, pred_labels, ious)
    out: dict = {}
    for c in class_ids:
        aps = [class_ap(gt, pred, iou, c, t) for t in THRESHOLDS]
        out[class_names[c]] = {"AP50": class_ap(gt, pred, iou, c, 0.5),
                               "AP25": class_ap(gt, pred, iou, c, 0.25),
                               "AP": float(np.mean(aps))}
    per_class = [out[class_names[c]] for c in class_ids]
    for key, mean_key in MEAN_KEYS:
        out[mean_key] = _mean(v[key] for v in per_class)
    return out


def ap_excluding_absent_classes(authors: dict, gt_labels, class_ids, class_names) -> dict:
    """seal_ros's addition: the authors' per-class values, NaN for a class with no
    ground-truth instance, and the means over the classes that have one."""
    gt = np.asarray(gt_labels, dtype=np.int64)
    out: dict = {}
    for c in class_ids:
        name = class_names[c]
        present = bool((gt == c).any())
        out[name] = {k: (authors[name][k] if present else float("nan")) for k in ("AP50", "AP25", "AP")}
    for key, mean_key in MEAN_KEYS:
        out[mean_key] = _mean(out[class_names[c]][key] for c in class_ids)
    return out
