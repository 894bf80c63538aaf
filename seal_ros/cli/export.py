"""``seal-ros export onnx --model MODEL --out DIR``: SEAL as ONNX graphs for ONNX Runtime / TensorRT.

Writes ``backbone.onnx``, ``neck.onnx``, ``decoder_head.onnx`` and ``seal_onnx.json``
(:mod:`seal_ros.seal.onnx.export`), then checks ONNX Runtime against torch on a sample
window and prints the result as one JSON line. ``MODEL``: ``vit_b`` (the published
``seal.pt`` in ``--models``), the path of a ``seal.pt`` (the published layout or a
``seal-ros train seal`` export), or ``tiny`` (a RANDOM toy model, for tests). The node
runs the export with ``backend:=onnx onnx_dir:=DIR``.
"""
from __future__ import annotations

import json
import sys

from seal_ros.cli import CliError


def register(sub) -> None:
    p = sub.add_parser("export", help="export SEAL as ONNX graphs (backbone, neck, decoder + head) for ONNX Runtime "
                                      "and TensorRT")
    p.add_argument("format", choices=("onnx",))
    p.add_argument("--model", default="vit_b", help="vit_b (seal.pt in --models), a seal.pt path, or tiny (random, "
                                                    "tests only)")
    p.add_argument("--models", default=None, help="models directory holding seal.pt (default: $SEAL_ROS_MODELS or "
                                                  "~/.cache/seal_ros/models)")
    p.add_argument("--out", required=True, help="directory to write the graphs and seal_onnx.json into")
    p.add_argument("--height", type=int, default=480, help="event-image height of the traced sample (every size "
                                                           "stays dynamic)")
    p.add_argument("--width", type=int, default=640, help="event-image width of the traced sample")
    p.add_argument("--seed", type=int, default=0, help="seed of --model tiny's random weights")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime vs torch check")
    p.set_defaults(func=run)


def run(args) -> int:
    from seal_ros.deps import require

    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module)  # pip-only: one line naming the pip step
    from seal_ros.seal.onnx.cache import model_for_export
    from seal_ros.seal.onnx.export import export_onnx

    if args.height < 2 or args.width < 2:
        raise CliError("--height and --width must be at least 2")
    try:
        model, cfg = model_for_export(args.model, args.models, args.seed)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    if args.model == "tiny":
        print("model=tiny: RANDOM weights (tests only)", file=sys.stderr)
    manifest = export_onnx(model, args.out, config=cfg, height=args.height, width=args.width,
                           check=not args.no_check, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps({"out": str(args.out), "files": manifest["files"], "export_seconds": manifest["export_seconds"],
                      "check": manifest.get("check")}))
    return 0
