"""The three-channel uint8 event image the EventSAM backbone takes, by name.

The SEAL authors read precomputed three-channel images whose code is not
released; ``voxel`` (default) is ours: the 3-bin temporal-bilinear voxel grid
(polarity +1/-1) shifted to its minimum and scaled to 0..255 per image
(:func:`seal_ros.events.representations.event_image`). The others let users
match whatever representation their own weights were trained on.

:func:`make_event_image` builds it with numba/NumPy on the CPU;
:func:`make_event_image_tensor` builds the same image with torch on a device
(the model's GPU: no host round trip), within the tolerances stated in
:mod:`seal_ros.events.representations_torch`.
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.representations import event_image, polarity_histogram, time_surface
from seal_ros.events.types import EventArray

REPRESENTATIONS = ("voxel", "histogram", "time_surface")


def _scale(channels: np.ndarray) -> np.ndarray:
    """float (C, H, W), each channel scaled by the image's max to 0..255, as uint8 (H, W, C)."""
    hi = channels.max()
    out = channels / hi * 255.0 if hi > 0 else np.zeros_like(channels)
    return np.ascontiguousarray(np.floor(out + 0.5).astype(np.uint8).transpose(1, 2, 0))


def _unknown(kind: str) -> ValueError:
    return ValueError(f"unknown event representation {kind!r}; choose from {', '.join(REPRESENTATIONS)}")


def make_event_image(kind: str, events: EventArray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W, 3) event image of representation ``kind`` (one of :data:`REPRESENTATIONS`).

    - ``voxel``: see the module docstring;
    - ``histogram``: ON counts, OFF counts, and their sum, scaled by the image's largest count;
    - ``time_surface``: ON and OFF exponential time surfaces (tau 50 ms, in [0, 1]) and their max.
    """
    if kind == "voxel":
        return event_image(events, width, height, num_bins=3)
    if kind == "histogram":
        h = polarity_histogram(events, width, height)
        return _scale(np.concatenate([h, h.sum(0, keepdims=True)]))
    if kind == "time_surface":
        ts = time_surface(events, width, height)
        img = np.concatenate([ts, ts.max(0, keepdims=True)]) * 255.0
        return np.ascontiguousarray(np.floor(img + 0.5).astype(np.uint8).transpose(1, 2, 0))
    raise _unknown(kind)


def make_event_image_tensor(kind: str, events: EventArray, width: int, height: int, device=None):
    """:func:`make_event_image` built with torch on ``device``: a uint8 (H, W, 3) tensor there."""
    import torch

    from seal_ros.events import representations_torch as RT

    if kind == "voxel":
        return RT.event_image_torch(events, width, height, num_bins=3, device=device)
    if kind == "histogram":
        h = RT.polarity_histogram_torch(events, width, height, device=device)
        c = torch.cat([h, h.sum(0, keepdim=True)])
        hi = c.amax()
        out = torch.where(hi > 0, c / torch.where(hi > 0, hi, torch.ones_like(hi)) * 255.0, torch.zeros_like(c))
        return torch.floor(out + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous()
    if kind == "time_surface":
        ts = RT.time_surface_torch(events, width, height, device=device)
        img = torch.cat([ts, ts.amax(0, keepdim=True)]) * 255.0
        return torch.floor(img + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous()
    raise _unknown(kind)
