"""``seal-ros train {eventsam,seal,e2v} --config FILE [--set key=value ...]``.

Single process: ``seal-ros train seal --config config/train/seal_tiny.yaml``.
Many GPUs (one machine or a cluster): ``torchrun --nproc_per_node=N -m seal_ros.cli
train seal --config FILE``; the trainer picks DDP up from torchrun's variables.
"""
from __future__ import annotations

import json

from seal_ros.cli import CliError


def register(sub) -> None:
    p = sub.add_parser("train", help="train EventSAM, the SEAL head or Semantic-E2VID (annotation-free)")
    p.add_argument("stage", choices=("eventsam", "seal", "e2v"))
    p.add_argument("--config", required=True, help="YAML config (see config/train/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=10 (repeatable)")
    p.add_argument("--out", default=None, help="output directory (overrides out_dir)")
    p.set_defaults(func=run)


def run(args) -> int:
    from seal_ros.train.config import ConfigError, load_config
    from seal_ros.train.trainer import Trainer

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out_dir={args.out}")
    try:
        cfg = load_config(args.config, stage=args.stage, overrides=overrides)
        result = Trainer(cfg).fit()
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    import os
    if int(os.environ.get("RANK", "0")) == 0:
        losses = result.pop("losses")
        result["first_loss"] = losses[0] if losses else None
        result["last_loss"] = losses[-1] if losses else None
        print(json.dumps(result))
    return 0
