"""Representations against direct numpy re-statements of their definitions."""
from __future__ import annotations

import numpy as np
import pytest

from seal_ros.events import representations as R
from seal_ros.events.types import EventArray


def rand_events(n, W=40, H=30, seed=0, span=10**7):
    rng = np.random.default_rng(seed)
    return EventArray(rng.integers(0, W, n).astype(np.uint16), rng.integers(0, H, n).astype(np.uint16),
                      rng.integers(0, 2, n).astype(np.uint8), np.sort(rng.integers(0, span, n)).astype(np.int64))


def rpg_voxel(ev, B, W, H):
    """rpg_e2vid's events_to_voxel_grid, restated with np.add.at (float64 accumulation)."""
    grid = np.zeros(B * H * W, np.float64)
    ts = ev.t.astype(np.float64)
    dT = ts[-1] - ts[0] or 1.0
    ts = (B - 1) * (ts - ts[0]) / dT
    xs, ys = ev.x.astype(np.int64), ev.y.astype(np.int64)
    pols = np.where(ev.p == 0, -1.0, 1.0)
    tis = ts.astype(np.int64)
    dts = ts - tis
    v = tis < B
    np.add.at(grid, xs[v] + ys[v] * W + tis[v] * W * H, (pols * (1 - dts))[v])
    v = tis + 1 < B
    np.add.at(grid, xs[v] + ys[v] * W + (tis[v] + 1) * W * H, (pols * dts)[v])
    return grid.reshape(B, H, W)


@pytest.mark.parametrize("B", [1, 2, 5])
def test_voxel_grid_matches_rpg(B):
    ev = rand_events(3000, seed=B)
    g = R.voxel_grid(ev, B, 40, 30)
    assert g.dtype == np.float32 and g.shape == (B, 30, 40)
    np.testing.assert_allclose(g, rpg_voxel(ev, B, 40, 30), atol=1e-4)
    # total signed mass is preserved
    assert abs(g.sum() - (2 * int(ev.p.sum()) - len(ev))) < 1e-2


def test_voxel_grid_single_event_and_empty():
    ev = EventArray(np.array([3], np.uint16), np.array([2], np.uint16), np.array([0], np.uint8), np.array([7]))
    g = R.voxel_grid(ev, 3, 5, 4)
    assert g[0, 2, 3] == -1 and np.count_nonzero(g) == 1  # zero span counts as 1: first bin
    assert not R.voxel_grid(EventArray.empty(), 3, 5, 4).any()
    with pytest.raises(ValueError):
        R.voxel_grid(ev, 3, 3, 2)  # outside the sensor
    with pytest.raises(ValueError):
        R.voxel_grid(ev, 0, 5, 4)


def test_voxel_grid_normalize():
    ev = rand_events(500, seed=3)
    raw = rpg_voxel(ev, 4, 40, 30)
    nz = raw != 0
    mean = raw.sum() / nz.sum()
    std = np.sqrt((raw ** 2).sum() / nz.sum() - mean ** 2)
    exp = nz * (raw - mean) / std
    np.testing.assert_allclose(R.voxel_grid(ev, 4, 40, 30, normalize=True), exp, atol=1e-4)
    # constant non-zero cells: std 0 -> mean removed, no NaN
    one = EventArray(np.array([1, 2], np.uint16), np.array([1, 1], np.uint16), np.array([1, 1], np.uint8),
                     np.array([5, 5]))
    assert np.isfinite(R.voxel_grid(one, 1, 4, 4, normalize=True)).all()


def test_voxel_grid_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    ev = rand_events(4000, seed=5)
    for norm in (False, True):
        g = R.voxel_grid_torch(ev, 5, 40, 30, normalize=norm, device="cpu")
        assert isinstance(g, torch.Tensor) and g.shape == (5, 30, 40) and g.dtype == torch.float32
        np.testing.assert_allclose(g.numpy(), R.voxel_grid(ev, 5, 40, 30, normalize=norm), atol=1e-4)


def test_polarity_histogram_and_time_surface():
    ev = rand_events(2000, seed=7)
    h = R.polarity_histogram(ev, 40, 30)
    exp = np.zeros((2, 30, 40))
    np.add.at(exp, (1 - ev.p.astype(np.int64), ev.y, ev.x), 1)
    np.testing.assert_array_equal(h, exp)
    ts = R.time_surface(ev, 40, 30, tau_ns=1e6)
    t_ref = int(ev.t.max())
    for i in np.random.default_rng(0).integers(0, len(ev), 20):
        c, y, x = 1 - int(ev.p[i]), int(ev.y[i]), int(ev.x[i])
        m = (ev.p == ev.p[i]) & (ev.y == y) & (ev.x == x)
        assert ts[c, y, x] == pytest.approx(np.exp(-(t_ref - ev.t[m].max()) / 1e6), rel=1e-5)
    assert (ts[h == 0] == 0).all()


def test_event_image_definition():
    ev = rand_events(5000, seed=9)
    img = R.event_image(ev, 40, 30)
    assert img.dtype == np.uint8 and img.shape == (30, 40, 3)
    v = rpg_voxel(ev, 3, 40, 30)
    exp = np.floor((v - v.min()) / (v.max() - v.min()) * 255 + 0.5).transpose(1, 2, 0)
    assert np.abs(img.astype(int) - exp).max() <= 1  # float32 vs float64 accumulation
    assert img.min() == 0 and img.max() == 255
    assert not R.event_image(EventArray.empty(), 40, 30).any()
    assert R.event_image(ev, 40, 30, num_bins=5).shape == (30, 40, 5)


def test_voxel_grid_bin_boundaries_are_exact():
    # events exactly on bin centres land wholly in one bin (rpg_e2vid's operation order)
    ev = EventArray(np.arange(7, dtype=np.uint16), np.zeros(7, np.uint16), np.ones(7, np.uint8),
                    np.array([0, 10, 20, 30, 40, 50, 60]) * 1_000_003)
    g = R.voxel_grid(ev, 7, 7, 1)
    np.testing.assert_array_equal(g[:, 0, :], np.eye(7, dtype=np.float32))
    np.testing.assert_array_equal(g, rpg_voxel(ev, 7, 7, 1).astype(np.float32))
