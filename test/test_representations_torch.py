"""The torch event images (the segmenter's GPU path, run here on CPU tensors) against the numba/NumPy path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import EVT3_BAG
from seal_ros.events import representations as R
from seal_ros.events import representations_torch as RT
from seal_ros.events.types import EventArray
from seal_ros.segment.event_images import REPRESENTATIONS, make_event_image, make_event_image_tensor
from test_representations import rand_events


@pytest.fixture(scope="module")
def windows():
    """The shared evt3 recording cut into 50 ms windows, as the segmenter cuts it."""
    from seal_ros.events.source import WindowSource
    from seal_ros.io.bags import BagReader

    src = WindowSource("duration", int(50e6))
    out = []
    for pk in BagReader(EVT3_BAG).event_packets():
        out += src.push(pk).windows
    assert len(out) > 30
    return out


@pytest.mark.parametrize("B", [1, 3, 5])
def test_voxel_grid_torch_close_to_numba(B):
    ev = rand_events(5000, seed=B)
    g = RT.voxel_grid_torch(ev, B, 40, 30, device="cpu")
    assert g.dtype == torch.float32 and g.shape == (B, 30, 40)
    ref = R.voxel_grid(ev, B, 40, 30)
    np.testing.assert_allclose(g.numpy(), ref, rtol=0, atol=2e-5)  # float32 rounding of each cell's sum
    assert (g.numpy() != 0).sum() == (ref != 0).sum()


def test_voxel_bin_boundaries_are_exact_in_torch():
    ev = EventArray(np.arange(7, dtype=np.uint16), np.zeros(7, np.uint16), np.ones(7, np.uint8),
                    np.array([0, 10, 20, 30, 40, 50, 60]) * 1_000_003)
    g = RT.voxel_grid_torch(ev, 7, 7, 1, device="cpu")
    np.testing.assert_array_equal(g[:, 0, :].numpy(), np.eye(7, dtype=np.float32))


def test_empty_and_bad_input():
    for kind in REPRESENTATIONS:
        img = make_event_image_tensor(kind, EventArray.empty(), 5, 4, "cpu")
        assert img.dtype == torch.uint8 and img.shape == (4, 5, 3) and not img.any()
    one = EventArray(np.array([3], np.uint16), np.array([2], np.uint16), np.array([0], np.uint8), np.array([7]))
    with pytest.raises(ValueError, match="outside"):
        make_event_image_tensor("voxel", one, 3, 2, "cpu")
    with pytest.raises(ValueError, match="unknown event representation"):
        make_event_image_tensor("rgb", one, 5, 4, "cpu")
    # a single event: the image is its one bin at 255, as numba's
    np.testing.assert_array_equal(make_event_image_tensor("voxel", one, 5, 4, "cpu").numpy(),
                                  make_event_image("voxel", one, 5, 4))


def test_torch_event_images_on_the_recording(windows):
    """The stated tolerances on real windows: voxel images equal but for a rare one-level step,
    histogram and time surface bit-exact here (CPU)."""
    differing, pixels = 0, 0
    for w in windows[::10]:
        ev = w.window.events
        for kind in REPRESENTATIONS:
            ref = make_event_image(kind, ev, w.width, w.height)
            got = make_event_image_tensor(kind, ev, w.width, w.height, "cpu").numpy()
            assert got.shape == ref.shape == (480, 640, 3) and got.dtype == np.uint8
            d = np.abs(got.astype(int) - ref)
            assert d.max() <= 1, kind
            if kind == "voxel":
                differing += int((d > 0).sum())
                pixels += d.size
            else:
                assert d.max() == 0, kind
    assert differing <= 1e-5 * pixels


def test_predictor_takes_the_tensor_image():
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.predictor import Prompt, SealPredictor
    from seal_ros.seal.text import build_tiny_text_encoder

    torch.manual_seed(0)
    pred = SealPredictor(build_seal("tiny"), build_tiny_text_encoder())
    pred.set_vocabulary(["a", "b"])
    ev = rand_events(3000, W=64, H=48, seed=2)
    prompts = [Prompt(1, box=(5, 5, 40, 30)), Prompt(2, box=(20, 10, 60, 47))]
    pred.set_image(make_event_image("voxel", ev, 64, 48), key=1)
    a = pred.predict(prompts)
    pred.set_image(make_event_image_tensor("voxel", ev, 64, 48, "cpu"), key=2)
    b = pred.predict(prompts)
    for x, y in zip(a, b):
        assert np.array_equal(x.mask, y.mask) and x.class_index == y.class_index and x.score == y.score
    with pytest.raises(ValueError, match="uint8"):
        pred.set_image(torch.zeros(48, 64, 3), key=3)
