"""Spatial encoding of a candidate mask (SEAL's ``in_proj`` input), by the authors' RoI rule.

For each mask, exactly as the published model was trained and evaluated
(0nandon/SEAL ``SEAL.predict_label`` / ``get_batch_roi_bboxes``, RoI config
``output_size 7x7, spatial_scale 1.0, sampling_ratio -1, aligned True``):

1. the mask at the model input size is max-pooled to the feature grid
   (32x32 at full size): a cell is in when any of its pixels is;
2. its box in grid cells with *inclusive* maxima: ``x2`` is the last column
   holding a cell, not one past it; a mask one cell wide or high gives a
   zero-width or zero-height box;
3. ``torchvision.ops.roi_align`` of the fused features (B, D, g, g) in that box
   with ``spatial_scale=1.0`` and ``aligned=True``, 7x7, averaged over the
   cells. A zero-area box gives exactly 0 (the weights were trained with that).

The result is concatenated with that mask's SAM mask token (256 + 256 at full
size) and mapped to 256 by the model's ``in_proj`` (a ``nn.Linear``).
"""
from __future__ import annotations

from typing import Optional

import torch
from torchvision.ops import roi_align

__all__ = ["masks_to_boxes", "grid_roi_boxes", "roi_mean", "spatial_query"]

ROI_SPATIAL_SCALE = 1.0
ROI_ALIGNED = True
ROI_SAMPLING_RATIO = -1


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) float pixel boxes (x0, y0, x1, y1), x1/y1 exclusive
    (the reported box of a result mask; not the RoI rule).

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


def grid_roi_boxes(grid_masks: torch.Tensor) -> torch.Tensor:
    """(N, g, g) bool masks on the feature grid -> (N, 4) float boxes (x1, y1, x2, y2)
    in grid cells with inclusive maxima (the authors' ``get_batch_roi_bboxes``).

    An empty mask gets (0, 0, 0, 0) (a zero-area box; such candidates are dropped)."""
    cols = grid_masks.any(dim=1)  # (N, g) columns holding a cell
    rows = grid_masks.any(dim=2)
    g_w, g_h = grid_masks.shape[2], grid_masks.shape[1]
    xs = torch.arange(g_w, device=grid_masks.device)
    ys = torch.arange(g_h, device=grid_masks.device)
    x1 = torch.where(cols, xs, g_w).amin(dim=1)
    x2 = torch.where(cols, xs, -1).amax(dim=1)
    y1 = torch.where(rows, ys, g_h).amin(dim=1)
    y2 = torch.where(rows, ys, -1).amax(dim=1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1)
    return torch.where(cols.any(dim=1, keepdim=True), boxes, 0).float()


def roi_mean(features: torch.Tensor, boxes: torch.Tensor, output_size: int = 7,
             batch_index: Optional[torch.Tensor] = None) -> torch.Tensor:
    """RoIAlign ``output_size`` x ``output_size`` of (B, D, g, g) features in each box
    (grid cells, :func:`grid_roi_boxes`), averaged -> (N, D); fp32 like the authors'."""
    if batch_index is None:
        batch_index = torch.zeros(boxes.shape[0], device=boxes.device)
    rois = torch.cat([batch_index.to(torch.float32)[:, None], boxes.float()], dim=1)
    pooled = roi_align(features.float(), rois, output_size=output_size,
                       spatial_scale=ROI_SPATIAL_SCALE, sampling_ratio=ROI_SAMPLING_RATIO,
                       aligned=ROI_ALIGNED)
    return pooled.mean(dim=(2, 3)).to(features.dtype)


def spatial_query(in_proj: torch.nn.Module, features: torch.Tensor, grid_masks: torch.Tensor,
                  tokens: torch.Tensor, output_size: int = 7,
                  batch_index: Optional[torch.Tensor] = None) -> torch.Tensor:
    """features (B, D, g, g) fused; grid_masks (N, g, g) bool (the masks max-pooled to
    the grid); tokens (N, T) SAM mask tokens -> (N, D') = in_proj([roi_mean || token])."""
    roi = roi_mean(features, grid_roi_boxes(grid_masks), output_size, batch_index)
    return in_proj(torch.cat([roi, tokens.to(roi.dtype)], dim=-1))
