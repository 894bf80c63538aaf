"""``seal-ros train {eventsam,seal,e2v} [--config FILE] [--data PATH] [--set key=value ...]``.

Single process: ``seal-ros train seal --config config/train/seal_tiny.yaml``.
The authors' released training set (precomputed MHSG guidance):
``seal-ros train seal --data dataset --set model.eventsam_checkpoint=... ``
(config ``config/train/seal_authors.yaml`` unless ``--config`` is given).
Many GPUs (one machine or a cluster): ``torchrun --nproc_per_node=N -m seal_ros
train seal --config FILE``; the trainer picks DDP up from torchrun's variables.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from seal_ros.cli import CliError

AUTHORS_CONFIG = Path(__file__).resolve().parents[2] / "config" / "train" / "seal_authors.yaml"


def register(sub) -> None:
    p = sub.add_parser("train", help="train EventSAM, the SEAL head or Semantic-E2VID (annotation-free)")
    p.add_argument("stage", choices=("eventsam", "seal", "e2v"))
    p.add_argument("--config", default=None, help="YAML config (see config/train/)")
    p.add_argument("--data", default=None,
                   help="training data: an .aedat4 file, a pair_recorder dataset, or (stage seal) the SEAL "
                        "authors' training layout (a folder with metadata/train.txt and precomputed mhsg/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=10 (repeatable)")
    p.add_argument("--out", default=None, help="output directory (overrides out_dir)")
    p.set_defaults(func=run)


def run(args) -> int:
    from seal_ros.seal.checkpoint import CheckpointError
    from seal_ros.train.config import ConfigError, load_config
    from seal_ros.train.guidance_cache import CacheMismatch
    from seal_ros.train.trainer import Trainer

    config = args.config
    if config is None:
        if args.stage != "seal" or not args.data:
            raise CliError("give --config FILE (see config/train/)")
        config = AUTHORS_CONFIG
    overrides = list(args.overrides)
    if args.data:
        overrides += [f"data.path={json.dumps(str(args.data))}", "data.source=auto"]
    if args.out:
        overrides.append(f"out_dir={json.dumps(str(args.out))}")
    try:
        cfg = load_config(config, stage=args.stage, overrides=overrides)
        result = Trainer(cfg).fit()
    except (ConfigError, FileNotFoundError, ValueError, CacheMismatch, CheckpointError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    if int(os.environ.get("RANK", "0")) == 0:
        losses = result.pop("losses")
        result["first_loss"] = losses[0] if losses else None
        result["last_loss"] = losses[-1] if losses else None
        print(json.dumps(result))
    return 0
