"""YAML training configs: one file per run, four sections.

    stage: eventsam | seal | e2v
    seed: 0
    out_dir: runs/NAME          # checkpoints, exported weights, TensorBoard logs
    random_teachers: false      # true: toy/random teachers allowed (tests; every output stamped)
    model: {...}                # stage-specific (see docs/training.md)
    data: {...}                 # pair source and preprocessing
    train: {...}                # TrainSettings below
    val: {...}                  # validation during training (ValSettings below; stage seal)

Unknown keys in ``train`` and ``val`` are errors; ``model``/``data`` are checked by the stage.
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
    epochs: int = 0  # > 0: train this many epochs (steps = epochs x optimiser steps per epoch)
    batch_size: int = 2
    lr: float = 1e-4
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # adamw | adam | sgd (momentum 0.9)
    schedule: str = "cosine"  # cosine | step | constant (after warmup_steps of linear warm-up)
    lr_gamma: float = 0.9  # step: lr = lr0 * lr_gamma ** floor((t + lr_step_offset) / lr_step_every)
    lr_step_every: int = 1000
    lr_step_offset: int = 0
    lr_step_unit: str = "steps"  # steps | epochs (t, lr_step_every, lr_step_offset counted in epochs)
    warmup_steps: int = 0
    accum_steps: int = 1  # micro-batches per optimiser step (global batch = batch_size * accum * ranks)
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
class ValSettings:
    """Validation with the SEAL-protocol AP on a labelled benchmark (stage seal)."""
    every: int = 0  # steps between validations (0: none)
    benchmark: str = ""  # ddd17 | dsec11 | dsec19
    data: str = ""  # dataset root in its published layout
    split: str = "test"
    limit: int = 0  # first N samples (0: all)
    prompt: str = "box"
    min_area: int = 16
    window_ms: float = 50.0


@dataclass
class TrainConfig:
    stage: str
    seed: int = 0
    out_dir: str = "runs/default"
    random_teachers: bool = False
    model: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: TrainSettings = field(default_factory=TrainSettings)
    val: ValSettings = field(default_factory=ValSettings)

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
    settings = _typed("train", TrainSettings, raw.get("train"))
    for key, allowed in (("amp", ("bf16", "none")), ("device", ("auto", "cpu", "cuda")),
                         ("optimizer", ("adamw", "adam", "sgd")), ("schedule", ("cosine", "step", "constant")),
                         ("lr_step_unit", ("steps", "epochs"))):
        if getattr(settings, key) not in allowed:
            raise ConfigError(f"train.{key} must be one of {', '.join(allowed)}, got {getattr(settings, key)!r}")
    if settings.steps < 1 or settings.batch_size < 1 or settings.accum_steps < 1 or settings.lr_step_every < 1 \
            or settings.epochs < 0 or settings.lr_step_offset < 0:
        raise ConfigError("train.steps, batch_size, accum_steps and lr_step_every must be >= 1, "
                          "train.epochs and lr_step_offset >= 0")
    val = _typed("val", ValSettings, raw.get("val"))
    if val.every < 0 or (val.every and not (val.benchmark and val.data)):
        raise ConfigError("val.every > 0 needs val.benchmark and val.data")
    rt = raw.get("random_teachers", False)
    if not isinstance(rt, bool):
        raise ConfigError(f"random_teachers must be true or false, got {rt!r}")
    return TrainConfig(stage=st, seed=int(raw.get("seed", 0)), out_dir=str(raw.get("out_dir", f"runs/{st}")),
                       random_teachers=rt, model=dict(raw.get("model") or {}), data=dict(raw.get("data") or {}),
                       train=settings, val=val)


def _typed(section: str, cls, given):
    d = dict(given or {})
    known = {f.name: f.type for f in fields(cls)}
    bad = set(d) - set(known)
    if bad:
        raise ConfigError(f"unknown {section} keys: {', '.join(sorted(bad))}")
    for k, v in list(d.items()):
        try:
            if known[k] in ("int", int):
                if isinstance(v, bool) or float(v) != int(v):
                    raise ValueError
                d[k] = int(v)
            elif known[k] in ("float", float):
                d[k] = float(v)
            elif known[k] in ("bool", bool) and not isinstance(v, bool):
                raise ValueError
            elif known[k] in ("str", str):
                d[k] = "" if v is None else str(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{section}.{k}: bad value {v!r}") from None
    return cls(**d)


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
