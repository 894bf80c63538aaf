"""Run-length masks (InstanceMask.mask_rle): COCO's order, encoded with torch, decoded with NumPy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seal_ros.seal.rle import decode_rle, encode_rle, encode_rle_numpy, rle_area, rle_is_empty


def _masks(n=6, h=23, w=31, seed=0):
    rng = np.random.default_rng(seed)
    m = np.zeros((n, h, w), bool)
    m[0] = rng.random((h, w)) > 0.5  # noise: many runs
    m[1, 3:17, 5:20] = True  # a box
    m[2, 0, 0] = True  # first pixel set: counts start with 0
    m[3] = True  # full
    # m[4]: empty
    m[5, :, -1] = True  # last column
    return m


def test_counts_are_cocos():
    mask_util = pytest.importorskip("pycocotools.mask")
    m = _masks()
    for k in range(len(m)):
        counts = encode_rle_numpy(m[k])
        assert counts.dtype == np.uint32 and int(counts.sum()) == m[k].size
        rle = mask_util.frPyObjects({"counts": [int(c) for c in counts], "size": list(m[k].shape)}, *m[k].shape)
        np.testing.assert_array_equal(mask_util.decode(rle).astype(bool), m[k])
        assert rle_area(counts) == int(m[k].sum())
    assert encode_rle_numpy(m[2])[0] == 0 and list(encode_rle_numpy(m[4])) == [m[4].size]
    assert rle_is_empty(encode_rle_numpy(m[4])) and not rle_is_empty(encode_rle_numpy(m[2]))


def test_torch_encoding_equals_numpy_and_round_trips():
    m = _masks(seed=3)
    counts = encode_rle(torch.from_numpy(m))
    assert len(counts) == len(m)
    for k, c in enumerate(counts):
        np.testing.assert_array_equal(c, encode_rle_numpy(m[k]))
        back = decode_rle(c, *m[k].shape)
        assert back.flags.c_contiguous and back.dtype == bool
        np.testing.assert_array_equal(back, m[k])
    assert encode_rle(torch.zeros(0, 4, 5, dtype=torch.bool)) == []


def test_decode_refuses_counts_of_another_size():
    with pytest.raises(ValueError, match="add up to 11"):
        decode_rle(np.array([5, 6], np.uint32), 3, 4)
    with pytest.raises(ValueError):
        decode_rle([], 3, 4)


def test_predictor_mask_formats():
    """mask_format rle: run lengths from the device, no dense mask until asked; same masks as dense."""
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.predictor import Prompt, SealPredictor
    from seal_ros.seal.text import build_tiny_text_encoder

    torch.manual_seed(1)
    pred = SealPredictor(build_seal("tiny"), build_tiny_text_encoder())
    pred.set_vocabulary(["a", "b", "c"])
    img = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    pred.set_image(img, key=1)
    prompts = [Prompt(1, box=(5, 5, 40, 30)), Prompt(2, points=np.array([[30.0, 20.0]]), point_labels=np.array([1])),
               Prompt(3, box=(0, 0, 3, 3))]
    dense = pred.predict(prompts)
    rle = pred.predict(prompts, mask_format="rle")
    both = pred.predict(prompts, mask_format="both")
    for d, r, b in zip(dense, rle, both):
        assert d.rle is None and r.mask is None and r.sensor_size == (48, 64)
        assert r.is_empty == d.is_empty == (not d.mask.any())
        np.testing.assert_array_equal(r.rle, encode_rle_numpy(d.mask))
        np.testing.assert_array_equal(b.rle, r.rle)
        np.testing.assert_array_equal(b.mask, d.mask)
        np.testing.assert_array_equal(r.mask_array(), d.mask)  # decoded on demand
        assert (r.class_index, r.score, r.bbox) == (d.class_index, d.score, d.bbox)
    with pytest.raises(ValueError, match="mask_format"):
        pred.predict(prompts, mask_format="png")
