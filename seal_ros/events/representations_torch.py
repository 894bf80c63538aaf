"""The dense event representations of :mod:`seal_ros.events.representations`, built with torch on any device.

The segmenter builds its event image where the model runs (a GPU: no CPU pass
over the window, no host round trip of the image), from the decoded events
copied once to the device, without a device->host synchronisation. Same definitions
and the same operation order as the numba/NumPy path; what can differ and by how much (tested in
``test/test_representations_torch.py`` on random events and the shared evt3 recording):

* voxel grid: events are summed into the cells in a different order (and in
  float64 here, float32 in numba; on a GPU, by atomics in any order), so a cell
  may differ by the float32 rounding of a sum (relative ~1e-6);
* ``event_image`` (voxel): the min-shift and 0..255 scaling is the same float64
  arithmetic, so the uint8 images are equal except where a cell's sum lies within
  that rounding of a half level: then by one level, at a handful of pixels a window;
* ``histogram``: counts are integers and the scaling is the same float32
  arithmetic: bit-exact;
* ``time_surface``: ``exp`` of the device's maths library (1 ulp): at most one level.
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.representations import _check
from seal_ros.events.types import EventArray

__all__ = ["events_to_device", "voxel_grid_torch", "event_image_torch", "polarity_histogram_torch",
           "time_surface_torch", "scaled_hwc_torch"]


def events_to_device(events: EventArray, device):
    """(x, y, p, t) as int64/int64/bool/int64 tensors on ``device`` (one copy of each array; x and y
    travel as 16-bit and widen there)."""
    import torch

    def move(a, view=None):
        t = torch.from_numpy(np.ascontiguousarray(a).view(view) if view else np.ascontiguousarray(a))
        return t.to(device, non_blocking=True)

    x = move(events.x, np.int16).to(torch.int64) & 0xFFFF
    y = move(events.y, np.int16).to(torch.int64) & 0xFFFF
    return x, y, move(events.p) != 0, move(events.t)


def _voxel_flat(events: EventArray, num_bins: int, width: int, height: int, device, dtype):
    import torch

    B, H, W = int(num_bins), int(height), int(width)
    grid = torch.zeros(B * H * W, dtype=dtype, device=device)
    if not len(events):
        return grid
    x, y, p, t = events_to_device(events, device)
    span = int(events.t[-1]) - int(events.t[0])
    fspan = float(span if span != 0 else 1)
    # numba's order: (B - 1) * (t - t0) / span, in float64; truncation toward zero
    ts = float(B - 1) * (t - t[0]).to(torch.float64) / fspan
    ti = ts.to(torch.int64)
    dt = ts - ti.to(torch.float64)
    pol = torch.where(p, 1.0, -1.0).to(torch.float64)
    base = x + y * W
    for off, val in ((0, pol * (1.0 - dt)), (1, pol * dt)):
        b = ti + off
        ok = (b >= 0) & (b < B)
        # out-of-range bins add an exact 0 to cell 0 (no boolean indexing: no device->host sync)
        grid.index_add_(0, torch.where(ok, base + b * (H * W), 0), torch.where(ok, val, 0.0).to(dtype))
    return grid


def voxel_grid_torch(events: EventArray, num_bins: int, width: int, height: int, normalize: bool = False,
                     device=None):
    """float32 tensor ``(B, H, W)`` on ``device``: :func:`seal_ros.events.representations.voxel_grid`
    (summed in float64, then rounded to float32)."""
    import torch

    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    _check(events, width, height)
    grid = _voxel_flat(events, num_bins, width, height, device, torch.float64).to(torch.float32)
    grid = grid.view(int(num_bins), int(height), int(width))
    if normalize:
        nz = grid != 0
        k = int(nz.sum())
        if k:
            mean = grid.double().sum() / k
            var = (grid.double() ** 2).sum() / k - mean ** 2
            vals = grid[nz].double() - mean
            if float(var) > 0:
                vals = vals / torch.sqrt(var)
            grid[nz] = vals.float()
    return grid


def scaled_hwc_torch(v):
    """float (C, H, W) -> uint8 (H, W, C): ``floor((v - min) * 255 / (max - min) + 0.5)`` in float64
    (the numba ``_scaled_hwc``); all zeros when max == min. Stays on v's device (no host sync)."""
    import torch

    v64 = v.to(torch.float64)
    lo, hi = v64.amin(), v64.amax()
    span = hi - lo
    scale = 255.0 / torch.where(span > 0, span, torch.ones_like(span))
    q = torch.floor((v64 - lo) * scale + 0.5).clamp_(0.0, 255.0)
    q = torch.where(span > 0, q, torch.zeros_like(q))
    return q.to(torch.uint8).permute(1, 2, 0).contiguous()


def event_image_torch(events: EventArray, width: int, height: int, num_bins: int = 3, device=None):
    """uint8 tensor ``(H, W, num_bins)`` on ``device``: :func:`seal_ros.events.representations.event_image`."""
    return scaled_hwc_torch(voxel_grid_torch(events, num_bins, width, height, device=device))


def _pixel_index(events, width, height, device):
    x, y, p, t = events_to_device(events, device)
    return y * int(width) + x + (~p).to(x.dtype) * (int(width) * int(height)), t


def polarity_histogram_torch(events: EventArray, width: int, height: int, device=None):
    """float32 ``(2, H, W)`` on ``device``: channel 0 counts ON events, channel 1 OFF events."""
    import torch

    _check(events, width, height)
    W, H = int(width), int(height)
    if not len(events):
        return torch.zeros(2, H, W, dtype=torch.float32, device=device)
    idx, _ = _pixel_index(events, W, H, device)
    counts = torch.zeros(2 * H * W, dtype=torch.int64, device=idx.device)
    counts.index_add_(0, idx, torch.ones_like(idx))  # (bincount would sync to size its output)
    return counts.to(torch.float32).view(2, H, W)


def time_surface_torch(events: EventArray, width: int, height: int, tau_ns: float = 50e6, t_ref=None,
                       device=None):
    """float32 ``(2, H, W)`` on ``device``: :func:`seal_ros.events.representations.time_surface`."""
    import torch

    _check(events, width, height)
    if not tau_ns > 0:
        raise ValueError(f"tau_ns must be > 0, got {tau_ns}")
    W, H = int(width), int(height)
    if not len(events):
        return torch.zeros(2, H, W, dtype=torch.float32, device=device)
    idx, t = _pixel_index(events, W, H, device)
    floor = torch.iinfo(torch.int64).min
    last = torch.full((2 * H * W,), floor, dtype=torch.int64, device=device)
    last.scatter_reduce_(0, idx, t, reduce="amax")
    ref = t.max() if t_ref is None else torch.tensor(int(t_ref), device=t.device)
    seen = last != floor
    age = torch.clamp(ref - torch.where(seen, last, ref), min=0).to(torch.float64)
    vals = torch.exp(-age / float(tau_ns))
    return torch.where(seen, vals, torch.zeros_like(vals)).to(torch.float32).view(2, H, W)
