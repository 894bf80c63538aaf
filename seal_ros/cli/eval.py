"""``seal-ros eval seal --benchmark {ddd17,dsec11,dsec19} --data DIR [--models DIR | --checkpoint seal.pt]``.

Writes ``OUT/report.json`` and ``OUT/per_class.png`` and prints the summary.
"""
from __future__ import annotations

import json
from pathlib import Path

from seal_ros.cli import CliError


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate SEAL on DDD17 / DSEC-Semantic (SEAL protocol + COCO AP)")
    p.add_argument("model", choices=("seal",))
    p.add_argument("--benchmark", required=True, help="ddd17, dsec11 or dsec19")
    p.add_argument("--data", required=True, help="dataset root in its published layout")
    p.add_argument("--split", default="test")
    p.add_argument("--models", default=None, help="directory with seal.pt and the CLIP file (see models/)")
    p.add_argument("--checkpoint", default=None,
                   help="a seal.pt: a `seal-ros train seal` export (its size and text encoder come with it) "
                        "or the published layout (with --clip)")
    p.add_argument("--clip", default=None, help="CLIP ViT-L/14@336 weights (default: the path the export records)")
    p.add_argument("--size", default=None,
                   help="size of a bare state dict (vit_b; tiny: random text encoder, report stamped random_teachers)")
    p.add_argument("--prompt", choices=("box", "points"), default="box")
    p.add_argument("--window-ms", type=float, default=50.0)
    p.add_argument("--min-area", type=int, default=16)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="eval_out")
    p.set_defaults(func=run)


def _predictor(args):
    import torch

    from seal_ros.seal.predictor import SealPredictor

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if args.models:
        return SealPredictor.from_model_dir(args.models, device=device), {"random_teachers": False}
    if not args.checkpoint:
        raise CliError("give --models DIR or --checkpoint seal.pt")
    from seal_ros.seal.checkpoint import CheckpointError
    from seal_ros.seal.export import load_seal_export

    try:
        export = load_seal_export(args.checkpoint, device=device, clip_file=args.clip, size=args.size)
    except CheckpointError as exc:
        raise CliError(str(exc)) from exc
    cfg = export.config
    return SealPredictor(export.model, export.text_encoder, device=device), {
        "random_teachers": export.random_teachers, "checkpoint": str(args.checkpoint), "size": cfg["size"],
        "text_encoder": cfg["text_encoder"], "step": cfg.get("step")}


def run(args) -> int:
    from seal_ros.datasets.ddd17 import open_eval_dataset
    from seal_ros.evaluation.benchmarks import get_benchmark
    from seal_ros.evaluation.report import plot_per_class, write_json
    from seal_ros.evaluation.runner import evaluate

    try:
        bench = get_benchmark(args.benchmark)
        dataset = open_eval_dataset(bench, args.data, args.split, args.window_ms)
        predictor, model_info = _predictor(args)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    report = evaluate(predictor, dataset, bench, prompt=args.prompt,
                      model_size=predictor.model.image_size, min_area=args.min_area, limit=args.limit)
    report["model"] = model_info
    report["random_teachers"] = bool(model_info["random_teachers"])
    out = Path(args.out)
    write_json(report, out / "report.json")
    plot_per_class(report, out / "per_class.png")
    s, c = report["seal"], report["coco"]
    print(json.dumps({"benchmark": bench.name, "instances": report["instances"], "mAP": s["mAP"],
                      "mAP50": s["mAP50"], "mAP25": s["mAP25"], "coco_mAP": c["mAP"],
                      "report": str(out / "report.json"), **({"random_teachers": True}
                                                              if report["random_teachers"] else {})}))
    return 0
