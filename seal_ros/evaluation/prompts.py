"""Prompts of the SEAL protocol, one per ground-truth instance, as the authors' code makes them.

0nandon/SEAL ``SEAL.generate_prompt`` on the ground-truth mask at the model
input size (512 x 512 for the published model; :func:`resize_nearest`, the
authors' ``F.interpolate(..., mode="nearest")``):

- box: ``[x_min, y_min, x_max, y_max]`` of the foreground pixels, inclusive
  (``np.argwhere`` min / max): a one-pixel-wide instance gives ``x_min == x_max``;
- points, ``sample="furthest"`` (the evaluation's choice): 3 points by
  furthest-point sampling over the foreground pixels taken in row-major order
  as ``(x, y, 0)``, with pointnet2's CUDA kernel (the authors'
  ``pointnet2/pointnet2_utils.furthest_point_sample``, facebookresearch/votenet's
  ``sampling_gpu.cu``): the first point is index 0 (the first foreground pixel),
  a pixel at the origin is skipped, and ties go the way the kernel's thread
  reduction sends them (:func:`furthest_point_sample` emulates it exactly; the
  coordinates are small integers, so every distance is exact in float32);
- points, ``sample="random"``: ``choice(n, 3)`` with replacement, as
  ``np.random.choice``; here from a seeded ``numpy.random.RandomState`` (the
  authors' run is unseeded).

All labels are 1 (foreground).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["resize_nearest", "box_prompt", "furthest_point_sample", "point_prompt", "POINT_SAMPLES",
           "NUM_POINTS"]

POINT_SAMPLES = ("furthest", "random")
NUM_POINTS = 3
_FPS_MAX_THREADS = 512  # TOTAL_THREADS of the kernel's cuda_utils.h
_FPS_INIT = np.float32(1e10)  # the wrapper's temp buffer


def resize_nearest(masks: np.ndarray, size) -> np.ndarray:
    """(K, H, W) bool -> (K, size, size) (or (K, *size) for a pair) bool with torch's nearest
    interpolation (the authors' ``F.interpolate(masks[None].float(), size, mode="nearest")``)."""
    hw = (int(size), int(size)) if np.isscalar(size) else tuple(int(v) for v in size)
    m = torch.from_numpy(np.ascontiguousarray(masks, dtype=bool))
    if tuple(m.shape[-2:]) == hw:
        return m.numpy().copy()
    if m.shape[0] == 0:
        return np.zeros((0, *hw), bool)
    return (F.interpolate(m[None].float(), size=hw, mode="nearest")[0] > 0.5).numpy()


def box_prompt(mask: np.ndarray):
    """The authors' box ``[x_min, y_min, x_max, y_max]`` (inclusive) of a mask; None when empty."""
    idx = np.argwhere(mask)
    if idx.size == 0:
        return None
    y0, x0 = idx.min(axis=0)
    y1, x1 = idx.max(axis=0)
    return np.array([x0, y0, x1, y1])


def _n_threads(n: int) -> int:
    """The kernel's ``opt_n_threads``: 2**int(log(n) / log(2)), at most 512, at least 1."""
    pow_2 = int(math.log(n) / math.log(2.0)) if n > 0 else 0
    return max(min(1 << pow_2, _FPS_MAX_THREADS), 1)


def furthest_point_sample(xyz: np.ndarray, m: int) -> np.ndarray:
    """Indices (m,) chosen by pointnet2's ``furthest_point_sampling_kernel`` on (n, 3) points.

    Per step every thread ``t`` of a block of ``B`` scans points ``t, t+B, ...``
    and keeps its first strict maximum of ``min(distance to the last pick,
    running distance)``; the block then reduces pairs ``(t, t+B/2)``, ... keeping
    the left one unless the right one is strictly larger."""
    xyz = np.asarray(xyz, dtype=np.float32)
    n = len(xyz)
    if n == 0:
        raise ValueError("furthest point sampling of no points")
    block = _n_threads(n)
    rows = -(-n // block)
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    skip = (x * x + y * y + z * z) <= np.float32(1e-3)
    temp = np.full(n, _FPS_INIT, np.float32)
    out = np.zeros(m, np.int64)
    old = 0
    for j in range(1, m):
        d = (x - x[old]) * (x - x[old]) + (y - y[old]) * (y - y[old]) + (z - z[old]) * (z - z[old])
        d2 = np.minimum(d, temp)
        temp = np.where(skip, temp, d2)
        cand = np.full(rows * block, -np.inf, np.float32)
        cand[:n] = np.where(skip, -np.inf, d2)
        cand = cand.reshape(rows, block)  # [r, t] = point r * block + t
        first = cand.argmax(axis=0)  # a thread's first strict maximum
        best = cand[first, np.arange(block)]
        best_i = first * block + np.arange(block)
        none = best == -np.inf  # a thread with nothing to look at keeps (-1, 0)
        best, best_i = np.where(none, -1.0, best), np.where(none, 0, best_i)
        half = block // 2
        while half >= 1:
            right = best[half:2 * half] > best[:half]
            best_i[:half] = np.where(right, best_i[half:2 * half], best_i[:half])
            best[:half] = np.where(right, best[half:2 * half], best[:half])
            half //= 2
        old = int(best_i[0])
        out[j] = old
    return out


def point_prompt(mask: np.ndarray, sample: str = "furthest", rng=None, n: int = NUM_POINTS):
    """(points (n, 2) ``(x, y)``, labels (n,) ones) of a mask as the authors' ``generate_prompt``;
    None when the mask is empty. ``rng``: a ``numpy.random.RandomState`` for ``"random"``."""
    rows, cols = np.where(mask)
    if rows.size == 0:
        return None
    pts = np.stack([cols, rows], axis=1)
    if sample == "furthest":
        xyz = np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)
        pts = pts[furthest_point_sample(xyz, n)]
    elif sample == "random":
        rng = rng if rng is not None else np.random.RandomState(0)
        pts = pts[rng.choice(len(pts), n)]
    else:
        raise ValueError(f"point sampling must be one of {POINT_SAMPLES}, got {sample!r}")
    return pts, np.ones(len(pts), np.int64)
