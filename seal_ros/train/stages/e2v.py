"""Semantic-E2VID training on sequences of windows with carried recurrent state.

Semantic-E2VID is recurrent and runs with its state carried from window to
window at inference. As E2VID is trained, each sample is a sequence of
``data.sequence_length`` consecutive pairs (starting every
``data.sequence_stride`` pairs): the state starts empty at the sequence's
first window and is carried through it; the loss is the mean over the
windows and gradients flow back through the whole sequence (truncated
backpropagation through time, truncated at the sequence).

Per window: input the 5-bin voxel grid (rpg_e2vid normalisation) at sensor
size, reflection-padded to a multiple of 2^num_encoders; target the paired
image as grey levels in [0, 1]; SAM features from the frozen image SAM (the
guidance SAM) on the paired image; labels from the ``semantic`` granularity of
the MHSG guidance (each mask's vocabulary index; 255 elsewhere). Loss:
:func:`seal_ros.train.losses.semantic_e2vid_loss` with the network's own
alignment loss.

Export: ``OUT/e2v.pth`` in the rpg_e2vid layout (``arch``, ``model``,
``state_dict``; plus ``seal_ros``: configuration), loaded by
``seal_ros.e2v.checkpoint.load_checkpoint`` and the ``event_reconstructor`` node.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seal_ros.datasets.pairs import CACHE_MAX_PAIRS
from seal_ros.events.representations import voxel_grid
from seal_ros.train.config import ConfigError
from seal_ros.train.losses import semantic_e2vid_loss
from seal_ros.train.mhsg import semantic_labels
from seal_ros.train.stages.base import Stage, pair_source

SAM_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
SAM_STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


class E2VDistill(nn.Module):
    """The network plus the frozen SAM image encoder that gives the alignment targets."""

    def __init__(self, net, sam_encoder, weights):
        super().__init__()
        self.net = net
        self.sam_encoder = sam_encoder
        for p in self.sam_encoder.parameters():
            p.requires_grad_(False)
        self.weights = dict(weights)

    def forward(self, batch):
        """Tensors (B, L, ...): one sequence of L windows per sample."""
        from seal_ros.e2v.networks.semantic_e2vid import alignment_loss

        steps = batch["voxel"].shape[1]
        state, total, parts = None, 0.0, {}
        for t in range(steps):
            with torch.no_grad():
                sam = self.sam_encoder(batch["sam_input"][:, t]).float()
            img, state, feats = self.net(batch["voxel"][:, t], state, sam_features=sam, return_features=True)
            loss, p = semantic_e2vid_loss(img, batch["image"][:, t], alignment_loss(feats, sam),
                                          feats.get("logits"), batch["labels"][:, t], valid=batch["valid"][:, t],
                                          **self.weights)
            total = total + loss
            for k, v in p.items():
                parts[k] = parts.get(k, 0.0) + v / steps
        return total / steps, parts


class E2VWindows:
    """Per pair: padded voxel grid, grey target, valid mask, labels, and the SAM input
    (the image resized to SAM's square input, normalised with SAM's pixel mean/std)."""

    def __init__(self, source, cache, sam_size: int, num_bins: int, multiple: int):
        self.source, self.cache = source, cache
        self.sam_size, self.num_bins = sam_size, num_bins
        h, w = source.height, source.width
        ph, pw = (-h) % multiple, (-w) % multiple
        self.pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        self._memo = {} if len(source) <= CACHE_MAX_PAIRS else None

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        if self._memo is not None and i in self._memo:
            return self._memo[i]
        item = self._make(i)
        if self._memo is not None:
            self._memo[i] = item
        return item

    def _make(self, i):
        s = self.source[i]
        h, w = s.height, s.width
        vox = torch.from_numpy(voxel_grid(s.events, self.num_bins, w, h, normalize=True))
        gray = s.image if s.image.ndim == 2 else cv2.cvtColor(s.image, cv2.COLOR_RGB2GRAY)
        image = torch.from_numpy(gray.astype(np.float32) / 255.0)[None]
        lab = semantic_labels(self.cache[i])
        if lab.shape != (h, w):
            lab = cv2.resize(lab.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        rgb = np.repeat(gray[:, :, None], 3, 2) if s.image.ndim == 2 else s.image[:, :, :3]
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()[None]
        x = F.interpolate(x, (self.sam_size, self.sam_size), mode="bilinear", align_corners=False)[0]
        return {"voxel": F.pad(vox[None], self.pad, mode="reflect")[0],
                "image": F.pad(image, self.pad),
                "valid": F.pad(torch.ones_like(image), self.pad),
                "labels": F.pad(torch.from_numpy(lab.astype(np.int64))[None], self.pad, value=255)[0],
                "sam_input": (x - SAM_MEAN) / SAM_STD}


class E2VSequences(torch.utils.data.Dataset):
    """Sample k: windows [k * stride, k * stride + length) stacked on a new first axis."""

    def __init__(self, windows: E2VWindows, length: int, stride: int):
        if len(windows) < length:
            raise ConfigError(f"data has {len(windows)} pairs, fewer than data.sequence_length={length}")
        self.windows, self.length, self.stride = windows, int(length), int(stride)

    def __len__(self):
        return (len(self.windows) - self.length) // self.stride + 1

    def __getitem__(self, k):
        if not 0 <= k < len(self):
            raise IndexError(k)
        seq = [self.windows[k * self.stride + t] for t in range(self.length)]
        out = {key: torch.stack([w[key] for w in seq]) for key in seq[0]}
        out["index"] = k
        return out


class E2VStage(Stage):
    name = "e2v"
    export_name = "e2v.pth"
    model_defaults = {"method": "semantic_e2vid", "overrides": {}, "num_bins": 5,
                      "init_checkpoint": None, "w_rec": 1.0, "w_align": 0.5, "w_sem": 0.5,
                      "guidance": {}}
    data_defaults = dict(Stage.data_defaults, sequence_length=8, sequence_stride=None)

    def build_module(self, device):
        from seal_ros.e2v.networks import build
        from seal_ros.train.guidance import build_image_sam, guidance_settings, vocabulary_of

        m = self.model_cfg
        if m["method"] != "semantic_e2vid":
            raise ValueError("model.method: only semantic_e2vid trains here")
        if self.data_cfg["flip"]:
            raise ConfigError("data.flip is not supported by stage e2v")
        g = guidance_settings(m["guidance"])
        sam = build_image_sam(g, device, self.cfg.random_teachers)
        self._sam_size = int(sam.image_encoder.img_size)
        sam_ch = int(sam.image_encoder.neck[0].out_channels)
        net = build("semantic_e2vid", num_bins=int(m["num_bins"]), sam_channels=sam_ch,
                    num_classes=len(vocabulary_of(g)), **dict(m["overrides"]))
        if m["init_checkpoint"]:
            from seal_ros.e2v.checkpoint import load_checkpoint
            net.load_state_dict(load_checkpoint(m["init_checkpoint"]).model.state_dict())
        self.num_encoders = net.num_encoders
        w = {k: float(m[k]) for k in ("w_rec", "w_align", "w_sem")}
        return E2VDistill(net, sam.image_encoder, w).to(device)

    def build_dataset(self):
        from seal_ros.train.stages.seal import build_guided_dataset

        src = pair_source(self.data_cfg)
        cache = build_guided_dataset(self, src)
        length = int(self.data_cfg["sequence_length"])
        stride = int(self.data_cfg["sequence_stride"] or length)
        if length < 1 or stride < 1:
            raise ConfigError("data.sequence_length and data.sequence_stride must be >= 1")
        windows = E2VWindows(src, cache, self._sam_size, int(self.model_cfg["num_bins"]), 2 ** self.num_encoders)
        return E2VSequences(windows, length, stride)

    def on_train_mode(self, module):
        module.sam_encoder.eval()

    def export(self, module, out_dir, meta, name=None) -> Path:
        from seal_ros.e2v.checkpoint import save_checkpoint
        from seal_ros.train.guidance import guidance_settings, vocabulary_of

        path = self.export_path(out_dir, name)
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {**self.export_config(meta), "classes": vocabulary_of(guidance_settings(self.model_cfg["guidance"])),
                  "sequence_length": int(self.data_cfg["sequence_length"])}
        save_checkpoint(module.net, tmp, normalize=True, seal_ros=config)
        tmp.replace(path)
        return path
