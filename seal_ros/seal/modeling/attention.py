"""Self-attention with decomposed relative positions (ViTDet / SAM style).

:class:`RelPosAttention` is segment-anything's image-encoder ``Attention`` (same
parameters: ``qkv``, ``proj``, ``rel_pos_h``, ``rel_pos_w``, so checkpoints load
unchanged) with an optional fused path: the relative-position term is turned
into an additive bias and handed to ``torch.nn.functional.scaled_dot_product_attention``
(memory-efficient / cuDNN kernels on a GPU) instead of materialising the
softmax in eager code.  :func:`use_fused_attention` swaps the attention modules
of any model (SAM's own image encoder included) for this class, in place,
without touching the installed library.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention as SamAttention
from segment_anything.modeling.image_encoder import (
    get_rel_pos,
    window_partition,
    window_unpartition,
)

__all__ = ["RelPosAttention", "windowed_attention", "use_fused_attention", "rel_pos_bias"]


_INDEX_CACHE: Dict[Tuple[int, str], torch.Tensor] = {}


def _rel_table(size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """(size, size, C) table of ``rel_pos`` rows by relative offset, as SAM's
    ``get_rel_pos`` for equal query/key sizes; the index lives on the device
    (cached), so this is free of host-device copies and CUDA-graph safe."""
    if rel_pos.shape[0] != 2 * size - 1:
        return get_rel_pos(size, size, rel_pos)  # SAM's run-time interpolation
    key = (size, str(rel_pos.device))
    idx = _INDEX_CACHE.get(key)
    if idx is None:
        c = torch.arange(size)
        idx = (c[:, None] - c[None, :] + (size - 1)).to(rel_pos.device)
        _INDEX_CACHE[key] = idx
    return rel_pos[idx]


def rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                 size: Tuple[int, int]) -> torch.Tensor:
    """Additive attention bias (B, HW, HW) of the decomposed relative positions.

    ``q``: (B, HW, C) unscaled queries (as in SAM's ``add_decomposed_rel_pos``).
    """
    h, w = size
    rh = _rel_table(h, rel_pos_h).to(q.dtype)
    rw = _rel_table(w, rel_pos_w).to(q.dtype)
    b, _, c = q.shape
    r_q = q.reshape(b, h, w, c)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
    return (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(b, h * w, h * w)


class RelPosAttention(SamAttention):
    """Multi-head self-attention on a (B, H, W, C) grid with relative positions.

    ``fused=False`` runs segment-anything's own eager code; ``fused=True`` runs
    the same maths through ``scaled_dot_product_attention``.
    """

    def __init__(self, dim: int, num_heads: int, input_size: Tuple[int, int],
                 qkv_bias: bool = True, fused: bool = False) -> None:
        super().__init__(dim, num_heads=num_heads, qkv_bias=qkv_bias, use_rel_pos=True,
                         rel_pos_zero_init=True, input_size=input_size)
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return super().forward(x)
        b, h, w, _ = x.shape
        n = self.num_heads
        qkv = self.qkv(x).reshape(b, h * w, 3, n, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, nH, HW, d)
        bias = None
        if self.use_rel_pos:
            qf = q.reshape(b * n, h * w, -1)
            bias = rel_pos_bias(qf, self.rel_pos_h, self.rel_pos_w, (h, w)).view(b, n, h * w, h * w)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = out.permute(0, 2, 1, 3).reshape(b, h, w, -1)
        return self.proj(out)


def windowed_attention(attn: torch.nn.Module, x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Run ``attn`` on non-overlapping windows of a (B, H, W, C) grid (global if 0)."""
    if window_size <= 0:
        return attn(x)
    h, w = x.shape[1], x.shape[2]
    windows, pad_hw = window_partition(x, window_size)
    out = attn(windows)
    return window_unpartition(out, window_size, pad_hw, (h, w))


def use_fused_attention(model: torch.nn.Module, enabled: bool = True) -> int:
    """Switch every SAM-style relative-position attention in ``model`` to (or off)
    the fused SDPA path, in place; parameters are kept (same tensors).

    Returns the number of attention modules switched.
    """
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, RelPosAttention):
                child.fused = enabled
                count += 1
            elif isinstance(child, SamAttention):
                if not enabled:
                    continue
                dim = child.qkv.in_features
                size = ((child.rel_pos_h.shape[0] + 1) // 2, (child.rel_pos_w.shape[0] + 1) // 2) \
                    if child.use_rel_pos else (1, 1)
                new = RelPosAttention(dim, child.num_heads, size,
                                      qkv_bias=child.qkv.bias is not None, fused=True)
                new.use_rel_pos = child.use_rel_pos
                new.qkv, new.proj = child.qkv, child.proj
                if child.use_rel_pos:
                    new.rel_pos_h, new.rel_pos_w = child.rel_pos_h, child.rel_pos_w
                else:
                    del new.rel_pos_h, new.rel_pos_w
                new.train(child.training)
                setattr(parent, name, new)
                count += 1
    return count
