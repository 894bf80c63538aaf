"""Prompts for the SEAL protocol: one per ground-truth instance.

Both kinds are given in the model's input frame (``size`` = (H, W), 512x512 by
default): the mask is resized there with nearest-neighbour sampling first.

- box: the tight box of the mask, ``[x0, y0, x1, y1]`` with inclusive pixel
  indices (as ``torchvision.ops.masks_to_boxes``);
- points: 3 farthest-point-sampled foreground pixels ``(x, y)``; the first is
  the foreground pixel nearest the mask's centroid (deterministic), each next
  one the foreground pixel farthest from those already chosen.
"""
from __future__ import annotations

import cv2
import numpy as np


def resize_mask(mask: np.ndarray, size=(512, 512)) -> np.ndarray:
    h, w = size
    m = np.asarray(mask, dtype=np.uint8)
    if m.shape == (h, w):
        return m.astype(bool)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight ``[x0, y0, x1, y1]`` (inclusive) of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError("empty mask has no box")
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float32)


def box_prompt(mask: np.ndarray, size=(512, 512)) -> np.ndarray:
    """The tight box of ``mask`` after resizing it to ``size``."""
    m = resize_mask(mask, size)
    if not m.any():  # tiny instance vanished under resizing: scale its native box
        b = mask_box(np.asarray(mask, bool))
        sy, sx = size[0] / mask.shape[0], size[1] / mask.shape[1]
        return np.array([b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy], dtype=np.float32)
    return mask_box(m)


def farthest_points(mask: np.ndarray, n: int = 3) -> np.ndarray:
    """``n`` farthest-point-sampled foreground pixels of ``mask`` as float32 (n, 2) ``(x, y)``."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError("empty mask has no points")
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    centroid = pts.mean(axis=0)
    idx = [int(np.argmin(((pts - centroid) ** 2).sum(1)))]
    dist = ((pts - pts[idx[0]]) ** 2).sum(1)
    while len(idx) < min(n, len(pts)):
        nxt = int(np.argmax(dist))
        idx.append(nxt)
        dist = np.minimum(dist, ((pts - pts[nxt]) ** 2).sum(1))
    out = pts[idx]
    if len(out) < n:  # fewer pixels than points: repeat the last
        out = np.concatenate([out, np.repeat(out[-1:], n - len(out), 0)])
    return out.astype(np.float32)


def point_prompt(mask: np.ndarray, size=(512, 512), n: int = 3) -> np.ndarray:
    m = resize_mask(mask, size)
    if not m.any():
        p = farthest_points(np.asarray(mask, bool), n)
        return p * np.array([size[1] / mask.shape[1], size[0] / mask.shape[0]], np.float32)
    return farthest_points(m, n)
