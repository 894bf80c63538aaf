"""What the trainer's loop stands on: processes, seeds and RNG states, checkpoint files,
the learning-rate schedule and the metrics log."""
from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every RNG the loop may draw from, as tensors and plain values (weights-only loadable)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    st = {"torch": torch.get_rng_state(), "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                                                    "pos": int(pos), "has_gauss": int(has_gauss),
                                                    "cached": float(cached)},
          "python": _python_state(random.getstate())}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _python_state(s):
    version, internal, gauss = s
    return {"version": version, "internal": list(internal), "gauss": gauss}


def set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"].cpu())
    n = st["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = st["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in st and torch.cuda.is_available() and len(st["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in st["cuda"]])


def atomic_save(obj, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


class DistInfo:
    def __init__(self, settings):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want_cuda = settings.device == "cuda" or (settings.device == "auto" and torch.cuda.is_available())
        if want_cuda and not torch.cuda.is_available():
            raise RuntimeError("train.device is cuda but no GPU is visible")
        self.device = torch.device(f"cuda:{self.local_rank}" if want_cuda else "cpu")
        if want_cuda:
            torch.cuda.set_device(self.device)
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if want_cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            dist.barrier()

    def all_sum(self, value: float) -> float:
        if not self.enabled:
            return float(value)
        t = torch.tensor([float(value)], dtype=torch.float64,
                         device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return float(t)

    def close(self):
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def lr_lambda(settings, total: int, steps_per_epoch: int = 1):
    """Linear warm-up over ``warmup_steps``, then cosine decay to 0 at ``total`` steps, or
    a step decay (``lr_gamma`` every ``lr_step_every`` steps or epochs, shifted by
    ``lr_step_offset``), or constant."""
    warmup = settings.warmup_steps
    kind, gamma = settings.schedule, settings.lr_gamma
    unit = steps_per_epoch if settings.lr_step_unit == "epochs" else 1
    every, offset = settings.lr_step_every * unit, settings.lr_step_offset * unit

    def f(step):
        if warmup and step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        if kind == "step":
            return gamma ** ((step - warmup + offset) // every)
        prog = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, prog)))
    return f


def make_optimizer(params, settings):
    if settings.optimizer == "sgd":  # momentum 0.9: its steps scale with the gradient (Adam's do not)
        return torch.optim.SGD(params, lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay)
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


class MetricsLog:
    """``metrics.jsonl`` + TensorBoard on rank 0. On resume at ``step``, records after it
    (written by the interrupted run past its last checkpoint) are dropped and TensorBoard
    purges events after it, so each step is logged once and the curves stay continuous."""

    def __init__(self, out: Path, stage: str, step: int, stamp: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.path = out / "metrics.jsonl"
        self.stage, self.stamp = stage, dict(stamp)
        kept = []
        if step and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut by the kill
                if int(rec.get("step", 0)) <= step:
                    kept.append(line)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)
        self.file = open(self.path, "a")
        # purge_step: TensorBoard drops earlier files' events from this step on (a fresh
        # run in an old out_dir starts clean too)
        self.writer = SummaryWriter(str(out / "tb"), purge_step=step + 1)

    def log(self, step: int, values: dict, prefix: str = "") -> None:
        rec = {"step": step, **{prefix + k: v for k, v in values.items()}, **self.stamp}
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                self.writer.add_scalar(f"{self.stage}/{prefix}{k}", v, step)
        self.file.write(json.dumps(rec) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
        self.file.close()
