"""Stage 2's training module: SEAL's head learns from MHSG guidance as the authors train it.

Per image and granularity (the authors' ``event_encoder/models/seal.py``):

1. EventSAM (frozen) encodes the event image once.
2. The fusion network runs once per (image, granularity) and attends to that
   image's own long-description embeddings of that granularity (keys and
   values; :func:`fuse_groups`, exact per group: other groups' keys are
   masked out, not padded into the softmax).
3. Every guidance mask is prompted by its box (from the ``S`` mask, inclusive
   pixel bounds) through SAM's frozen decoder; of the three multimask
   outputs, the mask token of the one with the highest predicted IoU is kept.
4. The mask feature (:meth:`Seal.embed_masks`: RoI of the ``S/2`` mask on the
   fused features + token -> masked cross-attention -> text space).
5. Loss of the group: mean over its masks of (1 - cos(f, short-description
   embedding)) + mean of (1 - cos(f, visual embedding)); the step's loss is
   the SUM over the batch's (image, granularity) groups, as the authors'
   (``loss_reduction = "sum"``: the trainer keeps DDP and accumulation equal
   to one process with the whole batch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seal_ros.seal.modeling.attention import windowed_attention
from seal_ros.train.mhsg import GRANULARITIES


def fuse_groups(neck, feats: torch.Tensor, text: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """The fusion network with one key set per row: feats (G, g, g, C); text (G, K, Dt)
    zero-padded; pad (G, K) True where padded -> (G, g, g, D). Equal, row by row, to
    ``neck(feats[i:i+1], text[i, ~pad[i]])`` (the block maths of :class:`FusionNeck`
    with a key padding mask)."""
    x = neck.in_proj(feats)
    t = neck.in_proj_fusion(text.to(x.dtype))
    b, h, w, d = x.shape
    for blk in neck.blocks:
        y = windowed_attention(blk.attn, blk.norm1(x), blk.window_size).reshape(b, h * w, d)
        y, _ = blk.cross_attn(y, t, t, key_padding_mask=pad, need_weights=False)
        x = x + y.reshape(b, h, w, d)
        x = x + blk.mlp(blk.norm2(x))
    return x


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool, none empty -> (N, 4) float x0, y0, x1, y1 with inclusive maxima (the authors')."""
    cols, rows = masks.any(dim=1), masks.any(dim=2)
    xs = torch.arange(masks.shape[2], device=masks.device)
    ys = torch.arange(masks.shape[1], device=masks.device)
    big = max(masks.shape[1], masks.shape[2])
    return torch.stack([torch.where(cols, xs, big).amin(1), torch.where(rows, ys, big).amin(1),
                        torch.where(cols, xs, -1).amax(1), torch.where(rows, ys, -1).amax(1)], 1).float()


class SealDistill(nn.Module):
    """``cache_backbone``: keep each (pair, flip)'s frozen-backbone outputs in host memory
    (bf16, about 2 MB a pair at ViT-B): faster later epochs, not bit-exact (bf16)."""

    def __init__(self, seal, cache_backbone: bool = False):
        super().__init__()
        self.seal = seal
        self._backbone_cache = {} if cache_backbone else None
        for p in seal.eventsam.parameters():
            p.requires_grad_(False)
        for p in seal.pe_layer.parameters():  # fixed random-Fourier matrix
            p.requires_grad_(False)

    def forward(self, batch):
        seal = self.seal
        emb, vit = self._backbone(batch)
        dev = emb.device
        groups = [(b, gi, lv) for b, levels in enumerate(batch["levels"]) for gi, lv in enumerate(levels)
                  if lv["masks"].shape[0] > 0]
        if not groups:  # touch every trainable parameter so DDP's gradient reduction still completes
            return sum(p.sum() for p in self.parameters() if p.requires_grad) * 0.0, {}
        kmax = max(lv["long"].shape[0] for _, _, lv in groups)
        dt = groups[0][2]["long"].shape[1]
        keys = torch.zeros(len(groups), kmax, dt, device=dev)
        pad = torch.ones(len(groups), kmax, dtype=torch.bool, device=dev)
        for j, (_, _, lv) in enumerate(groups):
            k = lv["long"].shape[0]
            keys[j, :k], pad[j, :k] = lv["long"], False
        gb = torch.tensor([b for b, _, _ in groups], device=dev)
        fused = fuse_groups(seal.neck, vit[gb], keys, pad)

        counts = torch.tensor([lv["masks"].shape[0] for _, _, lv in groups], device=dev)
        gidx = torch.repeat_interleave(torch.arange(len(groups), device=dev), counts)
        hi = torch.cat([lv["masks"] for _, _, lv in groups])
        lo = torch.cat([lv["masks_lo"] for _, _, lv in groups])
        with torch.no_grad():
            _, iou, tok = seal.decode(emb[gb[gidx]], boxes=mask_boxes(hi))
            tok = tok[torch.arange(tok.shape[0], device=dev), iou.float().argmax(dim=1)]
        f = seal.embed_masks(fused, lo, tok, gidx)
        short = torch.cat([lv["short"] for _, _, lv in groups])
        visual = torch.cat([lv["visual"] for _, _, lv in groups])
        per_mask = (1 - F.cosine_similarity(f.float(), short.float(), dim=-1)) \
            + (1 - F.cosine_similarity(f.float(), visual.float(), dim=-1))
        group_loss = torch.zeros(len(groups), device=dev).index_add(0, gidx, per_mask) / counts
        loss = group_loss.sum()
        with torch.no_grad():  # the loss cannot reach 0 (v != t): per mask its minimum is 2 - |v^ + t^|
            floor_mask = 2 - (F.normalize(short.float(), dim=-1) + F.normalize(visual.float(), dim=-1)).norm(dim=-1)
            floor = (torch.zeros(len(groups), device=dev).index_add(0, gidx, floor_mask) / counts).sum()
        logs = {"floor": floor.detach(), "excess": loss.detach() - floor}
        gran = torch.tensor([gi for _, gi, _ in groups], device=dev)
        for gi, (name, _) in enumerate(GRANULARITIES):
            sel = gran == gi
            logs[f"loss_{name}"] = group_loss.detach()[sel].sum()
            logs[f"n_{name}"] = counts[sel].sum().float()
        return loss, logs

    @torch.no_grad()
    def _backbone(self, batch):
        cache = self._backbone_cache
        keys = list(zip(batch["index"].tolist(), batch["flipped"].tolist())) if cache is not None else None
        if cache is not None and all(k in cache for k in keys):
            dev = batch["event"].device
            emb = torch.stack([cache[k][0] for k in keys]).to(dev, non_blocking=True).float()
            vit = torch.stack([cache[k][1] for k in keys]).to(dev, non_blocking=True).float()
            return emb, vit
        emb, vit = self.seal.encode_image(batch["event"])
        if cache is not None:
            for b, k in enumerate(keys):
                cache[k] = (emb[b].to("cpu", torch.bfloat16), vit[b].to("cpu", torch.bfloat16))
        return emb, vit
