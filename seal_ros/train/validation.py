"""Validation during training: the ONE adapter between the trainer and ``seal_ros.evaluation``.

Contract: :func:`seal_validation` takes a SEAL model (any size, in the state
the trainer holds it), the text encoder it is trained against, the ``val``
settings and a device, and returns a flat dict of floats with at least
``mAP`` (SEAL-protocol AP averaged over IoU 0.50:0.05:0.95 and over the
benchmark's instance classes, the authors' protocol; the trainer selects
``best.pt`` by it), ``mAP50``, ``mAP25``, ``coco_mAP`` and ``instances``.
It must not change the model's weights; the trainer puts the model back in
training mode afterwards. Datasets are opened once per settings.
"""
from __future__ import annotations

_DATASETS: dict = {}


def _dataset(val):
    from seal_ros.datasets.ddd17 import open_eval_dataset
    from seal_ros.evaluation.benchmarks import get_benchmark

    key = (val.benchmark, val.data, val.split, val.window_ms)
    if key not in _DATASETS:
        bench = get_benchmark(val.benchmark)
        _DATASETS[key] = (bench, open_eval_dataset(bench, val.data, val.split, val.window_ms))
    return _DATASETS[key]


def seal_validation(model, text_encoder, val, device) -> dict:
    from seal_ros.evaluation.runner import evaluate
    from seal_ros.seal.predictor import SealPredictor

    bench, ds = _dataset(val)
    predictor = SealPredictor(model, text_encoder, device=device)
    report = evaluate(predictor, ds, bench, prompt=val.prompt, model_size=model.image_size,
                      min_area=val.min_area, limit=val.limit or None, progress=False)
    s, c = report["seal"], report["coco"]
    nan = float("nan")
    as_float = lambda v: nan if v is None else float(v)  # noqa: E731
    return {"mAP": as_float(s["mAP"]), "mAP50": as_float(s["mAP50"]), "mAP25": as_float(s["mAP25"]),
            "coco_mAP": as_float(c["mAP"]), "instances": float(report["instances"])}
