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
    p.add_argument("--checkpoint", default=None, help="a trained seal.pt (with --clip)")
    p.add_argument("--clip", default=None, help="CLIP ViT-L/14@336 weights for --checkpoint")
    p.add_argument("--size", default="vit_b", help="model configuration (vit_b; tiny for smoke tests)")
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
        return SealPredictor.from_model_dir(args.models, device=device)
    if not args.checkpoint:
        raise CliError("give --models DIR or --checkpoint seal.pt (with --clip, or --size tiny)")
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.text import build_clip_text_encoder, build_tiny_text_encoder

    model = build_seal(args.size, checkpoint=args.checkpoint)
    if args.size == "tiny":
        text = build_tiny_text_encoder(model.out_proj.out_features)
    else:
        if not args.clip:
            raise CliError("--checkpoint needs --clip (CLIP ViT-L/14@336 weights)")
        text = build_clip_text_encoder(args.clip, device=device)
    return SealPredictor(model, text, device=device)


def run(args) -> int:
    from seal_ros.datasets.ddd17 import open_eval_dataset
    from seal_ros.evaluation.benchmarks import get_benchmark
    from seal_ros.evaluation.report import plot_per_class, write_json
    from seal_ros.evaluation.runner import evaluate

    try:
        bench = get_benchmark(args.benchmark)
        dataset = open_eval_dataset(bench, args.data, args.split, args.window_ms)
        predictor = _predictor(args)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    report = evaluate(predictor, dataset, bench, prompt=args.prompt,
                      model_size=predictor.model.image_size, min_area=args.min_area, limit=args.limit)
    out = Path(args.out)
    write_json(report, out / "report.json")
    plot_per_class(report, out / "per_class.png")
    s, c = report["seal"], report["coco"]
    print(json.dumps({"benchmark": bench.name, "instances": report["instances"], "mAP": s["mAP"],
                      "mAP50": s["mAP50"], "mAP25": s["mAP25"], "coco_mAP": c["mAP"],
                      "report": str(out / "report.json")}))
    return 0
