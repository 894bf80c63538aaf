"""Evaluate a prompted segmenter with the authors' SEAL protocol, seal_ros's additions beside it.

The protocol (0nandon/SEAL ``event_encoder/test_seal.py``), per image: the
ground-truth instances are resized to the model input size S (512) with
nearest sampling; per instance one prompt (:mod:`.prompts`: its box, or 3
points) in that S x S frame; the predictor keeps one of SAM's masks and labels
it against the benchmark's *instance* classes only (the classifier rows
``classifier[INSTANCE_ID]``); a prompt whose three candidate masks are all
empty is skipped (neither prediction nor ground truth counted); the IoU is
taken at S x S; AP is :func:`.ap.authors_ap`.

seal_ros's additions, reported under ``seal_ros`` and never instead:
the AP without classes that have no ground truth, COCO mask AP ranked by the
scores (SAM IoU x class probability), IoU and AP at the event image's own
resolution (the mask the node publishes), mean IoU and label accuracy.

The predictor is any object with ``model.image_size``, ``set_classifier(names,
rows)`` / ``set_vocabulary(names, granularity, templates)``, ``set_image(image,
key)`` and ``predict(prompts, frame="model", model_masks=True)`` returning
results with ``mask``, ``model_mask``, ``class_index``, ``score``, ``num_kept``
(see :class:`seal_ros.seal.predictor.SealPredictor`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from seal_ros.datasets.seal_layout import SealItem
from seal_ros.evaluation.ap import ap_excluding_absent_classes, authors_ap, mask_iou
from seal_ros.evaluation.benchmarks import Benchmark
from seal_ros.evaluation.coco import CocoAccumulator
from seal_ros.evaluation.prompts import POINT_SAMPLES, box_prompt, point_prompt, resize_nearest
from seal_ros.seal.prompt import Prompt

__all__ = ["SealReport", "evaluate_seal", "PROMPT_KINDS"]

PROMPT_KINDS = ("box", "point")


@dataclass
class SealReport:
    benchmark: str
    prompt: str
    point_sample: str
    classifier: str  # where the class rows came from
    images: int = 0
    instances: int = 0  # ground-truth instances prompted
    scored: int = 0  # instances the authors' protocol scores
    skipped_all_empty: int = 0  # SAM returned three empty masks: skipped, as the authors do
    vanished: int = 0  # instances empty at the model size: scored as misses (see docs)
    authors: dict = field(default_factory=dict)  # compute_metrics_per_class, the authors' keys
    seal_ros: dict = field(default_factory=dict)  # additions, labelled
    records: list = field(default_factory=list)  # one dict per prompted instance

    @property
    def mAP(self) -> float:
        return self.authors.get("all_AP", float("nan"))

    def to_dict(self) -> dict:
        return {"benchmark": self.benchmark, "prompt": self.prompt, "point_sample": self.point_sample,
                "classifier": self.classifier, "images": self.images, "instances": self.instances,
                "scored": self.scored, "skipped_all_empty": self.skipped_all_empty, "vanished": self.vanished,
                "protocol": "authors: 0nandon/SEAL test_seal.py compute_metrics_per_class",
                "authors": self.authors, "seal_ros": self.seal_ros, "records": self.records}


def _prompt(mask: np.ndarray, kind: str, point_sample: str, rng, pid: int) -> Optional[Prompt]:
    if kind == "box":
        b = box_prompt(mask)
        return None if b is None else Prompt(pid, box=tuple(float(v) for v in b))
    pts = point_prompt(mask, point_sample, rng)
    return None if pts is None else Prompt(pid, points=pts[0], point_labels=pts[1])


def _to_size(mask: np.ndarray, shape) -> np.ndarray:
    return mask if mask.shape == tuple(shape) else resize_nearest(mask[None], shape)[0]


def evaluate_seal(predictor, items: Iterable[SealItem], benchmark: Benchmark, classifier=None,
                  prompt: str = "box", point_sample: str = "furthest", seed: int = 0, templates=None,
                  limit: Optional[int] = None, progress: bool = False,
                  classifier_source: str = "") -> SealReport:
    """The authors' protocol over ``items``; returns a :class:`SealReport`.

    ``classifier``: (len(instance classes), D) rows used as given (the authors'
    ``classifier/*.pt`` indexed by the instance ids); None: the instance class
    names encoded by the predictor's text encoder (seal_ros's vocabulary, noted in
    the report). ``seed`` seeds ``point_sample="random"``."""
    if prompt not in PROMPT_KINDS:
        raise ValueError(f"prompt must be one of {PROMPT_KINDS}, got {prompt!r}")
    if point_sample not in POINT_SAMPLES:
        raise ValueError(f"point sampling must be one of {POINT_SAMPLES}, got {point_sample!r}")
    names = benchmark.instance_classes
    if classifier is not None:
        predictor.set_classifier(names, classifier)
    else:
        predictor.set_vocabulary(names, "instance", templates)
        classifier_source = classifier_source or "instance class names encoded by the text encoder (seal_ros)"
    size = int(predictor.model.image_size)
    ids = np.asarray(benchmark.instance_ids)
    rng = np.random.RandomState(seed)
    rep = SealReport(benchmark.name, prompt, point_sample if prompt == "point" else "", classifier_source)
    gt, pred, iou, iou_sensor = [], [], [], []
    coco = CocoAccumulator(benchmark.classes)
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc=f"eval {benchmark.name}", dynamic_ncols=True, total=limit)
    for item in items:
        if limit is not None and rep.images >= limit:
            break
        rep.images += 1
        gt512 = resize_nearest(item.masks, size)
        prompts = [_prompt(m, prompt, point_sample, rng, k) for k, m in enumerate(gt512)]
        predictor.set_image(item.event_image, key=None)  # no cache: the model may change between calls
        asked = [p for p in prompts if p is not None]
        results = dict(zip((p.id for p in asked), predictor.predict(asked, frame="model", model_masks=True)))
        img_id = coco.add_image(size, size)
        h, w = item.event_image.shape[:2]
        for k, label in enumerate(int(v) for v in item.labels):
            rep.instances += 1
            coco.add_gt(img_id, gt512[k], label)
            r = results.get(k)
            rec = {"image": item.name, "instance": k, "gt": label, "pred": -1, "iou": 0.0,
                   "iou_event_image": 0.0, "score": 0.0}
            rep.records.append(rec)
            if r is None:  # nothing left of the instance at the model size: a miss
                rep.vanished += 1
                rec["status"] = "vanished"
            elif r.num_kept == 0:  # the authors' `if pred_idx == -1: continue`
                rep.skipped_all_empty += 1
                rec["status"] = "skipped_all_empty"
                continue
            else:
                rec.update(status="scored", pred=int(ids[r.class_index]),  # the authors' PRED_TO_ID
                           iou=mask_iou(r.model_mask, gt512[k]), score=float(r.score),
                           iou_event_image=mask_iou(r.mask, _to_size(item.masks[k], (h, w))))
                coco.add_det(img_id, r.model_mask, rec["pred"], rec["score"])
            gt.append(label)
            pred.append(rec["pred"])
            iou.append(rec["iou"])
            iou_sensor.append(rec["iou_event_image"])
    rep.scored = len(gt)
    rep.authors = authors_ap(gt, pred, iou, benchmark.instance_ids, benchmark.classes)
    rep.seal_ros = {
        "about": "seal_ros's additions beside the authors' protocol (not in the paper)",
        "ap_excluding_classes_without_gt": ap_excluding_absent_classes(
            rep.authors, gt, benchmark.instance_ids, benchmark.classes),
        "coco_mask_ap": coco.evaluate(eval_classes=benchmark.instance_ids),
        "ap_at_event_image_resolution": authors_ap(gt, pred, iou_sensor, benchmark.instance_ids,
                                                   benchmark.classes),
        "mean_iou_model_size": float(np.mean(iou)) if iou else float("nan"),
        "mean_iou_event_image_resolution": float(np.mean(iou_sensor)) if iou_sensor else float("nan"),
        "label_accuracy": float(np.mean(np.array(gt) == np.array(pred))) if gt else float("nan"),
        "instances_per_class": {benchmark.classes[c]: int(np.sum(np.array(gt, np.int64) == c))
                                for c in benchmark.instance_ids},
    }
    return rep
