"""YAML training configs: one file per run, four sections.

    stage: eventsam | seal | e2v
    seed: 0
    out_dir: runs/NAME          # checkpoints, exported weights, TensorBoard logs
    model: {...}                # stage-specific (see docs/training.md)
    data: {...}                 # pair source and preprocessing
    train: {...}                # TrainSettings below

Unknown keys in ``train`` are errors; ``model``/``data`` are checked by the stage.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key."""


@dataclass
class TrainSettings:
    steps: int = 1000
    batch_size: int = 2
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    amp: str = "bf16"  # bf16 | none
    num_workers: int = 0
    log_every: int = 10
    ckpt_every: int = 500
    resume: bool = True
    device: str = "auto"  # auto | cpu | cuda
    find_unused_parameters: bool = False
    progress: bool = True


@dataclass
class TrainConfig:
    stage: str
    seed: int = 0
    out_dir: str = "runs/default"
    model: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: TrainSettings = field(default_factory=TrainSettings)

    def to_dict(self) -> dict:
        d = asdict(self)
        return d


STAGES = ("eventsam", "seal", "e2v")


def _set(d: dict, dotted: str, value):
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def config_from_dict(raw: dict, stage: str | None = None) -> TrainConfig:
    raw = dict(raw or {})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    st = stage or raw.get("stage")
    if st not in STAGES:
        raise ConfigError(f"stage must be one of {STAGES}, got {st!r}")
    if raw.get("stage") not in (None, st):
        raise ConfigError(f"config is for stage {raw.get('stage')!r}, not {st!r}")
    tr = dict(raw.get("train") or {})
    tknown = {f.name for f in fields(TrainSettings)}
    bad = set(tr) - tknown
    if bad:
        raise ConfigError(f"unknown train keys: {', '.join(sorted(bad))}")
    types = {f.name: f.type for f in fields(TrainSettings)}
    for k, v in list(tr.items()):
        try:
            if types[k] in ("int", int):
                tr[k] = int(v)
            elif types[k] in ("float", float):
                tr[k] = float(v)
            elif types[k] in ("bool", bool) and not isinstance(v, bool):
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"train.{k}: bad value {v!r}") from None
    settings = TrainSettings(**tr)
    if settings.amp not in ("bf16", "none"):
        raise ConfigError(f"train.amp must be bf16 or none, got {settings.amp!r}")
    if settings.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"train.device must be auto, cpu or cuda, got {settings.device!r}")
    if settings.steps < 1 or settings.batch_size < 1:
        raise ConfigError("train.steps and train.batch_size must be >= 1")
    return TrainConfig(stage=st, seed=int(raw.get("seed", 0)), out_dir=str(raw.get("out_dir", f"runs/{st}")),
                       model=dict(raw.get("model") or {}), data=dict(raw.get("data") or {}),
                       train=settings)


def load_config(path, stage: str | None = None, overrides=()) -> TrainConfig:
    """Read a YAML file; ``overrides`` are ``a.b=value`` strings (values parsed as YAML)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r} is not KEY=VALUE")
        k, v = ov.split("=", 1)
        _set(raw, k.strip(), yaml.safe_load(v))
    return config_from_dict(raw, stage)
