"""What every stage shares: config checking, device transfer, batching."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import default_collate

from seal_ros.train.config import ConfigError, TrainConfig


class Stage:
    name = ""
    export_name = ""
    loss_reduction = "mean"  # "sum": a sum over images (the trainer scales DDP / accumulation to match)
    model_defaults: dict = {}
    data_defaults: dict = {"source": "auto", "path": None, "window_ms": 20.0, "repeat": 1,
                           "limit": None, "flip": False}

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.model_cfg = self._merge("model", self.model_defaults, cfg.model)
        self.data_cfg = self._merge("data", self.data_defaults, cfg.data)

    @staticmethod
    def _merge(section: str, defaults: dict, given: dict) -> dict:
        bad = set(given) - set(defaults)
        if bad:
            raise ConfigError(f"unknown {section} keys: {', '.join(sorted(bad))}; "
                              f"known: {', '.join(sorted(defaults))}")
        out = dict(defaults)
        out.update(given)
        return out

    def collate(self, items):
        return default_collate(items)

    def to_device(self, batch, device):
        if isinstance(batch, torch.Tensor):
            return batch.to(device, non_blocking=True)
        if isinstance(batch, dict):
            return {k: self.to_device(v, device) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.to_device(v, device) for v in batch)
        return batch

    def batch_size(self, batch) -> int:
        return int(batch["index"].shape[0]) if isinstance(batch.get("index"), torch.Tensor) \
            else len(batch["index"])

    def on_train_mode(self, module) -> None:
        """Called after ``model.train()``: put frozen parts back in eval mode."""

    def export_path(self, out_dir, name: str | None = None) -> Path:
        return Path(out_dir) / (name or self.export_name)

    def export(self, module, out_dir, meta: dict, name: str | None = None) -> Path:
        """Write the weights in the layout the loaders read, with ``meta`` (step,
        random_teachers, ...) and the stage's configuration under ``seal_ros``."""
        raise NotImplementedError

    def export_config(self, meta: dict) -> dict:
        return {"format": 1, "stage": self.name, "size": self.model_cfg.get("size"),
                "overrides": dict(self.model_cfg.get("overrides") or {}), **meta}


def write_export(state: dict, path: Path, config: dict) -> Path:
    """``{"model": state, "seal_ros": config}``: the package's loaders unwrap ``model``."""
    from seal_ros.train.runtime import atomic_save

    return atomic_save({"model": {k: v.detach().cpu() for k, v in state.items()}, "seal_ros": config}, path)


def model_image_size(model_cfg: dict) -> int:
    from seal_ros.seal.build import CONFIGS

    if model_cfg["size"] not in CONFIGS:
        raise ConfigError(f"model.size must be one of {sorted(CONFIGS)}, got {model_cfg['size']!r}")
    return int(dict(model_cfg.get("overrides") or {}).get("image_size", CONFIGS[model_cfg["size"]].image_size))


class _Limited:
    def __init__(self, src, n):
        self.src, self.n = src, min(int(n), len(src))
        self.width, self.height = src.width, src.height

    def fingerprint(self):
        fp = getattr(self.src, "fingerprint", None)
        return {"limit": self.n, "source": fp() if callable(fp) else len(self.src)}

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.src[i]


def pair_source(data_cfg: dict):
    from seal_ros.datasets.pairs import open_pairs

    src = open_pairs(data_cfg)
    return _Limited(src, data_cfg["limit"]) if data_cfg.get("limit") else src


def train_pairs(model_cfg: dict, data_cfg: dict, seed: int = 0):
    from seal_ros.datasets.pairs import TrainPairs

    return TrainPairs(pair_source(data_cfg), model_image_size(model_cfg), repeat=int(data_cfg["repeat"]),
                      flip=bool(data_cfg["flip"]), seed=seed)
