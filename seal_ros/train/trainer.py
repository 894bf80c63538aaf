"""One plain-PyTorch trainer for every stage.

- DistributedDataParallel when started by ``torchrun`` (``WORLD_SIZE`` > 1):
  nccl on GPUs, gloo on the CPU; one process per GPU. The sample order is
  that of one process with the same global batch
  (:class:`~seal_ros.train.sampler.GlobalBatchSampler`), and the loss is
  scaled so gradients are those of that one process: stages whose loss is a
  sum over images (``loss_reduction = "sum"``, SEAL as the authors train it)
  are multiplied by the number of ranks, mean losses are left to DDP's mean.
- Gradient accumulation (``train.accum_steps`` micro-batches per step), bf16
  autocast, gradient clipping, AdamW or Adam, warm-up then cosine / step /
  constant learning rate.
- Exact resume: ``OUT/checkpoints/last.pt`` holds model, optimiser,
  scheduler, step, the sampler position (epoch, batch), RNG states and the
  best validation score; it is written atomically and read weights-only. A
  run continued from it after a kill gives the same losses as one that never
  stopped; records of the killed run past the checkpoint are dropped from
  ``metrics.jsonl`` and TensorBoard.
- Validation every ``val.every`` steps (stages that have it: SEAL-protocol AP)
  and ``best.pt`` (the export of the best score).
- Logs: TensorBoard (``OUT/tb``), ``OUT/metrics.jsonl``, a tqdm bar on rank 0
  with images/s and the ETA.

A stage (see :mod:`seal_ros.train.stages`) provides ``build_module(device)``
(an ``nn.Module`` whose ``forward(batch)`` returns ``(loss, logs)``; only
parameters with ``requires_grad`` train), ``build_dataset()``, ``collate``,
``to_device``, ``batch_size``, ``loss_reduction`` and ``export(module, out_dir,
meta)``; optionally ``validate(module, val_settings) -> dict``.
"""
from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from seal_ros.train.config import ConfigError, TrainConfig
from seal_ros.train.runtime import (DistInfo, MetricsLog, atomic_save, lr_lambda, make_optimizer, rng_state,
                                    seed_everything, set_rng_state)
from seal_ros.train.sampler import GlobalBatchSampler, KeyedDataset
from seal_ros.train.teachers import warn_random

__all__ = ["Trainer", "train", "atomic_save"]


