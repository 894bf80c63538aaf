"""High-pass / complementary filter equations on hand-made event sequences, and the display step."""
from __future__ import annotations

import math

import numpy as np
import pytest

from seal_ros.e2v.display import Display
from seal_ros.e2v.hpf import HighPassFilter, log_frame
from seal_ros.events.types import EventArray

S = 1_000_000_000  # ns per second


def ev(rows):
    """rows of (x, y, p, t_ns)."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return EventArray(a[:, 0].astype(np.uint16), a[:, 1].astype(np.uint16), a[:, 2].astype(np.uint8), a[:, 3])


def test_per_event_update_follows_the_equation():
    f = HighPassFilter(4, 3, cutoff_hz=0.8, beta=0.06, c_pos=0.12, c_neg=0.09)
    alpha = 2 * math.pi * 0.8
    t = [0, int(0.1 * S), int(0.35 * S), int(0.4 * S)]
    f.process(ev([(2, 1, 1, t[0]), (2, 1, 1, t[1]), (2, 1, 0, t[2]), (0, 0, 0, t[3])]))
    # by hand, pixel (2, 1): first event starts from L = 0 at the stream start (dt = 0)
    L = math.exp(-0.06) * 0.0 + 0.12
    L = math.exp(-alpha * 0.1 - 0.06) * L + 0.12
    L = math.exp(-alpha * 0.25 - 0.06) * L - 0.09
    out = f.log_image(int(0.5 * S))  # decays every pixel to the output time
    expected = L * math.exp(-alpha * 0.15)
    assert out[1, 2] == pytest.approx(expected, rel=1e-5)
    # pixel (0, 0): one OFF event at 0.4 s, then 0.1 s of decay
    assert out[0, 0] == pytest.approx(-0.09 * math.exp(-alpha * 0.1), rel=1e-5)
    # untouched pixels stay at the neutral value
    assert out[2, 3] == 0.0 and np.count_nonzero(out) == 2


def test_decay_is_composable_and_output_does_not_depend_on_how_often_it_is_read():
    a = HighPassFilter(2, 2, cutoff_hz=0.5)
    b = HighPassFilter(2, 2, cutoff_hz=0.5)
    seq = ev([(0, 0, 1, 0), (1, 1, 0, S // 10), (0, 0, 1, S // 5), (1, 0, 1, S // 2)])
    a.process(seq)
    for i in range(len(seq)):  # b is read (decayed) between every event
        b.process(seq[i:i + 1])
        b.log_image(int(seq.t[i]) + 1000)
    np.testing.assert_allclose(a.log_image(S), b.log_image(S), rtol=1e-5)


def test_repeated_events_are_bounded_by_the_per_event_decay():
    f = HighPassFilter(1, 1, cutoff_hz=0.0, beta=0.06, c_pos=0.1)  # no time decay: only beta
    f.process(ev([(0, 0, 1, i) for i in range(2000)]))
    assert f.log_image(2000)[0, 0] == pytest.approx(0.1 / (1 - math.exp(-0.06)), rel=1e-4)


def test_events_outside_the_sensor_are_dropped_and_counted():
    f = HighPassFilter(4, 4)
    f.process(ev([(4, 0, 1, 0), (0, 9, 1, 1), (3, 3, 1, 2)]))
    assert f.dropped == 2
    assert np.count_nonzero(f.log_image(3)) == 1


def test_complementary_filter_converges_to_the_frame():
    f = HighPassFilter(3, 2, cutoff_hz=2.0, beta=0.0)
    alpha = 2 * math.pi * 2.0
    frame1 = np.full((2, 3), 100, np.uint8)
    frame2 = np.full((2, 3), 200, np.uint8)
    f.add_frame(0, frame1)
    np.testing.assert_allclose(f.log_image(0), log_frame(frame1))  # first frame initialises L
    f.process(ev([(1, 0, 1, S // 10)]))
    f.add_frame(int(0.2 * S), frame2)  # decays toward frame 1's log up to 0.2 s, then switches base
    l1 = float(log_frame(frame1)[0, 0])
    l2 = float(log_frame(frame2)[0, 0])
    at_event = l1 + 0.1
    at_switch = l1 + (at_event - l1) * math.exp(-alpha * 0.1)
    b = math.exp(-alpha * 0.3)
    out = f.log_image(int(0.5 * S))
    assert out[0, 1] == pytest.approx(b * at_switch + (1 - b) * l2, rel=1e-5)  # L <- b L + (1 - b) log(frame)
    assert out[1, 2] == pytest.approx(b * l1 + (1 - b) * l2, rel=1e-5)
    assert abs(f.log_image(20 * S)[0, 0] - l2) < 1e-4  # long after: the frame itself


def test_frame_of_another_size_is_refused():
    f = HighPassFilter(3, 2)
    with pytest.raises(ValueError, match="sensor is 3x2"):
        f.add_frame(0, np.zeros((3, 3), np.uint8))


def test_display_percentile_range_is_smoothed_over_time():
    d = Display("percentile", low=0, high=100, history=3)
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, (20, 20)).astype(np.float32)
    out = [d(base) for _ in range(3)]
    assert out[0].min() == 0 and out[0].max() == 255
    # one outlier frame with a 10x range barely changes the mapping (median of 3)
    spike = base.copy()
    spike[0, 0] = 10.0
    lo, hi = d.range(spike)
    assert hi == pytest.approx(1.0, abs=0.05)
    # neutral value kept inside a minimum span: an all-neutral image maps to mid grey
    n = Display("percentile", center=1.0, min_half_span=0.2)
    assert abs(int(n(np.ones((8, 8), np.float32))[0, 0]) - 128) <= 1


def test_display_auto_hdr_and_unsharp():
    d = Display("auto_hdr", history=1)
    img = np.full((10, 10), 0.5, np.float32)
    img[0, 0], img[9, 9] = 0.49, 0.51  # span below 0.1: clipped to [0.45, 0.55]
    out = d(img)
    assert out[0, 0] == round(0.04 / 0.1 * 255) and out[9, 9] == round(0.06 / 0.1 * 255)
    step = np.full((10, 10), 0.25, np.float32)
    step[:, 5:] = 0.75
    sharp = Display("fixed", unsharp_amount=0.3).normalize(step)
    plain = Display("fixed").normalize(step)
    np.testing.assert_allclose(plain, step)
    assert sharp[5, 4] < 0.25 - 0.01 and sharp[5, 5] > 0.75 + 0.01  # overshoot on both sides of the edge
    np.testing.assert_allclose(sharp[:, 0], 0.25, atol=1e-3)  # flat areas unchanged
    with pytest.raises(ValueError):
        Display("nope")
