"""Evaluate a prompted segmenter over a benchmark with the SEAL protocol (and COCO AP).

The predictor follows :class:`seal_ros.seal.predictor.SealPredictor`:
``set_vocabulary(names)``, ``set_image(event_image_uint8)``, ``predict(prompts)``
returning, per prompt, an object with ``mask`` (bool, event-image size),
``class_index`` (-1 for none) and ``score`` (SAM IoU x class probability; the
multimask choice is the predictor's). Prompts are built in the model's input
frame (``model_size``, 512 for SEAL) and handed over in sensor pixels.
"""
from __future__ import annotations

import numpy as np

from seal_ros.evaluation.ap import mask_iou, seal_ap
from seal_ros.evaluation.coco import CocoAccumulator
from seal_ros.evaluation.instances import instances_from_semantic
from seal_ros.evaluation.prompts import box_prompt, point_prompt


def make_prompt(mask: np.ndarray, kind: str, model_size: int, pid: int):
    from seal_ros.seal.predictor import PromptSpec

    h, w = mask.shape
    sx, sy = model_size / w, model_size / h
    if kind == "box":
        b = box_prompt(mask, (model_size, model_size)).astype(np.float64)
        b[2], b[3] = max(b[2], b[0] + 1), max(b[3], b[1] + 1)
        return PromptSpec(id=pid, box=(b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy))
    if kind == "points":
        p = point_prompt(mask, (model_size, model_size), 3).astype(np.float64)
        p[:, 0] /= sx
        p[:, 1] /= sy
        return PromptSpec(id=pid, points=p, point_labels=np.ones(len(p), np.int64))
    raise ValueError(f"prompt kind must be box or points, got {kind!r}")


def evaluate(predictor, dataset, benchmark, prompt: str = "box", model_size: int = 512,
             min_area: int = 16, limit: int | None = None, progress: bool = True,
             templates=None) -> dict:
    """Run every ground-truth instance of ``dataset`` through ``predictor``; returns the report dict."""
    predictor.set_vocabulary(list(benchmark.classes), "instance", templates)
    gts, preds, ious = [], [], []
    coco = CocoAccumulator(benchmark.classes)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"eval {benchmark.name}", dynamic_ncols=True)
    images = 0
    for i in it:
        s = dataset[i]
        inst = instances_from_semantic(s.label, benchmark, min_area=min_area)
        if not inst:
            continue
        images += 1
        predictor.set_image(s.event_image, key=("eval", i))
        results = predictor.predict([make_prompt(g.mask, prompt, model_size, k) for k, g in enumerate(inst)])
        img_id = coco.add_image(*s.label.shape)
        for g, r in zip(inst, results):
            mask = np.asarray(r.mask, bool)
            iou = mask_iou(mask, g.mask)
            gts.append(g.label)
            preds.append(int(r.class_index) if mask.any() else -1)
            ious.append(iou)
            coco.add_gt(img_id, g.mask, g.label)
            coco.add_det(img_id, mask, int(r.class_index), float(r.score))
    eval_ids = list(benchmark.instance_ids)
    seal = seal_ap(gts, preds, ious, benchmark.classes, eval_classes=eval_ids)
    return {"benchmark": benchmark.name, "prompt": prompt, "images": images,
            "instances": len(gts), "seal": seal.to_dict(),
            "coco": coco.evaluate(eval_classes=eval_ids),
            "mean_iou": float(np.mean(ious)) if ious else float("nan"),
            "label_accuracy": float(np.mean(np.array(gts) == np.array(preds))) if gts else float("nan")}
