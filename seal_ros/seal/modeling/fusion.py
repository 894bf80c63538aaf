"""SEAL's fusion network (``neck``): event features attend to the vocabulary.

Input: the last ViT block's output before SAM's neck, (B, 32, 32, 768) at full
size, projected to 256 (``in_proj``), and the class text embeddings (C, 768)
projected to 256 (``in_proj_fusion``).  Six blocks, each::

    x = x + cross_attn(self_attn(norm1(x)), text, text)
    x = x + mlp(norm2(x))

with windowed self-attention (window 14, relative positions, 16 heads; the last
block global) and ``torch.nn.MultiheadAttention`` cross-attention to the text.
Submodule names and registration order follow the published ``seal.pt``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from segment_anything.modeling.common import MLPBlock
from torch import nn

from .attention import RelPosAttention, windowed_attention

__all__ = ["FusionBlock", "FusionNeck"]


class FusionBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_dim: int, window_size: int,
                 grid_size: int) -> None:
        super().__init__()
        size = window_size if window_size > 0 else grid_size
        # Registration order = key order of the published checkpoint.
        self.attn = RelPosAttention(dim, num_heads, (size, size))
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.mlp = MLPBlock(dim, mlp_dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.window_size = window_size

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, D); text: (B, C, D)."""
        b, h, w, d = x.shape
        y = windowed_attention(self.attn, self.norm1(x), self.window_size)
        y = y.reshape(b, h * w, d)
        y, _ = self.cross_attn(y, text, text, need_weights=False)
        x = x + y.reshape(b, h, w, d)
        return x + self.mlp(self.norm2(x))


class FusionNeck(nn.Module):
    def __init__(self, in_dim: int = 768, text_dim: int = 768, dim: int = 256, depth: int = 6,
                 num_heads: int = 16, mlp_dim: int = 1024, window_size: int = 14,
                 grid_size: int = 32, global_blocks: Sequence[int] = (5,)) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            FusionBlock(dim, num_heads, mlp_dim, 0 if i in global_blocks else window_size, grid_size)
            for i in range(depth)
        )
        self.in_proj = nn.Linear(in_dim, dim)
        self.in_proj_fusion = nn.Linear(text_dim, dim)

    def forward(self, feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """feats: (B, H, W, in_dim) ViT features; text: (C, text_dim) -> (B, H, W, dim)."""
        x = self.in_proj(feats)
        t = self.in_proj_fusion(text.to(x.dtype))
        t = t.unsqueeze(0).expand(x.shape[0], -1, -1)
        for blk in self.blocks:
            x = blk(x, t)
        return x
