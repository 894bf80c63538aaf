"""Stage 2, SEAL: the fusion network and mask head learn from MHSG guidance; EventSAM frozen.

Training module and loss: :mod:`seal_ros.train.seal_distill` (the authors'
recipe). Data (``data.source``):

- ``aedat`` / ``recorder``: pairs of this package; their guidance is built by
  :mod:`seal_ros.train.guidance` (cached, keyed by its settings);
- ``seal_mhsg``: the authors' released training set with its precomputed MHSG
  guidance (:mod:`seal_ros.datasets.seal_mhsg`; ``seal-ros train seal --data ROOT``).

Teachers: ``eventsam_checkpoint`` (stage 1's or the published ``eventsam.pth``)
and ``sam_checkpoint`` (SAM's prompt encoder and mask decoder), or
``init_checkpoint`` (a ``seal.pt`` to continue); missing files are refused
unless ``random_teachers: true``.

Export: ``OUT/seal.pt`` = ``{"model": whole-model state dict (published
layout), "seal_ros": configuration}`` (:mod:`seal_ros.seal.export`), and
``OUT/best.pt`` likewise at the best validation score.
"""
from __future__ import annotations

from pathlib import Path

import torch

from seal_ros.train.config import ConfigError
from seal_ros.train.stages.base import Stage, model_image_size, pair_source, write_export
from seal_ros.train.teachers import allow_random, require_file


def build_guided_dataset(stage, source):
    """The guidance cache of ``source`` (rank 0 builds it, other ranks wait)."""
    import torch.distributed as dist

    from seal_ros.train.guidance import ensure_guidance, guidance_settings

    g = guidance_settings(stage.model_cfg["guidance"])
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    if distributed and rank != 0:
        dist.barrier()
    cache = ensure_guidance(g, source, stage.cfg.out_dir, stage.cfg.random_teachers,
                            progress=stage.cfg.train.progress and rank == 0)
    if distributed and rank == 0:
        dist.barrier()
    return cache