class Trainer:
    def __init__(self, cfg: TrainConfig, stage=None):
        from seal_ros.train.stages import make_stage

        self.cfg = cfg
        self.stage = stage if stage is not None else make_stage(cfg)
        self.out = Path(cfg.out_dir)
        self.ckpt_path = self.out / "checkpoints" / "last.pt"

    def fit(self) -> dict:
        info = DistInfo(self.cfg.train)
        try:
            return self._fit(info)
        finally:
            info.close()

    def _resume(self, module, opt, sched, device):
        try:
            state = torch.load(self.ckpt_path, map_location=device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - one line naming the file
            raise ConfigError(f"cannot read {self.ckpt_path} ({str(exc).splitlines()[0][:160]}); "
                              f"use another out_dir or train.resume=false") from exc
        missing = [k for k in ("model", "optimizer", "scheduler", "step", "position", "best", "rng")
                   if not isinstance(state, dict) or k not in state]
        if missing:
            raise ConfigError(f"{self.ckpt_path} lacks {', '.join(missing)} (written by another version); use "
                              f"another out_dir or train.resume=false")
        try:
            module.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{self.ckpt_path} was written by a different model/config; use "
                              f"another out_dir or train.resume=false ({str(exc).splitlines()[0][:160]})") from exc
        return state

    def _fit(self, info: DistInfo) -> dict:
        cfg, st = self.cfg, self.cfg.train
        warn_random(cfg.random_teachers and info.main)
        if cfg.val.every and getattr(self.stage, "validate", None) is None:
            raise ConfigError(f"stage {cfg.stage} has no validation; remove val.every")
        seed_everything(cfg.seed)  # identical initialisation on every rank
        module = self.stage.build_module(info.device)
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("the stage's module has no trainable parameters")
        dataset = self.stage.build_dataset()
        if len(dataset) == 0:
            raise RuntimeError("the training dataset is empty")
        sampler = GlobalBatchSampler(len(dataset), st.batch_size, info.world, info.rank, cfg.seed)
        keyed = KeyedDataset(dataset)
        per_epoch = -(-sampler.batches_per_epoch() // st.accum_steps)
        total_steps = st.epochs * per_epoch if st.epochs else st.steps
        opt = make_optimizer(params, st)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(st, total_steps, per_epoch))
        step, pos, best = 0, {"epoch": 0, "batch": 0}, {"score": None, "step": None}
        state = self._resume(module, opt, sched, info.device) if st.resume and self.ckpt_path.is_file() else None
        if state is not None:
            step, pos, best = int(state["step"]), dict(state["position"]), dict(state["best"])
        seed_everything(cfg.seed + 1000 * info.rank + step)
        if state is not None and info.main:
            set_rng_state(state["rng"])
        model = module
        if info.enabled:
            model = DistributedDataParallel(
                module, device_ids=[info.device.index] if info.device.type == "cuda" else None,
                find_unused_parameters=st.find_unused_parameters)
        stamp = {"random_teachers": True} if cfg.random_teachers else {}
        log = bar = None
        if info.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
            log = MetricsLog(self.out, cfg.stage, step, stamp)
            if st.progress:
                from tqdm import tqdm
                bar = tqdm(total=total_steps, initial=step, desc=f"train {cfg.stage}", unit="step",
                           dynamic_ncols=True)
        amp = (torch.autocast(info.device.type, dtype=torch.bfloat16) if st.amp == "bf16" else nullcontext())
        sum_loss = getattr(self.stage, "loss_reduction", "mean") == "sum"
        scale = float(info.world) if sum_loss else 1.0 / st.accum_steps
        batches = self._batches(sampler, keyed, pos)
        losses: list[float] = []
        t_start, samples, export_path = time.perf_counter(), 0, None
        model.train()
        self.stage.on_train_mode(module)
        while step < total_steps:
            t0, n_img, total, parts = time.perf_counter(), 0, 0.0, {}
            for micro in range(st.accum_steps):
                batch = self.stage.to_device(next(batches), info.device)
                sync = model.no_sync() if info.enabled and micro < st.accum_steps - 1 else nullcontext()
                with sync:
                    with amp:
                        loss, logs = model(batch)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"non-finite loss at step {step}: {float(loss)}")
                    (loss * scale).backward()
                total += float(loss.detach())
                for k, v in logs.items():
                    parts[k] = parts.get(k, 0.0) + float(v)
                n_img += self.stage.batch_size(batch)
            if st.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, st.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            norm = 1.0 if sum_loss else 1.0 / (st.accum_steps * info.world)
            lval = info.all_sum(total) * norm
            parts = {k: info.all_sum(v) * norm for k, v in parts.items()}
            n_img = int(info.all_sum(n_img))
            samples += n_img
            losses.append(lval)
            if info.main:
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{lval:.4g}", img_s=f"{n_img / max(time.perf_counter() - t0, 1e-9):.1f}")
                if step % st.log_every == 0 or step == total_steps:
                    log.log(step, {"loss": lval, "lr": sched.get_last_lr()[0], **parts})
            if cfg.val.every and step % cfg.val.every == 0:
                best = self._validate(info, module, step, best, log, stamp)
            if step % st.ckpt_every == 0 or step == total_steps:
                export_path = self._checkpoint(info, module, opt, sched, step, pos, best, stamp)
        elapsed = time.perf_counter() - t_start
        if info.main:
            if bar is not None:
                bar.close()
            log.close()
        if export_path is None:  # resumed at the end: nothing new, export anyway
            export_path = self._checkpoint(info, module, opt, sched, step, pos, best, stamp)
        out = {"step": step, "losses": losses, "checkpoint": str(self.ckpt_path), "export": str(export_path),
               "seconds": elapsed, "samples_per_s": samples / elapsed if elapsed > 0 else float("nan"),
               "best": best}
        out.update(stamp)
        return out

    def _batches(self, sampler, keyed, pos):
        """This rank's batches from ``pos`` on, forever; ``pos`` follows what was consumed."""
        st = self.cfg.train
        while True:
            todo = sampler.epoch_batches(pos["epoch"])[pos["batch"]:]
            loader = DataLoader(keyed, batch_sampler=todo, num_workers=st.num_workers,
                                collate_fn=self.stage.collate)
            for b in loader:
                pos["batch"] += 1
                yield b
            pos["epoch"], pos["batch"] = pos["epoch"] + 1, 0

    def _meta(self, step, stamp, **extra) -> dict:
        return {"step": step, "random_teachers": bool(stamp), **extra}

    def _validate(self, info, module, step, best, log, stamp):
        if info.main:
            module.eval()
            try:
                scores = self.stage.validate(module, self.cfg.val)
            finally:
                module.train()
                self.stage.on_train_mode(module)
            log.log(step, scores, prefix="val/")
            score = scores.get("mAP")
            if score is not None and score == score and (best["score"] is None or score >= best["score"]):
                best = {"score": float(score), "step": step}  # ties: the later step, as the authors
                self.stage.export(module, self.out, self._meta(step, stamp, best=best), name="best.pt")
        info.barrier()
        return best

    def _checkpoint(self, info, module, opt, sched, step, pos, best, stamp):
        path = None
        if info.main:
            atomic_save({"model": module.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "step": step, "position": dict(pos),
                         "best": dict(best), "rng": rng_state(), "config": self.cfg.to_dict()}, self.ckpt_path)
            path = self.stage.export(module, self.out, self._meta(step, stamp))
        info.barrier()
        return path if path is not None else self.stage.export_path(self.out)


def train(cfg: TrainConfig) -> dict:
    return Trainer(cfg).fit()
