"""Event image -> model input, and coordinates between sensor pixels and the model.

The input convention of SEAL's released code: a 3-channel uint8 event image,
scaled to [0, 1], resized bilinearly to 512 x 512 *without* keeping the aspect
ratio, normalised with ImageNet mean/std (SAM's own pixel normalisation and
padding are skipped).  Prompts are scaled per axis by 512/W and 512/H; masks go
back to the sensor size by bilinear resizing of the logits.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "preprocess_event_image", "event_image_tensor",
           "normalize_event_tensor", "ResizeTransform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def event_image_tensor(image, device="cpu") -> torch.Tensor:
    """Checks a uint8 (H, W, 3) event image (a NumPy array, or a tensor on any device, e.g. one
    built there by :func:`seal_ros.segment.event_images.make_event_image_tensor`) and puts it on
    ``device`` (still uint8)."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != torch.uint8 or image.numel() == 0:
            raise ValueError(f"event image tensor must be a non-empty uint8 (H, W, 3), got "
                             f"{image.dtype} {tuple(image.shape)}")
        return image.to(device, non_blocking=True)
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"event image must be an (H, W, 3) array, got {getattr(image, 'shape', type(image))}")
    if image.dtype != np.uint8:
        raise ValueError(f"event image must be uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"event image is empty: {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image)).to(device, non_blocking=True)


_STATS: dict = {}


def _stats(device: torch.device):
    key = str(device)
    if torch.compiler.is_exporting():  # tracing for ONNX: constants of the graph, never cached
        return (torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1),
                torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))
    if key not in _STATS:  # made once per device, outside any CUDA-graph capture
        _STATS[key] = (torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1),
                       torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))
    return _STATS[key]


def normalize_event_tensor(x: torch.Tensor, size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (H, W, 3) tensor -> [0, 1] -> bilinear size x size (aspect not kept) ->
    ImageNet mean/std, (1, 3, size, size)."""
    x = x.permute(2, 0, 1)[None].to(torch.float32) / 255.0
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)
    mean, std = _stats(x.device)
    return ((x - mean) / std).to(dtype)


def preprocess_event_image(image: np.ndarray, size: int, device="cpu",
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (H, W, 3) -> normalised (1, 3, size, size) tensor on ``device``."""
    return normalize_event_tensor(event_image_tensor(image, device), size, dtype)


class ResizeTransform:
    """Maps sensor pixel coordinates (H, W) to the square model input (size x size)."""

    def __init__(self, height: int, width: int, size: int) -> None:
        self.height, self.width, self.size = int(height), int(width), int(size)
        self.sx = size / float(width)
        self.sy = size / float(height)

    def boxes(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) x0, y0, x1, y1 in sensor pixels -> model pixels."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        b[:, [0, 2]] *= self.sx
        b[:, [1, 3]] *= self.sy
        return b

    def points(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) x, y in sensor pixels -> model pixels."""
        p = np.asarray(points, dtype=np.float64).copy()
        p[..., 0] *= self.sx
        p[..., 1] *= self.sy
        return p

    def masks_to_sensor(self, logits: torch.Tensor, threshold: float = 0.0,
                        size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """(N, h, w) mask logits (any square resolution) -> (N, H, W) bool at the sensor size."""
        h, w = size if size is not None else (self.height, self.width)
        up = F.interpolate(logits[:, None].float(), (h, w), mode="bilinear", align_corners=False)
        return up[:, 0] > threshold
