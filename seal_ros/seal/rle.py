"""Masks as run lengths: COCO's uncompressed RLE, the compact form ``InstanceMask.mask_rle`` carries.

A ``height x width`` bool mask is read in column-major order (x outer, y inner:
``mask.T.ravel()``, as COCO and ``pycocotools`` do) and written as the lengths
of its alternating runs, starting with a run of 0s (which is 0 long when the
first pixel is set); the counts add up to ``height * width``. An empty mask is
one count. ``pycocotools.mask.frPyObjects({"counts": list(counts), "size":
[height, width]}, height, width)`` reads the same counts.

:func:`encode_rle` runs on torch tensors on their device (the segmenter's GPU:
only the run boundaries travel to the host, not the masks); :func:`decode_rle`
and :func:`encode_rle_numpy` need only NumPy (a reader of the messages needs
nothing else).
"""
from __future__ import annotations

from typing import List

import numpy as np

__all__ = ["encode_rle", "encode_rle_numpy", "decode_rle", "rle_area", "rle_is_empty", "coco_rle"]


def coco_rle(mask: np.ndarray) -> dict:
    """pycocotools' *compressed* run-length encoding of a bool (H, W) mask, JSON-ready (the
    ``segmentation`` of COCO results files and of ``seal-ros segment``'s JSON)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _counts(boundaries: np.ndarray, first: bool, size: int) -> np.ndarray:
    """Run lengths from the positions where the value changes (ascending, in 1..size-1)."""
    edges = np.concatenate(([0], boundaries, [size])).astype(np.int64)
    counts = np.diff(edges)
    if first:
        counts = np.concatenate(([0], counts))
    return counts.astype(np.uint32)


def encode_rle(masks) -> List[np.ndarray]:
    """(N, H, W) bool torch tensor (any device) -> N uint32 count arrays (COCO order).

    One device->host copy of the run boundaries and first pixels, whatever N."""
    import torch

    n, h, w = masks.shape
    size = h * w
    if n == 0:
        return []
    flat = masks.to(torch.bool).transpose(1, 2).reshape(n, size)
    change = torch.nonzero(flat[:, 1:] != flat[:, :-1])  # (K, 2): mask, last index of a run
    packed = torch.cat([flat[:, 0].to(torch.int64), change[:, 0], change[:, 1] + 1]).cpu().numpy()
    first, rows, pos = packed[:n], packed[n:n + len(change)], packed[n + len(change):]
    splits = np.searchsorted(rows, np.arange(1, n))
    return [_counts(b, bool(f), size) for b, f in zip(np.split(pos, splits), first)]


def encode_rle_numpy(mask: np.ndarray) -> np.ndarray:
    """One (H, W) bool array -> uint32 counts (COCO order)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    flat = m.T.ravel()
    if flat.size == 0:
        return np.zeros(1, np.uint32)
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    return _counts(boundaries, bool(flat[0]), flat.size)


def decode_rle(counts, height: int, width: int) -> np.ndarray:
    """uint32 counts (COCO order) -> C-contiguous bool (height, width) mask.

    Raises ValueError when the counts do not add up to ``height * width``."""
    c = np.asarray(counts, dtype=np.int64).ravel()
    size = int(height) * int(width)
    if c.size == 0 or (c < 0).any() or int(c.sum()) != size:
        raise ValueError(f"run lengths add up to {int(c.sum()) if c.size else 0}, not {height} x {width} = {size}")
    values = (np.arange(c.size) % 2).astype(bool)
    return np.ascontiguousarray(np.repeat(values, c).reshape(int(width), int(height)).T)


def rle_area(counts) -> int:
    """Number of set pixels (the sum of the odd-position runs)."""
    return int(np.asarray(counts, dtype=np.int64)[1::2].sum())


def rle_is_empty(counts) -> bool:
    return rle_area(counts) == 0
