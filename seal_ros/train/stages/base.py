"""What every stage shares: config checking, device transfer, batching."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import default_collate

from seal_ros.train.config import ConfigError, TrainConfig


class Stage:
    name = ""
    export_name = ""
    model_defaults: dict = {}
    data_defaults: dict = {"source": "recorder", "path": None, "window_ms": 20.0, "repeat": 1,
                           "limit": None}

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

    def export_path(self, out_dir) -> Path:
        return Path(out_dir) / self.export_name

    def export(self, module, out_dir) -> Path:
        raise NotImplementedError


def model_image_size(model_cfg: dict) -> int:
    from seal_ros.seal.build import CONFIGS

    if model_cfg["size"] not in CONFIGS:
        raise ConfigError(f"model.size must be one of {sorted(CONFIGS)}, got {model_cfg['size']!r}")
    return int(dict(model_cfg.get("overrides") or {}).get("image_size", CONFIGS[model_cfg["size"]].image_size))


class _Limited:
    def __init__(self, src, n):
        self.src, self.n = src, min(int(n), len(src))
        self.width, self.height = src.width, src.height

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


def train_pairs(model_cfg: dict, data_cfg: dict):
    from seal_ros.datasets.pairs import TrainPairs

    return TrainPairs(pair_source(data_cfg), model_image_size(model_cfg), repeat=int(data_cfg["repeat"]))
