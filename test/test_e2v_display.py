"""rpg_e2vid's display (unsharp mask before rescaling, truncation, auto-HDR) and the padding to a network's stride."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seal_ros.e2v.display import RpgDisplay, gkern
from seal_ros.e2v.network import Padding


def _cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_kernel_is_rpgs_gkern():
    # gkern(5, 1): differences of the normal CDF over 6 points spanning +-(1 + 0.3), outer product, sqrt, normalised
    xs = np.linspace(-1.3, 1.3, 6)
    k1 = np.diff([_cdf(x) for x in xs])
    raw = np.sqrt(np.outer(k1, k1))
    np.testing.assert_allclose(gkern(5, 1.0), raw / raw.sum(), rtol=1e-6)


def test_unsharp_before_rescaling_with_a_zero_padded_kernel_and_truncation():
    d = RpgDisplay()  # rpg defaults: amount 0.3, sigma 1, Imin 0, Imax 1, no auto-HDR
    img = torch.full((1, 1, 7, 7), 0.5)
    k = gkern(5, 1.0)
    out = d(img.clone())
    # the centre sees the whole kernel: (1.3 - 0.3) * 0.5 -> 127.5 truncated to 127 (rpg's .byte(), not rounding)
    assert int(out[0, 0, 3, 3]) == 127
    # a corner sees zeros beyond the edge: blurred = 0.5 * (sum of the kernel's lower-right 3x3)
    blurred = 0.5 * k[2:, 2:].sum()
    assert int(out[0, 0, 0, 0]) == int(255 * (1.3 * 0.5 - 0.3 * blurred))
    # values above Imax are clamped to 255, below Imin to 0
    assert int(d(torch.full((1, 1, 3, 3), 2.0))[0, 0, 1, 1]) == 255
    assert int(RpgDisplay(unsharp_amount=0)(torch.full((1, 1, 3, 3), -1.0)).max()) == 0


def test_auto_hdr_takes_the_median_of_up_to_eleven_frames():
    d = RpgDisplay(unsharp_amount=0.0, auto_hdr=True)
    img = torch.full((1, 1, 4, 4), 0.5)
    img[0, 0, 0, 0], img[0, 0, 3, 3] = 0.49, 0.51  # a span below 0.1: bounds clipped to 0.45 / 0.55
    out = d(img.clone())
    assert (d.i_min, d.i_max) == pytest.approx((0.45, 0.55))
    assert int(out[0, 0, 0, 0]) == int(255 * 0.04 / 0.1)
    for _ in range(20):
        d(torch.linspace(0.2, 0.9, 16).reshape(1, 1, 4, 4))
    assert len(d.bounds) == 11  # rpg pops only once more than 10 are held
    assert (d.i_min, d.i_max) == pytest.approx((0.2, 0.9))


@pytest.mark.parametrize("w,h,enc,expect", [(346, 260, 4, (352, 272, 3, 3, 6, 6)),
                                            (345, 259, 4, (352, 272, 4, 3, 7, 6)),
                                            (346, 260, 0, (346, 260, 0, 0, 0, 0)),
                                            (37, 29, 3, (40, 32, 2, 1, 2, 1))])
def test_padding_to_the_stride_ceil_first(w, h, enc, expect):
    p = Padding(w, h, enc, "zero")
    assert (p.padded_width, p.padded_height, p.left, p.right, p.top, p.bottom) == expect
    x = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w) + 1
    padded = p.pad(x)
    assert tuple(padded.shape[-2:]) == (p.padded_height, p.padded_width)
    torch.testing.assert_close(p.crop(padded), x)
    if p.top:
        assert float(padded[0, 0, 0].abs().sum()) == 0  # zeros (EVREAL)
        reflected = Padding(w, h, enc, "reflect").pad(x)
        # the row above the image mirrors its second row (rpg_e2vid)
        torch.testing.assert_close(reflected[0, 0, p.top - 1, p.left:p.left + w], x[0, 0, 1])
