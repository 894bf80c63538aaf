"""Dense event representations (numpy/numba on the CPU; the torch versions, on any device, are in
:mod:`seal_ros.events.representations_torch`).

* :func:`voxel_grid` -- the E2VID voxel grid exactly as rpg_e2vid builds it:
  ``ts = (B - 1) * (t - t_first) / (t_last - t_first)`` (``t_first``/``t_last``
  the first and last events in the array; a zero span counts as 1),
  polarity +1 (ON) / -1 (OFF), each event split bilinearly between bins
  ``floor(ts)`` (weight ``1 - frac``) and ``floor(ts) + 1`` (weight ``frac``),
  contributions to bins outside ``0..B-1`` discarded. With ``normalize`` the
  non-zero cells are standardised: mean and std over non-zero cells, then
  ``mask * (v - mean) / std`` (std 0 -> only the mean is removed).
* :func:`polarity_histogram` -- per-pixel counts, channel 0 ON, channel 1 OFF.
* :func:`time_surface` -- per polarity, ``exp(-(t_ref - t_last) / tau)`` of the
  latest event at each pixel (0 where none).
* :func:`event_image` -- the EventSAM input: a ``num_bins`` (3) voxel grid as
  above (no normalisation), shifted by its minimum and scaled by its range
  to ``0..255``, rounded, ``uint8`` ``H x W x num_bins``; all-equal -> zeros.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seal_ros.events.types import EventArray


def _check(events: EventArray, width: int, height: int) -> None:
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"bad size {width}x{height}")
    if len(events) and (int(events.x.max()) >= width or int(events.y.max()) >= height):
        raise ValueError(f"events outside the {width}x{height} sensor")


@njit(cache=True, nogil=True)
def _voxel_kernel(x, y, p, t, num_bins, width, height, grid):
    n = t.shape[0]
    if n == 0:
        return
    t0 = t[0]
    span = t[n - 1] - t0
    if span == 0:
        span = 1
    bm1 = float(num_bins - 1)
    fspan = float(span)
    plane = width * height
    flat = grid.reshape(-1)
    for i in range(n):
        ts = bm1 * (t[i] - t0) / fspan  # rpg_e2vid's order of operations
        ti = int(ts)  # truncation toward zero, as numpy's astype(int)
        dt = ts - ti
        pol = 1.0 if p[i] else -1.0
        base = x[i] + y[i] * width
        if 0 <= ti < num_bins:
            flat[base + ti * plane] += pol * (1.0 - dt)
        if 0 <= ti + 1 < num_bins:
            flat[base + (ti + 1) * plane] += pol * dt


def normalize_voxel(grid: np.ndarray) -> np.ndarray:
    """rpg_e2vid's normalisation over non-zero cells (in place; returns ``grid``)."""
    nz = grid != 0
    k = int(np.count_nonzero(nz))
    if k:
        mean = grid.sum(dtype=np.float64) / k
        var = (grid.astype(np.float64) ** 2).sum() / k - mean ** 2
        std = np.sqrt(var) if var > 0 else 0.0
        vals = grid[nz] - mean
        if std > 0:
            vals = vals / std
        grid[nz] = vals
    return grid


def voxel_grid(events: EventArray, num_bins: int, width: int, height: int, normalize: bool = False) -> np.ndarray:
    """float32 ``(num_bins, height, width)`` E2VID voxel grid."""
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    _check(events, width, height)
    grid = np.zeros((int(num_bins), int(height), int(width)), np.float32)
    _voxel_kernel(events.x, events.y, events.p, events.t, int(num_bins), int(width), int(height), grid)
    return normalize_voxel(grid) if normalize else grid


def voxel_grid_torch(events: EventArray, num_bins: int, width: int, height: int, normalize: bool = False,
                     device=None):
    """The same voxel grid built with torch on ``device``: float32 tensor ``(B, H, W)``
    (:mod:`seal_ros.events.representations_torch`, where the other torch representations live)."""
    from seal_ros.events.representations_torch import voxel_grid_torch as impl

    return impl(events, num_bins, width, height, normalize=normalize, device=device)


def polarity_histogram(events: EventArray, width: int, height: int) -> np.ndarray:
    """float32 ``(2, H, W)``: channel 0 counts ON events, channel 1 OFF events."""
    _check(events, width, height)
    W, H = int(width), int(height)
    idx = events.y.astype(np.int64) * W + events.x
    idx += np.where(events.p != 0, 0, H * W)
    return np.bincount(idx, minlength=2 * H * W).astype(np.float32).reshape(2, H, W)


def time_surface(events: EventArray, width: int, height: int, tau_ns: float = 50e6, t_ref=None) -> np.ndarray:
    """float32 ``(2, H, W)`` exponential time surface (channel 0 ON, 1 OFF).

    ``t_ref`` defaults to the latest event time; pixels without an event are 0.
    """
    _check(events, width, height)
    if not tau_ns > 0:
        raise ValueError(f"tau_ns must be > 0, got {tau_ns}")
    W, H = int(width), int(height)
    out = np.zeros((2, H, W), np.float32)
    if not len(events):
        return out
    t_ref = int(events.t.max()) if t_ref is None else int(t_ref)
    last = np.full(2 * H * W, np.iinfo(np.int64).min, np.int64)
    idx = events.y.astype(np.int64) * W + events.x + np.where(events.p != 0, 0, H * W)
    np.maximum.at(last, idx, events.t)
    seen = last != np.iinfo(np.int64).min
    vals = np.exp(-np.maximum(t_ref - last[seen], 0) / float(tau_ns))
    flat = out.reshape(-1)
    flat[seen] = vals
    return out


@njit(cache=True, nogil=True)
def _scaled_hwc(v, out):
    """``out[y, x, b] = floor((v[b, y, x] - min) * 255 / (max - min) + 0.5)`` in one pass each
    (float64 arithmetic, as numpy would do it); all zeros when max == min."""
    B, H, W = v.shape
    lo = np.float64(v[0, 0, 0])
    hi = lo
    for b in range(B):
        for y in range(H):
            for x in range(W):
                f = np.float64(v[b, y, x])
                if f < lo:
                    lo = f
                elif f > hi:
                    hi = f
    if hi <= lo:
        return
    scale = 255.0 / (hi - lo)
    for y in range(H):
        for x in range(W):
            for b in range(B):
                q = np.floor((np.float64(v[b, y, x]) - lo) * scale + 0.5)
                out[y, x, b] = 255 if q > 255.0 else (0 if q < 0.0 else np.uint8(q))


def event_image(events: EventArray, width: int, height: int, num_bins: int = 3) -> np.ndarray:
    """uint8 ``(H, W, num_bins)`` EventSAM input (see the module docstring)."""
    v = voxel_grid(events, num_bins, width, height)
    out = np.zeros((int(height), int(width), int(num_bins)), np.uint8)
    _scaled_hwc(v, out)
    return out
