"""Mask feature enhancement (SEAL's ``fuse`` and ``pe_layer``).

The spatial query of a mask attends to the fused features (keys: features plus
a random-Fourier position encoding; values: features), only inside the mask
(max-pooled to the feature grid), then an MLP:

    x = q + cross_attn(norm1(q), feats + pe, feats, mask)
    x = x + mlp(norm2(x))

``pe_layer`` is segment-anything's ``PositionEmbeddingRandom``: its Gaussian
matrix is a buffer saved in ``seal.pt`` and is loaded, never drawn anew.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import MLPBlock
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import nn

__all__ = ["MaskedCrossAttention", "PositionEmbeddingRandom", "mask_to_grid"]


def mask_to_grid(masks: torch.Tensor, grid: int) -> torch.Tensor:
    """(N, S, S) bool -> (N, grid, grid) bool by max-pooling (a cell is in if any pixel is;
    the authors' ``adaptive_max_pool2d(mask, grid) == 1``)."""
    s = masks.shape[-1]
    pooled = F.adaptive_max_pool2d(masks[:, None].to(torch.float32), grid) if s % grid else \
        F.max_pool2d(masks[:, None].to(torch.float32), s // grid)
    return pooled[:, 0] > 0


class MaskedCrossAttention(nn.Module):
    def __init__(self, dim: int = 256, num_heads: int = 16, mlp_dim: int = 1024) -> None:
        super().__init__()
        # Registration order = key order of the published checkpoint.
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.mlp = MLPBlock(dim, mlp_dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                allowed: torch.Tensor) -> torch.Tensor:
        """query (N, D); keys/values (N, L, D) (or (1, L, D), broadcast); allowed (N, L) bool."""
        n = query.shape[0]
        if keys.shape[0] != n:
            keys = keys.expand(n, -1, -1)
            values = values.expand(n, -1, -1)
        # A candidate with no allowed cell (empty mask) attends everywhere rather than to nothing.
        allowed = allowed | ~allowed.any(dim=1, keepdim=True)
        heads = self.cross_attn.num_heads
        blocked = (~allowed)[:, None, :].repeat_interleave(heads, dim=0)  # (N*heads, 1, L)
        q = query[:, None, :]
        y, _ = self.cross_attn(self.norm1(q), keys, values, attn_mask=blocked, need_weights=False)
        x = q + y
        x = x + self.mlp(self.norm2(x))
        return x[:, 0]
