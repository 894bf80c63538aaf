"""Training losses of the three stages.

- EventSAM (stage 1): attention-weighted L1 between student and teacher block
  outputs (blocks 2, 5, 8, 11 with weights 0.1, 0.4, 0.7, 1.0 at ViT-B size);
  each token is weighted by how much attention it receives in the teacher's
  block (mean over heads and queries), normalised to mean 1 per image.
- SEAL (stage 2): see :mod:`seal_ros.train.seal_distill` (per image and
  granularity, mean cosine distances to the short-description and visual
  embeddings, summed over the batch).
- Semantic-E2VID: reconstruction (L1) on the paired image + the network's
  cross-modal alignment loss to SAM features + semantic cross-entropy against
  SAM/CLIP-derived labels (ignore index 255).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import (
    Block, add_decomposed_rel_pos, window_partition, window_unpartition)

EVENTSAM_BLOCKS = (2, 5, 8, 11)
EVENTSAM_WEIGHTS = (0.1, 0.4, 0.7, 1.0)


@torch.no_grad()
def received_attention(block: Block, x: torch.Tensor) -> torch.Tensor:
    """Attention each token receives in ``block`` for input ``x`` (B, H, W, C) -> (B, H, W).

    Recomputes the block's own attention (windowed or global, relative
    positions included) from its parameters, averaging over heads and queries.
    """
    attn_mod = block.attn
    b, h, w, _ = x.shape
    y = block.norm1(x)
    if block.window_size > 0:
        y, pad_hw = window_partition(y, block.window_size)
    bw, hh, ww, _ = y.shape
    qkv = attn_mod.qkv(y).reshape(bw, hh * ww, 3, attn_mod.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.reshape(3, bw * attn_mod.num_heads, hh * ww, -1).unbind(0)
    a = (q * attn_mod.scale) @ k.transpose(-2, -1)
    if attn_mod.use_rel_pos:
        a = add_decomposed_rel_pos(a, q, attn_mod.rel_pos_h, attn_mod.rel_pos_w, (hh, ww), (hh, ww))
    a = a.float().softmax(dim=-1)
    recv = a.view(bw, attn_mod.num_heads, hh * ww, hh * ww).mean(dim=(1, 2))  # (bw, N)
    recv = recv.view(bw, hh, ww, 1)
    if block.window_size > 0:
        recv = window_unpartition(recv, block.window_size, pad_hw, (h, w))
    return recv[..., 0]


def token_weights(recv: torch.Tensor) -> torch.Tensor:
    """Normalise received attention (B, H, W) to mean 1 per image."""
    return recv / recv.flatten(1).mean(dim=1).clamp_min(1e-12).view(-1, 1, 1)


def eventsam_distill_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor],
                          weights: Sequence[torch.Tensor], block_weights=EVENTSAM_WEIGHTS):
    """sum_k lambda_k * mean_tokens(w_k * mean_C |s_k - t_k|); tensors (B, H, W, C), weights (B, H, W)."""
    if not (len(student) == len(teacher) == len(weights) == len(block_weights)):
        raise ValueError("student, teacher, weights and block_weights must have the same length")
    total = student[0].new_zeros((), dtype=torch.float32)
    parts = []
    for s, t, w, lam in zip(student, teacher, weights, block_weights):
        l1 = (s.float() - t.float()).abs().mean(dim=-1)
        part = (w.float() * l1).mean()
        parts.append(part.detach())
        total = total + lam * part
    return total, parts


def semantic_e2vid_loss(recon: torch.Tensor, image: torch.Tensor, align: torch.Tensor | None,
                        logits: torch.Tensor | None, labels: torch.Tensor | None,
                        w_rec: float = 1.0, w_align: float = 0.5, w_sem: float = 0.5,
                        ignore_index: int = 255, valid: torch.Tensor | None = None):
    """Reconstruction L1 (images in [0, 1], over ``valid`` pixels) + ``w_align`` * the
    alignment term (computed by the network's own ``alignment_loss``) + ``w_sem`` *
    cross-entropy against SAM-derived labels. Returns (total, parts)."""
    err = (recon.float() - image.float()).abs()
    rec = (err * valid).sum() / valid.sum().clamp_min(1) if valid is not None else err.mean()
    parts = {"rec": rec.detach()}
    total = w_rec * rec
    if align is not None:
        parts["align"] = align.detach()
        total = total + w_align * align
    if logits is not None and labels is not None:
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = F.interpolate(logits.float(), size=labels.shape[-2:], mode="bilinear",
                                   align_corners=False)
        if (labels != ignore_index).any():
            ce = F.cross_entropy(logits.float(), labels.long(), ignore_index=ignore_index)
        else:
            ce = logits.sum() * 0.0
        parts["sem"] = ce.detach()
        total = total + w_sem * ce
    return total, parts
