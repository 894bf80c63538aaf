"""``seal-ros eval seal --benchmark {ddd17,dsec11,dsec19,dsec_part} --data ROOT``: the paper's evaluation.

Default: the authors' protocol on the authors' released benchmark layout
(``ROOT`` = their ``dataset/`` folder, see :mod:`seal_ros.datasets.seal_layout`),
with the benchmark's classifier file from the models directory (manifest entry
``seal_classifier_<benchmark>``) or ``--classifier FILE``. ``--events raw`` is
seal_ros's addition: ``ROOT`` is then the raw DSEC-Semantic / DDD17 dataset,
the event image is computed from the raw events and instances are connected
components (reported as such). Writes ``OUT/report.json`` and
``OUT/per_class.png``, prints the authors' table with seal_ros's additions
under it, and a JSON summary line.
"""
from __future__ import annotations

import json
from pathlib import Path

from seal_ros.cli import CliError


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate SEAL on the paper's benchmarks (the authors' protocol; "
                                    "seal_ros's additions beside it)")
    p.add_argument("model", choices=("seal",))
    p.add_argument("--benchmark", required=True, help="ddd17, dsec11, dsec19 (dsec_part once released)")
    p.add_argument("--data", required=True, help="the authors' dataset/ folder (or the folder holding it); "
                                                 "with --events raw: the raw DSEC-Semantic / DDD17 root")
    p.add_argument("--events", choices=("png", "raw"), default="png",
                   help="png: the authors' voxel_image PNGs (default); raw: seal_ros's event image from the "
                        "raw events, instances as connected components (an addition, not the paper's numbers)")
    p.add_argument("--models", default=None, help="directory with seal.pt, the classifier files "
                                                  "(and the CLIP file for --text-classifier)")
    p.add_argument("--checkpoint", default=None,
                   help="a seal.pt to evaluate instead of MODELS/seal.pt: the published layout, or a "
                        "`seal-ros train seal` export (its size and text encoder come with it)")
    p.add_argument("--size", default=None,
                   help="size of a bare state dict (default vit_b; tiny: random text encoder, report stamped "
                        "random_teachers)")
    p.add_argument("--classifier", default=None, help="the authors' classifier file for the benchmark "
                                                      "(default: its manifest entry in --models)")
    p.add_argument("--text-classifier", action="store_true",
                   help="seal_ros: encode the instance class names with CLIP instead of a classifier file")
    p.add_argument("--clip", default=None, help="CLIP ViT-L/14@336 weights for --text-classifier (default: the "
                                                 "path an export records, else the CLIP file in --models)")
    p.add_argument("--prompt", choices=("box", "point"), default="box")
    p.add_argument("--point-sample", choices=("furthest", "random"), default="furthest",
                   help="points of --prompt point: furthest (the paper's) or random")
    p.add_argument("--seed", type=int, default=0, help="seed of --point-sample random")
    p.add_argument("--split", default="test", help="split of --events raw")
    p.add_argument("--window-ms", type=float, default=50.0, help="event window of --events raw")
    p.add_argument("--min-area", type=int, default=16, help="smallest connected component of --events raw")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="eval_out")
    p.set_defaults(func=run)


def _predictor(args, device: str):
    """(predictor, what was loaded): the published layout or a training export, with the text encoder the
    model was trained against when --text-classifier asks for one (a classifier file needs none)."""
    from seal_ros.seal.export import load_seal_export
    from seal_ros.seal.predictor import SealPredictor
    from seal_ros.seal.weights import SEAL_FILE, MissingWeights

    ckpt = args.checkpoint
    if ckpt is None:
        if not args.models:
            raise CliError("give --models DIR (with seal.pt) or --checkpoint seal.pt")
        ckpt = Path(args.models) / SEAL_FILE
        if not ckpt.is_file():
            raise MissingWeights([SEAL_FILE], args.models)
    export = load_seal_export(ckpt, device=device, clip_file=args.clip, models_dir=args.models, size=args.size,
                              text=args.text_classifier)
    cfg = export.config
    info = {"checkpoint": str(ckpt), "size": cfg["size"], "text_encoder": cfg["text_encoder"],
            "step": cfg.get("step"), "random_teachers": export.random_teachers}
    return SealPredictor(export.model, export.text_encoder, device=device), info


