"""SealPredictor on a tiny random model: API, caching, batching, classification rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seal_ros.seal.build import build_seal
from seal_ros.seal.predictor import (InstanceResult, MissingWeights, Prompt, SealPredictor,
                                     choose_candidates)
from seal_ros.seal.text import build_tiny_text_encoder

H, W = 60, 80


@pytest.fixture(scope="module")
def text_encoder():
    return build_tiny_text_encoder(dim=16)


@pytest.fixture
def predictor(text_encoder):
    torch.manual_seed(0)
    p = SealPredictor(build_seal("tiny"), text_encoder)
    p.set_vocabulary(["car", "person", "bicycle"])
    p.set_vocabulary(["wheel", "door"], granularity="part")
    return p


def _image(seed=0):
    return (np.random.default_rng(seed).random((H, W, 3)) * 255).astype(np.uint8)


def _count_calls(obj, name):
    calls = []
    orig = getattr(obj, name)

    def wrapped(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    setattr(obj, name, wrapped)
    return calls


def test_one_result_per_prompt_at_sensor_size(predictor):
    predictor.set_image(_image())
    prompts = [Prompt(7, box=(5, 5, 50, 40)),
               Prompt(3, points=np.array([[20.0, 30.0], [60.0, 10.0]]),
                          point_labels=np.array([1, 0]), granularity="part"),
               Prompt(9, box=(0, 0, 80, 60), granularity="any")]
    res = predictor.predict(prompts)
    assert [r.prompt_id for r in res] == [7, 3, 9]
    for r in res:
        assert isinstance(r, InstanceResult)
        assert r.mask.shape == (H, W) and r.mask.dtype == bool
        if r.mask.any():
            ys, xs = np.nonzero(r.mask)
            assert r.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert 0 <= r.class_index < len(r.vocabulary)
            assert r.class_name == r.vocabulary[r.class_index]
            assert 0 < r.class_score <= 1 and r.score == pytest.approx(r.mask_score * r.class_score)
    assert res[0].vocabulary == ("car", "person", "bicycle") and res[0].granularity == "instance"
    assert res[1].vocabulary == ("wheel", "door") and res[1].granularity == "part"
    assert res[2].vocabulary == ("car", "person", "bicycle", "wheel", "door")
    assert res[2].granularity == ("instance" if res[2].class_index < 3 else "part")


def test_backbone_runs_once_per_window_and_prompts_batch(predictor):
    enc = _count_calls(predictor.model, "encode_image")
    neck = _count_calls(predictor.model, "fuse_text")
    dec = _count_calls(predictor.model, "decode")
    img = _image(1)
    predictor.set_image(img, key=("win", 1))
    predictor.set_image(img, key=("win", 1))
    boxes = [Prompt(i, box=(2 + i, 3 + i, 40 + 3 * i, 30 + 2 * i)) for i in range(10)]
    batched = predictor.predict(boxes)
    assert len(enc) == 1 and len(dec) == 1  # ten prompts, one decoder call
    moved = predictor.predict([Prompt(0, box=(10, 10, 70, 55))])  # prompt-only update
    assert len(enc) == 1 and len(neck) == 1 and len(dec) == 2 and len(moved) == 1
    # batching does not change any result
    for p, r in zip(boxes, batched):
        single = predictor.predict([p])[0]
        assert np.array_equal(single.mask, r.mask)
        assert single.class_index == r.class_index
        assert single.score == pytest.approx(r.score, abs=1e-5)
    predictor.set_image(img, key=("win", 2))
    assert len(enc) == 2


def test_vocabulary_swap_is_used_by_next_prediction(predictor):
    predictor.set_image(_image(2), key=1)
    before = predictor.predict([Prompt(1, box=(5, 5, 60, 50))])[0]
    predictor.set_vocabulary(["dog", "cat", "tree", "drone"])
    after = predictor.predict([Prompt(1, box=(5, 5, 60, 50))])[0]
    assert before.vocabulary == ("car", "person", "bicycle")
    assert after.vocabulary == ("dog", "cat", "tree", "drone")
    assert predictor.vocabulary("part") == ("wheel", "door")  # kept separately
    assert after.class_name in after.vocabulary or not after.mask.any()


def test_bad_vocabulary_and_prompts_are_refused(predictor):
    with pytest.raises(ValueError):
        predictor.set_vocabulary([])
    with pytest.raises(ValueError):
        predictor.set_vocabulary(["a", "a"])
    with pytest.raises(ValueError):
        predictor.set_vocabulary(["a"], granularity="scene")
    with pytest.raises(ValueError):
        predictor.set_vocabulary(["a"], templates=["no placeholder"])
    assert predictor.vocabulary() == ("car", "person", "bicycle")
    predictor.set_image(_image())
    for bad in (Prompt(1), Prompt(2, box=(10, 10, 5, 20)),
                Prompt(3, box=(0, 0, float("nan"), 5)),
                Prompt(4, points=np.array([[1.0, 2.0]]), point_labels=np.array([1, 1])),
                Prompt(5, box=(0, 0, 5, 5), granularity="scene")):
        with pytest.raises(ValueError, match=f"prompt {bad.id}"):
            predictor.predict([bad])
    with pytest.raises(ValueError):
        predictor.set_image(np.zeros((10, 10), np.uint8))


def test_predict_before_image_and_without_vocabulary(text_encoder):
    p = SealPredictor(build_seal("tiny"), text_encoder)
    with pytest.raises(RuntimeError):
        p.predict([Prompt(1, box=(0, 0, 5, 5))])
    p.set_image(_image())
    r = p.predict([Prompt(1, box=(0, 0, 50, 50))])[0]
    assert r.class_index == -1 and r.class_name == "" and r.vocabulary == () and r.score == 0.0


def test_choose_candidates_drops_empty_masks_and_weighs_class_probability():
    nonempty = torch.tensor([[False, True, True], [True, True, True], [False, False, False]])
    iou = torch.tensor([[0.99, 0.5, 0.6], [0.9, 0.8, 0.3], [0.1, 0.7, 0.2]])
    prob = torch.tensor([[1.0, 0.9, 0.5], [0.2, 0.9, 1.0], [1.0, 1.0, 1.0]])
    # row 0: candidate 0 is empty; 0.5*0.9 > 0.6*0.5. row 1: 0.8*0.9 wins. row 2: all empty -> max IoU
    assert choose_candidates(nonempty, iou, prob).tolist() == [1, 1, 1]


def test_missing_weights_lists_exactly_the_missing_files(tmp_path):
    with pytest.raises(MissingWeights) as e:
        SealPredictor.from_model_dir(tmp_path)
    assert e.value.missing[0] == "seal.pt" and "ViT-L-14-336px.pt" in e.value.missing[1]
    assert len(e.value.missing) == 2 and str(tmp_path) in str(e.value)
    (tmp_path / "ViT-L-14-336px.pt").write_bytes(b"x")
    with pytest.raises(MissingWeights) as e:
        SealPredictor.from_model_dir(tmp_path)
    assert e.value.missing == ["seal.pt"]


def test_bf16_weights_mode_agrees_with_fp32(text_encoder):
    torch.manual_seed(0)
    fp32 = build_seal("tiny")
    bf16 = build_seal("tiny")
    bf16.load_state_dict(fp32.state_dict())
    prompts = [Prompt(i, box=(2 + 3 * i, 3, 45 + i, 40)) for i in range(2)]
    out = []
    for model, kw in ((fp32, {}), (bf16, dict(dtype=torch.bfloat16, cast_weights=True))):
        p = SealPredictor(model, text_encoder, **kw)
        p.set_vocabulary(["car", "person", "bicycle"])
        p.set_image(_image(3))
        out.append(p.predict(prompts))
    assert bf16.neck.in_proj.weight.dtype == torch.bfloat16
    assert bf16.eventsam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.dtype == torch.float32
    for a, b in zip(*out):
        assert (a.mask == b.mask).mean() > 0.95
        assert abs(a.class_score - b.class_score) < 0.1


def test_model_frame_prompts_and_model_masks(text_encoder):
    """frame="model" takes the prompts in the square model frame unchanged; on an image of
    exactly that size both frames coincide, so the results are identical."""
    torch.manual_seed(0)
    p = SealPredictor(build_seal("tiny"), text_encoder)
    p.set_vocabulary(["car", "person", "bicycle"])
    s = p.model.image_size
    img = (np.random.default_rng(5).random((s, s, 3)) * 255).astype(np.uint8)
    p.set_image(img)
    prompts = [Prompt(1, box=(10, 12, 70, 90)), Prompt(2, box=(40, 40, 40, 100)),  # zero-width box
               Prompt(3, points=np.array([[30, 40], [90, 100], [60, 20]]), point_labels=np.ones(3))]
    a = p.predict(prompts)
    b = p.predict(prompts, frame="model", model_masks=True)
    for x, y in zip(a, b):
        assert np.array_equal(x.mask, y.mask) and x.class_index == y.class_index and x.score == y.score
        assert x.model_mask is None and y.model_mask.shape == (s, s) and np.array_equal(y.model_mask, y.mask)
        assert (x.candidate, x.num_kept) == (y.candidate, y.num_kept)
    with pytest.raises(ValueError, match="frame"):
        p.predict(prompts, frame="pixels")


def test_model_masks_at_model_size_on_a_sensor_image(predictor):
    predictor.set_image(_image(4))
    s = predictor.model.image_size
    sensor = predictor.predict([Prompt(1, box=(5, 5, 50, 40))])[0]
    # the same box in the model frame (sensor coordinates scaled by s/W, s/H)
    box = (5 * s / W, 5 * s / H, 50 * s / W, 40 * s / H)
    model = predictor.predict([Prompt(1, box=box)], frame="model", model_masks=True)[0]
    assert model.model_mask.shape == (s, s) and model.mask.shape == (H, W)
    assert np.array_equal(model.mask, sensor.mask) and model.class_index == sensor.class_index


def test_three_empty_candidates_are_reported(predictor):
    """All of SAM's candidates empty: no class, num_kept 0 (the authors' evaluation skips it)."""
    predictor.set_image(_image(8))
    predictor.model.upscale_masks = lambda low: torch.full((*low.shape[:-2], 128, 128), -1.0)
    r = predictor.predict([Prompt(1, box=(5, 5, 50, 40))], model_masks=True)[0]
    del predictor.model.upscale_masks
    assert r.num_kept == 0 and r.class_index == -1 and r.class_name == "" and r.score == 0.0
    assert not r.mask.any() and not r.model_mask.any()
    r = predictor.predict([Prompt(1, box=(5, 5, 50, 40))])[0]
    assert r.num_kept >= 1 and r.mask.any() and r.class_index >= 0


def test_classifier_rows_are_used_as_given(text_encoder):
    torch.manual_seed(0)
    p = SealPredictor(build_seal("tiny"), None)  # no text encoder needed with a classifier
    rows = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1)
    p.set_image(_image(6))
    prompt = [Prompt(1, box=(5, 5, 60, 50))]
    p.set_classifier(["a", "b", "c"], rows)
    unit = p.predict(prompt)[0]
    p.set_classifier(["a", "b", "c"], 0.5 * rows)  # not re-normalised: softer probabilities
    half = p.predict(prompt)[0]
    assert unit.vocabulary == ("a", "b", "c") and half.class_score < unit.class_score
    with pytest.raises(ValueError, match=r"\(3, 16\)"):
        p.set_classifier(["a", "b", "c"], torch.randn(3, 8))
    with pytest.raises(ValueError):
        p.set_classifier(["a", "b"], torch.randn(2, 16), granularity="any")
    with pytest.raises(ValueError, match="no text encoder"):
        p.set_vocabulary(["a", "b"])
    assert p.vocabulary() == ("a", "b", "c")
    # a vocabulary from the text encoder is normalised when it is encoded
    rows = text_encoder.encode(["car", "person"])
    assert torch.allclose(rows.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_fast_path_agrees_with_eager(text_encoder):
    """The node's fast path (fused attention; CUDA graphs and bf16 where a GPU is) against
    the eager fp32 path: same masks, candidates and labels, scores within float noise."""
    import copy

    torch.manual_seed(0)
    model = build_seal("tiny")
    for blk in model.eventsam.image_encoder.blocks:  # non-zero relative positions
        torch.nn.init.normal_(blk.attn.rel_pos_h, std=0.5)
    eager = SealPredictor(copy.deepcopy(model), text_encoder)
    fast = SealPredictor.for_deployment(model, text_encoder)
    prompts = [Prompt(i, box=(2 + 3 * i, 3 + i, 45 + 2 * i, 40 + i)) for i in range(6)] + \
              [Prompt(9, points=np.array([[20.0, 30.0]]), granularity="part")]
    out = []
    for p in (eager, fast):
        p.set_vocabulary(["car", "person", "bicycle"])
        p.set_vocabulary(["wheel", "door"], granularity="part")
        p.set_image(_image(7))
        out.append(p.predict(prompts))
    for a, b in zip(*out):
        assert (a.candidate, a.class_index, a.num_kept) == (b.candidate, b.class_index, b.num_kept)
        assert (a.mask != b.mask).mean() < 1e-3
        assert a.score == pytest.approx(b.score, abs=1e-4)
