"""Scheerlinck et al.'s high-pass and complementary filters against their closed-form updates, and their displays.

The expected values are written out from the reference's equations
(dvs_image_reconstruction: pure_event_reconstruction.cpp, complementary_filter.cpp),
not from seal_ros's code.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from seal_ros.e2v.filters import CfDisplay, ComplementaryFilter, HighPassFilter, HpfDisplay, log_frame
from seal_ros.events.types import EventArray

S = 1_000_000_000  # ns per second


def ev(rows):
    """rows of (x, y, p, t_ns)."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return EventArray(a[:, 0].astype(np.uint16), a[:, 1].astype(np.uint16), a[:, 2].astype(np.uint8), a[:, 3])


def test_reference_defaults():
    hpf, cf = HighPassFilter(4, 3), ComplementaryFilter(4, 3)
    assert (hpf.cutoff_hz, hpf.event_beta, hpf.c_on, hpf.c_off) == (0.06, 0.06, 0.1, 0.1)
    assert (cf.cutoff_hz, cf.event_beta, cf.c_on, cf.c_off, cf.init_from_frame) == (0.5, 0.0, 0.1, 0.1, False)
    assert hpf.alpha == pytest.approx(2 * math.pi * 0.06)


def test_high_pass_filter_per_event_update():
    f = HighPassFilter(4, 3, cutoff_hz=0.8, beta=0.06, c_on=0.12, c_off=0.09)
    a = 2 * math.pi * 0.8
    f.process(ev([(2, 1, 1, S // 10), (2, 1, 1, 2 * S // 10), (2, 1, 0, 45 * S // 100), (3, 2, 0, S // 2)]))
    # L <- exp(-alpha dt - beta) L + c, every pixel from L = 0 at time 0
    L = math.exp(-a * 0.1 - 0.06) * 0.0 + 0.12
    L = math.exp(-a * 0.1 - 0.06) * L + 0.12
    L = math.exp(-a * 0.25 - 0.06) * L - 0.09
    out = f.log_image(int(0.6 * S))  # output: decay without the event term
    assert out[1, 2] == pytest.approx(L * math.exp(-a * 0.15), rel=1e-12)
    assert out[2, 3] == pytest.approx(-0.09 * math.exp(-a * 0.1), rel=1e-12)
    assert np.count_nonzero(out) == 2


def test_repeated_events_are_bounded_by_the_per_event_component():
    f = HighPassFilter(3, 3, cutoff_hz=0.0, beta=0.06, c_on=0.1)
    f.process(ev([(1, 1, 1, i) for i in range(3000)]))
    assert f.log_image(3000)[1, 1] == pytest.approx(0.1 / (1 - math.exp(-0.06)), rel=1e-9)


def test_high_pass_filter_keeps_the_border_and_counts_what_it_drops():
    f = HighPassFilter(4, 4)
    f.process(ev([(0, 2, 1, 10), (2, 0, 1, 11), (4, 1, 1, 12), (1, 9, 1, 13), (3, 3, 1, 14)]))
    assert (f.border, f.dropped) == (2, 2)  # x == 0 or y == 0: the reference's "preserve border"
    out = f.log_image(20)
    assert np.count_nonzero(out) == 1 and out[3, 3] > 0


def test_an_event_older_than_its_pixel_resets_and_is_dropped():
    f = HighPassFilter(4, 4, cutoff_hz=0.0, beta=0.0)
    f.process(ev([(1, 1, 1, 100), (2, 2, 1, 150), (1, 1, 1, 90), (3, 3, 0, 200)]))
    assert f.resets == 1
    out = f.log_image(300)
    assert out[1, 1] == 0 and out[2, 2] == 0  # wiped by the reset, the old event not applied
    assert out[3, 3] == pytest.approx(-0.1)
    f.log_image(250)  # an output before the last update: the reference resets too
    assert f.resets == 2 and not f.L.any()


def test_complementary_filter_update_and_frames_in_time_order():
    a = 2 * math.pi * 2.0
    f = ComplementaryFilter(3, 2, cutoff_hz=2.0)
    frame1 = np.full((2, 3), 100, np.uint8)
    frame2 = np.full((2, 3), 200, np.uint8)
    F1, F2 = math.log(1 + 100 / 255), math.log(1 + 200 / 255)
    np.testing.assert_allclose(log_frame(frame1), F1)
    f.add_frame(S // 10, frame1)
    f.add_frame(3 * S // 10, frame2)  # fed early: takes effect at its time
    f.process(ev([(1, 0, 1, S // 20), (1, 0, 0, 2 * S // 10), (2, 1, 1, 4 * S // 10)]))
    # pixel (1, 0): an ON event at 0.05 s with no frame yet (F = 0), from L = 0 at time 0
    L = 0.0 + 0.1
    L = F0 = math.exp(-a * 0.05) * L  # frame 1 at 0.1 s: decay toward F = 0, then F = F1
    b = math.exp(-a * 0.1)
    L = b * F0 + (1 - b) * F1 - 0.1  # OFF at 0.2 s: L <- b L + (1 - b) F - c (no per-event term)
    b = math.exp(-a * 0.1)
    L = b * L + (1 - b) * F1  # frame 2 at 0.3 s: decay toward F1, then F = F2
    b = math.exp(-a * 0.2)
    expected = b * L + (1 - b) * F2
    out = f.log_image(5 * S // 10)
    assert out[0, 1] == pytest.approx(expected, rel=1e-12)
    # pixel (0, 0): no event, only the frames' pull from L = 0 (frame 1 at 0.1 s, frame 2 at 0.3 s)
    q = (1 - math.exp(-a * 0.2)) * F1
    assert out[0, 0] == pytest.approx(math.exp(-a * 0.2) * q + (1 - math.exp(-a * 0.2)) * F2, rel=1e-12)
    # pixel (2, 1): the same pull, then an ON event at 0.4 s
    b = math.exp(-a * 0.1)
    L = b * q + (1 - b) * F2 + 0.1
    assert out[1, 2] == pytest.approx(b * L + (1 - b) * F2, rel=1e-12)
    assert f.frames_used == 2
    assert abs(f.log_image(30 * S)[0, 0] - F2) < 1e-9  # long after: the frame itself


def test_a_late_frame_replaces_the_base_without_decay_and_init_from_frame():
    f = ComplementaryFilter(2, 1, cutoff_hz=1.0)
    f.process(ev([(0, 0, 1, S)]))
    f.add_frame(S // 2, np.full((1, 2), 255, np.uint8))  # older than the event already applied
    out = f.log_image(S)  # applied now: F replaced without decaying to 0.5 s (live mode)
    np.testing.assert_allclose(f.base, math.log(2))
    assert out[0, 0] == 0.1  # updated at 1 s: nothing to decay
    # the untouched pixel decays over 1 s toward the new frame
    assert out[0, 1] == pytest.approx((1 - math.exp(-2 * math.pi)) * math.log(2), rel=1e-12)
    g = ComplementaryFilter(2, 1, init_from_frame=True)
    g.add_frame(10, np.full((1, 2), 51, np.uint8))
    np.testing.assert_allclose(g.log_image(10 + 1), math.log(1.2))  # seal_ros option: L = F at the first frame
    with pytest.raises(ValueError, match="sensor is 2x1"):
        g.add_frame(0, np.zeros((2, 2), np.uint8))


def test_hpf_display_follows_the_reference_bounds():
    d = HpfDisplay()
    L = np.zeros((20, 20))
    L[0, :5] = 1.0  # a few bright pixels
    t = 1000 * S  # absolute time: the low-pass weight of the start values is exp(-1000 * 1.5) = 0
    img = np.exp(L + math.log(1.5)) - 1
    lo, hi = np.sort(img.ravel())[[int(0.0025 * 400), int(0.9975 * 400)]]
    lower, upper = min(lo - 0.05, 0.3), max(hi + 0.05, 0.7)
    out = d(L, t)
    assert (d.lower, d.upper) == pytest.approx((lower, upper))
    expected = np.clip(np.rint((img - lower) * 255 / (upper - lower)), 0, 255)
    np.testing.assert_array_equal(out, expected)
    # 0.1 s later the bounds move 1 - exp(-0.1 * ln(20) / 2) of the way
    beta = math.exp(-0.1 * -math.log(0.05) / 2)
    d(np.zeros((20, 20)), t + S // 10)
    assert d.lower == pytest.approx(min(beta * lower + (1 - beta) * (0.5 - 0.05), 0.3))
    assert d.upper == pytest.approx(max(beta * upper + (1 - beta) * (0.5 + 0.05), 0.7))
    fixed = HpfDisplay(auto_range=False)
    fixed(np.zeros((2, 2)), 0)  # dt = 0: bounds stay at -0.5 / 1.5
    assert (fixed.lower, fixed.upper) == (-0.5, 1.5)
    assert int(fixed(np.zeros((2, 2)), 0)[0, 0]) == round((0.5 + 0.5) * 255 / 2.0)  # 127.5 -> 128 (half to even)


def test_cf_display_formula_and_saturation():
    out = CfDisplay()(np.log(np.array([[1.0, 1.5, 3.0, 0.5]])), 0)
    expected = [(v - 1 + 0.1) * 255 / 1.3 for v in (1.0, 1.5, 3.0, 0.5)]
    assert out.tolist() == [[round(expected[0]), round(expected[1]), 255, 0]]


def test_exact_order_statistics_of_the_display():
    from seal_ros.e2v.filters import _kth_smallest

    rng = np.random.default_rng(0)
    cases = [rng.normal(size=2000), np.zeros(500),
             np.r_[np.zeros(900), rng.normal(size=100) * 1e-3, -0.5, np.inf, -np.inf, 1e-300, -1e-300]]
    for arr in cases:
        ordered = np.sort(arr)
        for k in (0, 1, len(arr) // 400, len(arr) // 2, len(arr) - 2, len(arr) - 1):
            assert _kth_smallest(arr, k) == ordered[k]