class SealStage(Stage):
    name = "seal"
    export_name = "seal.pt"
    loss_reduction = "sum"
    model_defaults = {"size": "vit_b", "overrides": {}, "eventsam_checkpoint": None,
                      "sam_checkpoint": None, "init_checkpoint": None, "max_masks": None,
                      "fused_attention": True, "cache_backbone": False, "guidance": {}}

    def __init__(self, cfg):
        from seal_ros.datasets.pairs import PairSourceError, resolve_source

        super().__init__(cfg)
        try:
            self.data_cfg["source"] = resolve_source(self.data_cfg)
        except PairSourceError as exc:
            raise ConfigError(str(exc)) from exc
        if self.data_cfg["source"] == "seal_mhsg" and self.data_cfg.get("limit"):
            raise ConfigError("data.limit is not supported with data.source seal_mhsg (edit train.txt)")

    def build_module(self, device):
        from seal_ros.seal.build import build_seal
        from seal_ros.seal.checkpoint import (eventsam_student_state, load_eventsam, load_seal, load_state,
                                              resize_sam_state)
        from seal_ros.train.seal_distill import SealDistill

        m, rt = self.model_cfg, self.cfg.random_teachers
        model_image_size(m)  # validates the size name
        seal = build_seal(m["size"], **dict(m["overrides"]))
        if m["init_checkpoint"]:
            if not Path(m["init_checkpoint"]).is_file():
                raise FileNotFoundError(f"model.init_checkpoint: {m['init_checkpoint']} not found")
            load_seal(seal, m["init_checkpoint"])
        elif m["eventsam_checkpoint"] or not rt:
            ev = require_file(m["eventsam_checkpoint"], "model.eventsam_checkpoint", "eventsam")
            if m["sam_checkpoint"] or not rt:
                load_eventsam(seal.eventsam, eventsam_path=ev,
                              sam_path=require_file(m["sam_checkpoint"], "model.sam_checkpoint", "sam"))
            else:  # random_teachers: the event encoder from stage 1, a random prompt encoder and decoder
                state = resize_sam_state(eventsam_student_state(load_state(ev)), seal.eventsam)
                seal.eventsam.image_encoder.load_state_dict(
                    {k[len("image_encoder."):]: v for k, v in state.items()}, strict=True)
        if m["fused_attention"]:  # SDPA with the relative-position bias: same maths, 1.7x faster on a GPU
            from seal_ros.seal.accel import optimize_model
            optimize_model(seal, fused_attention=True)
        return SealDistill(seal, cache_backbone=bool(m["cache_backbone"])).to(device)

    def build_dataset(self):
        from seal_ros.datasets.pairs import TrainPairs, to_model_input
        from seal_ros.train.mhsg import GranularityGuidance
        from seal_ros.train.seal_data import GuidedPairs

        size = model_image_size(self.model_cfg)
        common = dict(size=size, max_masks=self.model_cfg["max_masks"], flip=bool(self.data_cfg["flip"]),
                      seed=self.cfg.seed)
        if self.data_cfg["source"] == "seal_mhsg":
            from seal_ros.datasets.seal_mhsg import SealDatasetError, SealMhsgPairs

            try:
                src = SealMhsgPairs(self.data_cfg["path"])
            except (SealDatasetError, OSError) as exc:
                raise ConfigError(f"data (seal_mhsg): {exc}") from exc

            def guidance(i):
                return {k: GranularityGuidance.from_masks(**v) for k, v in src.guidance(i).items()}

            return GuidedPairs(len(src), lambda i: to_model_input(src.event_image(i), size), guidance, **common)
        source = pair_source(self.data_cfg)
        cache = build_guided_dataset(self, source)
        pairs = TrainPairs(source, size)
        return GuidedPairs(len(source), lambda i: pairs[i]["event"], cache.__getitem__, **common)

    def collate(self, items):
        from seal_ros.train.seal_data import collate_guided

        return collate_guided(items)

    def batch_size(self, batch) -> int:
        return int(batch["index"].shape[0])

    def on_train_mode(self, module):
        module.seal.eventsam.eval()

    # -- the text encoder the model is trained against, exports, validation --------------------
    def text_spec(self) -> dict:
        from seal_ros.train.clip import clip_text_spec
        from seal_ros.train.guidance import guidance_settings

        return clip_text_spec(guidance_settings(self.model_cfg["guidance"]))

    def text_encoder(self, device):
        from seal_ros.seal.export import text_encoder_from_spec

        if not hasattr(self, "_text"):
            spec = self.text_spec()
            if spec["kind"] == "tiny":
                allow_random(self.cfg.random_teachers, "guidance.clip", "tiny")
            else:
                require_file(spec["file"], "guidance.clip", "clip")
            self._text = text_encoder_from_spec(spec, device)
        return self._text

    def export_config(self, meta: dict) -> dict:
        from seal_ros.seal.text import DEFAULT_TEMPLATES
        from seal_ros.train.guidance import guidance_settings, vocabulary_of

        g = guidance_settings(self.model_cfg["guidance"])
        own = self.data_cfg["source"] != "seal_mhsg"
        return {**super().export_config(meta), "text_encoder": self.text_spec(),
                "templates": list(g["templates"] or DEFAULT_TEMPLATES),
                "vocabulary": vocabulary_of(g) if own and g["describer"] == "clip_zero_shot" else []}

    def export(self, module, out_dir, meta, name=None) -> Path:
        return write_export(module.seal.state_dict(), self.export_path(out_dir, name), self.export_config(meta))

    def validate(self, module, val) -> dict:
        from seal_ros.train.validation import seal_validation

        dev = next(module.parameters()).device
        with torch.no_grad():
            return seal_validation(module.seal, self.text_encoder(dev), val, dev)