def _classifier(args, bench):
    """(rows or None, where they came from)."""
    from seal_ros.evaluation.classifier import classifier_file, load_classifier

    if args.text_classifier:
        return None, ""
    path = Path(args.classifier) if args.classifier else \
        (classifier_file(bench, args.models) if args.models else None)
    if path is None:
        raise CliError(f"give --classifier FILE (the authors' classifier/{bench.title.replace('-', '_')}.pt) "
                       f"or --models DIR holding it, or --text-classifier")
    if not path.is_file():
        raise CliError(f"classifier {path} not found: `seal-ros models fetch --name {bench.classifier} "
                       f"--dir DIR`, or --classifier FILE, or --text-classifier")
    return load_classifier(path, bench), f"{path} (rows {list(bench.instance_ids)}, as given)"


def _items(args, bench):
    if args.events == "raw":
        from seal_ros.datasets.ddd17 import open_eval_dataset
        from seal_ros.evaluation.instances import items_from_semantic

        if not bench.raw_dataset:
            raise CliError(f"--events raw: seal_ros has no raw reader for {bench.name}")
        ds = open_eval_dataset(bench, args.data, args.split, args.window_ms)
        return items_from_semantic(ds, bench, min_area=args.min_area)
    from seal_ros.datasets.seal_layout import SealBenchmarkDataset

    return SealBenchmarkDataset(args.data, bench.eval_list, bench.instance_ids, bench.gt_dir)


def run(args) -> int:
    from seal_ros.evaluation.benchmarks import get_benchmark
    from seal_ros.evaluation.report import format_table, plot_per_class, write_json
    from seal_ros.evaluation.runner import evaluate_seal
    from seal_ros.seal.checkpoint import CheckpointError
    from seal_ros.seal.weights import MissingWeights
    from seal_ros.segment.loading import resolve_device

    try:
        bench = get_benchmark(args.benchmark)
        if not bench.released:
            raise CliError(f"{bench.title}: the authors have not released its data and loader yet "
                           f"({bench.eval_list}, {bench.gt_dir}/)")
        items = _items(args, bench)
        rows, source = _classifier(args, bench)
        predictor, model_info = _predictor(args, resolve_device(args.device))
        report = evaluate_seal(predictor, items, bench, classifier=rows, prompt=args.prompt,
                               point_sample=args.point_sample, seed=args.seed, limit=args.limit,
                               progress=True, classifier_source=source)
    except (MissingWeights, CheckpointError) as exc:
        raise CliError(str(exc)) from exc
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    out = Path(args.out)
    rep = report.to_dict()
    rep["event_input"] = ("seal_ros: event image from the raw events, instances = connected components "
                          "(not the paper's protocol)" if args.events == "raw" else
                          "the authors' voxel_image PNGs")
    rep["paper"] = bench.paper
    rep["model"] = model_info
    rep["random_teachers"] = model_info["random_teachers"]  # a toy model trained against random teachers
    rep["images_without_instances"] = getattr(items, "without_instances", 0)  # left out, as the authors cannot
    write_json(rep, out / "report.json")
    plot_per_class(rep, out / "per_class.png")
    print(format_table(rep))
    if bench.paper:
        print("the paper reports: " + ", ".join(f"{k} {v}" for k, v in bench.paper.items()))
    a = rep["authors"]
    print(json.dumps({"benchmark": bench.name, "prompt": args.prompt, "AP": a["all_AP"], "AP50": a["all_AP50"],
                      "AP25": a["all_AP25"], "scored": rep["scored"], "report": str(out / "report.json"),
                      **({"random_teachers": True} if rep["random_teachers"] else {})}))
    return 0
