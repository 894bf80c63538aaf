"""From a reconstructed intensity map to a steady uint8 picture.

* ``percentile`` (high-pass filter output, arbitrary scale): robust bounds are
  the ``low``/``high`` percentiles of each frame (on a pixel subsample),
  widened when needed to ``center +- min_half_span`` so that a frame where
  most pixels saw no event (all at the neutral value) does not collapse to
  black or white;
* ``auto_hdr`` (network output in [0, 1], rpg_e2vid's auto-HDR): bounds are
  the frame's min and max, clipped to [0, 0.45] and [0.55, 1] so the span is
  never below 0.1;
* ``fixed``: [0, 1] maps to [0, 255] (evaluation).

The bounds are smoothed over time by the median of the last ``history``
frames (rpg: 10), so brightness does not flicker. An optional unsharp mask
(``img + amount * (img - gaussian(img, sigma))``, rpg: amount 0.3, sigma 1)
runs on the normalised image.
"""
from __future__ import annotations

import collections

import numpy as np

MODES = ("percentile", "auto_hdr", "fixed")


class Display:
    def __init__(self, mode: str = "percentile", low: float = 1.0, high: float = 99.0, history: int = 10,
                 unsharp_amount: float = 0.0, unsharp_sigma: float = 1.0, subsample: int = 4,
                 center: float | None = None, min_half_span: float = 0.0):
        if mode not in MODES:
            raise ValueError(f"display mode must be one of {MODES}, not {mode!r}")
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"need 0 <= low < high <= 100, got {low}, {high}")
        self.mode, self.low, self.high = mode, float(low), float(high)
        self.unsharp_amount, self.unsharp_sigma = float(unsharp_amount), float(unsharp_sigma)
        self.subsample = max(1, int(subsample))
        self.center, self.min_half_span = center, float(min_half_span)
        self.bounds = collections.deque(maxlen=max(1, int(history)))

    def reset(self) -> None:
        self.bounds.clear()

    def _frame_bounds(self, img: np.ndarray) -> tuple[float, float]:
        if self.mode == "fixed":
            return 0.0, 1.0
        if self.mode == "auto_hdr":
            return float(np.clip(img.min(), 0.0, 0.45)), float(np.clip(img.max(), 0.55, 1.0))
        sample = img.ravel()[:: self.subsample]
        lo, hi = np.percentile(sample, (self.low, self.high))
        if self.center is not None:  # keep the neutral value inside a minimum range
            lo = min(lo, self.center - self.min_half_span)
            hi = max(hi, self.center + self.min_half_span)
        return float(lo), float(hi)

    def range(self, img: np.ndarray) -> tuple[float, float]:
        """Smoothed (lo, hi) after taking ``img`` into account."""
        self.bounds.append(self._frame_bounds(img))
        lo = float(np.median([b[0] for b in self.bounds]))
        hi = float(np.median([b[1] for b in self.bounds]))
        if hi - lo < 1e-6:
            hi = lo + 1e-6
        return lo, hi

    def normalize(self, img: np.ndarray) -> np.ndarray:
        """float32 in [0, 1]: smoothed range applied, then the unsharp mask."""
        img = np.asarray(img, np.float32)
        lo, hi = self.range(img)
        out = (img - lo) / (hi - lo)
        if self.unsharp_amount > 0:
            import cv2

            blurred = cv2.GaussianBlur(out, (0, 0), self.unsharp_sigma)
            out = out + self.unsharp_amount * (out - blurred)
        return np.clip(out, 0.0, 1.0)

    @staticmethod
    def to_uint8(normalized: np.ndarray) -> np.ndarray:
        return (normalized * 255.0 + 0.5).astype(np.uint8)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return self.to_uint8(self.normalize(img))
