"""One plain-PyTorch trainer for every stage.

- DistributedDataParallel when started by ``torchrun`` (``WORLD_SIZE`` > 1):
  nccl on GPUs, gloo on the CPU; one process per GPU, the same command on
  one machine or many.
- bf16 autocast (``train.amp: bf16``), gradient clipping, AdamW with linear
  warm-up and cosine decay.
- Seeded (model init identical on every rank, data order per epoch).
- Resumable: ``OUT/checkpoints/last.pt`` holds model, optimiser, scheduler,
  step and RNG states; a run with ``train.resume: true`` continues from it.
  Beside it the stage exports the weights in the layout the nodes load.
- Logs: TensorBoard event files in ``OUT/tb`` and ``OUT/metrics.jsonl``;
  a tqdm bar on rank 0.

A stage (see :mod:`seal_ros.train.stages`) provides ``build_module(device)``
(an ``nn.Module`` whose ``forward(batch)`` returns ``(loss, logs)``; only
parameters with ``requires_grad`` train), ``build_dataset()``, ``collate``,
``to_device`` and ``export(module, out_dir)``.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from seal_ros.train.config import TrainConfig


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


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

    def close(self):
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _lr_lambda(warmup: int, total: int):
    def f(step):
        if warmup and step < warmup:
            return (step + 1) / warmup
        prog = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, prog)))
    return f


class Trainer:
    def __init__(self, cfg: TrainConfig, stage=None):
        from seal_ros.train.stages import make_stage

        self.cfg = cfg
        self.stage = stage if stage is not None else make_stage(cfg)
        self.out = Path(cfg.out_dir)
        self.ckpt_path = self.out / "checkpoints" / "last.pt"

    def fit(self) -> dict:
        cfg, st = self.cfg, self.cfg.train
        info = DistInfo(st)
        try:
            return self._fit(info)
        finally:
            info.close()

    def _fit(self, info: DistInfo) -> dict:
        cfg, st = self.cfg, self.cfg.train
        seed_everything(cfg.seed)  # identical initialisation on every rank
        module = self.stage.build_module(info.device)
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("the stage's module has no trainable parameters")
        opt = torch.optim.AdamW(params, lr=st.lr, weight_decay=st.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(st.warmup_steps, st.steps))
        step, epoch = 0, 0
        if st.resume and self.ckpt_path.is_file():
            state = torch.load(self.ckpt_path, map_location=info.device, weights_only=False)
            try:
                module.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
            except (RuntimeError, ValueError, KeyError) as exc:
                from seal_ros.train.config import ConfigError
                raise ConfigError(f"{self.ckpt_path} was written by a different model/config; use "
                                  f"another out_dir or train.resume=false ({str(exc).splitlines()[0][:160]})") from exc
            sched.load_state_dict(state["scheduler"])
            step, epoch = int(state["step"]), int(state["epoch"])
        seed_everything(cfg.seed + 1000 * info.rank + step)

        dataset = self.stage.build_dataset()
        if len(dataset) == 0:
            raise RuntimeError("the training dataset is empty")
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = (DistributedSampler(dataset, num_replicas=info.world, rank=info.rank, shuffle=True,
                                      seed=cfg.seed) if info.enabled
                   else RandomSampler(dataset, generator=gen))
        loader = DataLoader(dataset, batch_size=st.batch_size, sampler=sampler,
                            num_workers=st.num_workers, collate_fn=self.stage.collate,
                            drop_last=False, persistent_workers=st.num_workers > 0)
        model = module
        if info.enabled:
            model = DistributedDataParallel(
                module, device_ids=[info.device.index] if info.device.type == "cuda" else None,
                find_unused_parameters=st.find_unused_parameters)
        writer = None
        metrics_file = None
        if info.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(self.out / "tb"), purge_step=step if step else None)
            metrics_file = open(self.out / "metrics.jsonl", "a")
        bar = None
        if info.main and st.progress:
            from tqdm import tqdm
            bar = tqdm(total=st.steps, initial=step, desc=f"train {cfg.stage}", dynamic_ncols=True)
        amp = (torch.autocast(info.device.type, dtype=torch.bfloat16) if st.amp == "bf16"
               else nullcontext())
        losses: list[float] = []
        t_start, samples = time.perf_counter(), 0
        export_path = None
        model.train()
        self.stage.on_train_mode(module)
        while step < st.steps:
            if info.enabled:
                sampler.set_epoch(epoch)
            for batch in loader:
                if step >= st.steps:
                    break
                batch = self.stage.to_device(batch, info.device)
                with amp:
                    loss, logs = model(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {step}: {float(loss)}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if st.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, st.grad_clip)
                opt.step()
                sched.step()
                step += 1
                samples += self.stage.batch_size(batch)
                lval = float(loss.detach())
                if info.enabled:
                    t = loss.detach().float().clone()
                    dist.all_reduce(t)
                    lval = float(t) / info.world
                losses.append(lval)
                if info.main:
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{lval:.4g}")
                    if step % st.log_every == 0 or step == st.steps:
                        rec = {"step": step, "loss": lval, "lr": sched.get_last_lr()[0]}
                        rec.update({k: float(v) for k, v in logs.items()})
                        for k, v in rec.items():
                            if k != "step":
                                writer.add_scalar(f"{cfg.stage}/{k}", v, step)
                        metrics_file.write(json.dumps(rec) + "\n")
                        metrics_file.flush()
                if step % st.ckpt_every == 0 or step == st.steps:
                    export_path = self._checkpoint(info, module, opt, sched, step, epoch)
            epoch += 1
        elapsed = time.perf_counter() - t_start
        if info.main:
            if bar is not None:
                bar.close()
            writer.flush()
            writer.close()
            metrics_file.close()
        if export_path is None:  # resumed at the end: nothing new, export anyway
            export_path = self._checkpoint(info, module, opt, sched, step, epoch)
        return {"step": step, "losses": losses, "checkpoint": str(self.ckpt_path),
                "export": str(export_path), "seconds": elapsed,
                "samples_per_s": samples * info.world / elapsed if elapsed > 0 else float("nan")}

    def _checkpoint(self, info, module, opt, sched, step, epoch):
        path = None
        if info.main:
            atomic_save({"model": module.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "step": step, "epoch": epoch,
                         "config": self.cfg.to_dict()}, self.ckpt_path)
            path = self.stage.export(module, self.out)
        info.barrier()
        return path if path is not None else self.stage.export_path(self.out)


def train(cfg: TrainConfig) -> dict:
    return Trainer(cfg).fit()
