"""Spatial encoding of a candidate mask (SEAL's ``in_proj`` input).

For each mask: RoIAlign (7x7, then averaged) of the fused features inside the
mask's bounding box, concatenated with that mask's SAM mask token (256 + 256 at
full size); the model's ``in_proj`` (a ``nn.Linear``) maps the result to 256.
"""
from __future__ import annotations

from typing import Optional

import torch
from torchvision.ops import roi_align

__all__ = ["masks_to_boxes", "roi_mean", "spatial_query"]


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) float boxes (x0, y0, x1, y1), x1/y1 exclusive.

    An empty mask gets the whole frame (such candidates are dropped later anyway).
    """
    n, h, w = masks.shape
    cols = masks.any(dim=1)  # (N, W)
    rows = masks.any(dim=2)  # (N, H)
    xs = torch.arange(w, device=masks.device)
    ys = torch.arange(h, device=masks.device)
    x0 = torch.where(cols, xs, w).amin(dim=1)
    x1 = torch.where(cols, xs, -1).amax(dim=1) + 1
    y0 = torch.where(rows, ys, h).amin(dim=1)
    y1 = torch.where(rows, ys, -1).amax(dim=1) + 1
    some = cols.any(dim=1)
    # no host sync or host->device copy here (CUDA-graph safe)
    x0, y0 = torch.where(some, x0, 0), torch.where(some, y0, 0)
    x1, y1 = torch.where(some, x1, w), torch.where(some, y1, h)
    return torch.stack([x0, y0, x1, y1], dim=1).float()


def roi_mean(features: torch.Tensor, boxes: torch.Tensor, spatial_scale: float,
             output_size: int = 7, batch_index: Optional[torch.Tensor] = None) -> torch.Tensor:
    """RoIAlign ``output_size`` x ``output_size`` of (B, D, h, w) features in each box,
    averaged -> (N, D).  Boxes are in input pixels; ``spatial_scale`` = h / input size."""
    if batch_index is None:
        batch_index = torch.zeros(boxes.shape[0], device=boxes.device)
    rois = torch.cat([batch_index.to(boxes.dtype)[:, None], boxes], dim=1)
    # roi_align wants matching dtypes; it is cheap, keep it in fp32.
    pooled = roi_align(features.float(), rois.float(), output_size=output_size,
                       spatial_scale=spatial_scale, sampling_ratio=-1, aligned=False)
    return pooled.mean(dim=(2, 3)).to(features.dtype)


def spatial_query(in_proj: torch.nn.Module, features: torch.Tensor, masks: torch.Tensor,
                  tokens: torch.Tensor, output_size: int = 7,
                  batch_index: Optional[torch.Tensor] = None) -> torch.Tensor:
    """features (B, D, h, w) fused; masks (N, S, S) bool at the model input size;
    tokens (N, T) SAM mask tokens -> (N, D') = in_proj([roi_mean || token])."""
    scale = features.shape[-1] / masks.shape[-1]
    boxes = masks_to_boxes(masks)
    roi = roi_mean(features, boxes, scale, output_size, batch_index)
    return in_proj(torch.cat([roi, tokens.to(roi.dtype)], dim=-1))
