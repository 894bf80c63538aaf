"""Stage 1, EventSAM: distil SAM's image encoder (teacher, paired image) into a
student copy that sees event images.

Loss: :func:`seal_ros.train.losses.eventsam_distill_loss` on the outputs of
blocks ``model.blocks`` (ViT-B: 2, 5, 8, 11 with weights 0.1, 0.4, 0.7, 1.0),
tokens weighted by the teacher's received attention. Only the student's patch
embedding and those blocks' MLPs train.

Teacher: ``model.sam_checkpoint`` (SAM's ``sam_vit_b_01ec64.pth``, its 64x64
position embedding resized on load) is required; a random teacher only with
``random_teachers: true``.

Export: ``OUT/eventsam.pth`` = ``{"model": <the published layout: a flat state
dict with module.image_encoder.* (teacher) and module.evimg_encoder.*
(student)>, "seal_ros": configuration}``; ``load_eventsam`` reads both.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from seal_ros.train.losses import eventsam_distill_loss, received_attention, token_weights
from seal_ros.train.stages.base import Stage, train_pairs, write_export
from seal_ros.train.teachers import require_file


class EventSamDistill(nn.Module):
    def __init__(self, teacher: nn.Module, blocks, block_weights):
        super().__init__()
        # Attribute names give the published key prefixes (after "module.").
        self.image_encoder = teacher
        self.evimg_encoder = copy.deepcopy(teacher)
        self.blocks = tuple(int(b) for b in blocks)
        self.block_weights = tuple(float(w) for w in block_weights)
        depth = len(teacher.blocks)
        if not self.blocks or max(self.blocks) >= depth or len(self.blocks) != len(self.block_weights):
            raise ValueError(f"distillation blocks {self.blocks} / weights {self.block_weights} "
                             f"do not fit an encoder of depth {depth}")
        for p in self.image_encoder.parameters():
            p.requires_grad_(False)
        for p in self.evimg_encoder.parameters():
            p.requires_grad_(False)
        for p in self.evimg_encoder.patch_embed.parameters():
            p.requires_grad_(True)
        for b in self.blocks:
            for p in self.evimg_encoder.blocks[b].mlp.parameters():
                p.requires_grad_(True)

    def _run(self, enc, x, with_attention: bool):
        x = enc.patch_embed(x)
        if enc.pos_embed is not None:
            x = x + enc.pos_embed
        feats, weights = [], []
        for i, blk in enumerate(enc.blocks[: max(self.blocks) + 1]):
            if with_attention and i in self.blocks:
                weights.append(token_weights(received_attention(blk, x)))
            x = blk(x)
            if i in self.blocks:
                feats.append(x)
        return feats, weights

    def forward(self, batch):
        with torch.no_grad():
            t_feats, weights = self._run(self.image_encoder, batch["image"], True)
        s_feats, _ = self._run(self.evimg_encoder, batch["event"], False)
        loss, parts = eventsam_distill_loss(s_feats, t_feats, weights, self.block_weights)
        return loss, {f"block{b}": v for b, v in zip(self.blocks, parts)}


class EventSamStage(Stage):
    name = "eventsam"
    export_name = "eventsam.pth"
    model_defaults = {"size": "vit_b", "sam_checkpoint": None,
                      "blocks": [2, 5, 8, 11], "block_weights": [0.1, 0.4, 0.7, 1.0],
                      "overrides": {}}

    def build_module(self, device):
        from seal_ros.seal.build import CONFIGS, build_eventsam

        m = self.model_cfg
        if m["size"] not in CONFIGS:
            raise ValueError(f"model.size must be one of {sorted(CONFIGS)}")
        ck = m["sam_checkpoint"]
        if ck or not self.cfg.random_teachers:
            ck = require_file(ck, "model.sam_checkpoint", "sam")
        sam = build_eventsam(m["size"], sam_checkpoint=ck, **dict(m["overrides"]))
        self.image_size = sam.image_encoder.img_size
        module = EventSamDistill(sam.image_encoder, m["blocks"], m["block_weights"])
        return module.to(device)

    def build_dataset(self):
        return train_pairs(self.model_cfg, self.data_cfg, self.cfg.seed)

    def on_train_mode(self, module):
        module.image_encoder.eval()

    def export(self, module, out_dir, meta, name=None) -> Path:
        sd = {f"module.{k}": v for k, v in module.state_dict().items()}
        return write_export(sd, self.export_path(out_dir, name), self.export_config(meta))
