"""From a network's output to a uint8 picture, as rpg_e2vid's ``ImageReconstructor`` does it.

Reference: uzh-rpg/rpg_e2vid ``utils/inference_utils.py`` (``UnsharpMaskFilter``,
``IntensityRescaler``, ``gkern``) and its default options. On the padded
network output (1 x 1 x H' x W', before cropping):

1. unsharp mask: ``(1 + amount) img - amount conv2d(img, K)`` with the 5x5
   kernel ``K = gkern(5, sigma)`` and zero padding (amount 0.3, sigma 1);
2. intensity rescaling: ``255 (img - Imin) / (Imax - Imin)``, clamped to
   [0, 255] and truncated to uint8; ``Imin``/``Imax`` are 0 / 1, or with
   ``auto_hdr`` (off by default, as in rpg) the image's min / max clipped to
   [0, 0.45] / [0.55, 1], each the median over the last up to 11 frames (rpg
   drops the oldest once more than ``median_size`` = 10 are held).

``gkern(n, nsig)``: the outer product of the differences of the normal CDF
over ``n + 1`` points spanning ``+-(nsig + interval / 2)``, square-rooted and
normalised (rpg's construction; ``nsig`` is what rpg calls the sigma).
"""
from __future__ import annotations

import collections

import numpy as np

UNSHARP_AMOUNT = 0.3
UNSHARP_SIGMA = 1.0
KERNEL_SIZE = 5


def gkern(size: int = KERNEL_SIZE, nsig: float = UNSHARP_SIGMA) -> np.ndarray:
    """rpg_e2vid's 2-D Gaussian kernel (float32, sums to 1)."""
    from scipy.stats import norm

    interval = (2 * nsig + 1.0) / size
    x = np.linspace(-nsig - interval / 2.0, nsig + interval / 2.0, size + 1)
    k1 = np.diff(norm.cdf(x))
    raw = np.sqrt(np.outer(k1, k1))
    return (raw / raw.sum()).astype(np.float32)


class RpgDisplay:
    """Unsharp mask, then intensity rescaling to uint8, on a (1, 1, H, W) torch tensor."""

    def __init__(self, unsharp_amount: float = UNSHARP_AMOUNT, unsharp_sigma: float = UNSHARP_SIGMA,
                 auto_hdr: bool = False, i_min: float = 0.0, i_max: float = 1.0, median_size: int = 10):
        if unsharp_amount < 0:
            raise ValueError(f"unsharp_amount must be >= 0, got {unsharp_amount}")
        self.unsharp_amount, self.unsharp_sigma = float(unsharp_amount), float(unsharp_sigma)
        self.auto_hdr = bool(auto_hdr)
        self.i_min0, self.i_max0 = float(i_min), float(i_max)
        self.median_size = int(median_size)
        self._kernel = None
        self.reset()

    def reset(self) -> None:
        self.i_min, self.i_max = self.i_min0, self.i_max0
        self.bounds = collections.deque()

    def unsharp(self, img):
        import torch
        import torch.nn.functional as F

        if self.unsharp_amount <= 0:
            return img
        if self._kernel is None or self._kernel.device != img.device:
            self._kernel = torch.from_numpy(gkern(KERNEL_SIZE, self.unsharp_sigma))[None, None].to(img.device)
        blurred = F.conv2d(img, self._kernel, padding=KERNEL_SIZE // 2)
        return (1 + self.unsharp_amount) * img - self.unsharp_amount * blurred

    def rescale(self, img):
        if self.auto_hdr:
            lo = float(np.clip(img.min().item(), 0.0, 0.45))
            hi = float(np.clip(img.max().item(), 0.55, 1.0))
            if len(self.bounds) > self.median_size:
                self.bounds.popleft()
            self.bounds.append((lo, hi))
            self.i_min = float(np.median([b[0] for b in self.bounds]))
            self.i_max = float(np.median([b[1] for b in self.bounds]))
        img = 255.0 * (img - self.i_min) / (self.i_max - self.i_min)
        return img.clamp_(0.0, 255.0).byte()

    def __call__(self, img):
        """uint8 tensor of ``img``'s shape."""
        return self.rescale(self.unsharp(img))
