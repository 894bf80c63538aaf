"""Validation during training: the ONE adapter between the trainer and ``seal_ros.evaluation``.

Contract: :func:`seal_validation` takes a SEAL model (any size, in the state
the trainer holds it), the text encoder it is trained against, the ``val``
settings and a device, and returns a flat dict of floats with at least
``mAP`` (the authors' AP: ``compute_metrics_per_class``'s ``all_AP``, averaged
over IoU 0.50:0.05:0.95 and over the benchmark's instance classes; the trainer
selects ``best.pt`` by it), ``mAP50``, ``mAP25``, ``coco_mAP`` (seal_ros's
addition) and ``instances``. It runs
:func:`seal_ros.evaluation.runner.evaluate_seal`, the same protocol as
``seal-ros eval seal``: on the authors' released layout when ``val.data`` is
one (their ``voxel_image`` PNGs and ``instance_gt``), else on a raw
DSEC-Semantic / DDD17 root (``--events raw``: instances as connected
components). The class rows are the training text encoder's embeddings of the
benchmark's class names (the authors validate with their classifier file; a
model in training has its own text space). It must not change the model's
weights; the trainer puts the model back in training mode afterwards.
Datasets are opened once per settings.
"""
from __future__ import annotations

_DATASETS: dict = {}


def _items(val):
    """(benchmark, a re-iterable list of SealItems) for ``val``, opened once."""
    from pathlib import Path

    from seal_ros.evaluation.benchmarks import get_benchmark

    key = (val.benchmark, val.data, val.split, val.window_ms, val.min_area)
    if key not in _DATASETS:
        bench = get_benchmark(val.benchmark)
        if any((Path(val.data) / d / bench.eval_list).is_file() for d in ("metadata", "dataset/metadata")):
            from seal_ros.datasets.seal_layout import SealBenchmarkDataset

            items = SealBenchmarkDataset(val.data, bench.eval_list, bench.instance_ids, bench.gt_dir)
        else:
            from seal_ros.datasets.ddd17 import open_eval_dataset
            from seal_ros.evaluation.instances import items_from_semantic

            ds = open_eval_dataset(bench, val.data, val.split, val.window_ms)
            items = items_from_semantic(ds, bench, min_area=val.min_area)
        _DATASETS[key] = (bench, list(items))
    return _DATASETS[key]


def seal_validation(model, text_encoder, val, device) -> dict:
    from seal_ros.evaluation.runner import evaluate_seal
    from seal_ros.seal.predictor import SealPredictor

    bench, items = _items(val)
    predictor = SealPredictor(model, text_encoder, device=device)
    rep = evaluate_seal(predictor, items, bench, prompt="point" if val.prompt in ("point", "points") else "box",
                        limit=val.limit or None, progress=False)
    a, coco = rep.authors, rep.seal_ros.get("coco_mask_ap", {})
    nan = float("nan")
    as_float = lambda v: nan if v is None else float(v)  # noqa: E731
    return {"mAP": as_float(a.get("all_AP")), "mAP50": as_float(a.get("all_AP50")),
            "mAP25": as_float(a.get("all_AP25")), "coco_mAP": as_float(coco.get("mAP")),
            "instances": float(rep.instances)}
