"""MHSG guidance: three granularities from SAM's automatic masks, CLIP visual/text
embeddings, cached in shards that resume after an interruption."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seal_ros.datasets.pairs import AedatPairs, rgb
from seal_ros.train.clip import build_tiny_clip
from seal_ros.train.describers import ClipZeroShotDescriber
from seal_ros.train.guidance import build_image_sam, guidance_settings
from seal_ros.train.guidance_cache import CacheMismatch, GuidanceCache, build_cache
from seal_ros.train.mhsg import GRANULARITIES, GuidanceGenerator, semantic_labels

VOCAB = ["car", "person", "tree", "road"]


@pytest.fixture(scope="module")
def setup(data_dir):
    src = AedatPairs(data_dir / "davis346_frames" / "davis.aedat4")
    g = guidance_settings({"sam": "tiny", "clip": "tiny"})
    sam = build_image_sam(g, "cpu")
    clip = build_tiny_clip(16)
    gen = GuidanceGenerator(sam, clip, ClipZeroShotDescriber(clip, VOCAB), 64, points_per_side=4,
                            pred_iou_thresh=0.0, stability_score_thresh=0.0, max_masks=4)
    return src, gen, clip


def test_guidance_has_three_granularities_with_embeddings(setup):
    src, gen, clip = setup
    assert len(src) == 3
    out = gen(rgb(src[0].image))
    assert set(out) == {name for name, _ in GRANULARITIES}
    for name, g in out.items():
        k = g.boxes.shape[0]
        assert 1 <= k <= 4
        masks = g.unpack_masks(64)
        assert masks.shape == (k, 64, 64) and masks.any(axis=(1, 2)).all()
        for m, b in zip(masks, g.boxes):  # boxes are the tight boxes of the stored masks
            ys, xs = np.nonzero(m)
            assert b.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
        assert g.visual.shape == (k, 16) and g.textual.shape == (k, 16)
        assert torch.allclose(g.visual.float().norm(dim=1), torch.ones(k), atol=1e-2)
        # textual guidance = the text embedding of the name CLIP picked for the visual embedding
        text = clip.text.encode(VOCAB)
        best = (g.visual.float() @ text.t()).argmax(1)
        assert [VOCAB[i] for i in best] == g.names == [VOCAB[i] for i in g.vocab_index]
        assert torch.allclose(g.textual.float(), text[best], atol=1e-2)
    lab = semantic_labels(out, 64)
    assert lab.shape == (64, 64) and set(np.unique(lab)) <= set(range(len(VOCAB))) | {255}
    # the granularities come from different multimask levels
    levels = [gen.generators[i][1].predictor.level for i in range(3)]
    assert levels == [2, 1, 0]


def test_cache_resumes_after_interruption(setup, tmp_path):
    src, gen, _ = setup
    calls = []

    def compute(i):
        calls.append(i)
        return gen(rgb(src[i].image))

    settings = {"test": 1}
    root = tmp_path / "cache"
    s1 = build_cache(root, 3, compute, settings, shard_size=1, progress=False, stop_after_shards=1)
    assert s1 == {"shards": 3, "done": 1, "written": 1, "complete": False}
    with pytest.raises(RuntimeError, match="incomplete"):
        GuidanceCache(root)

    def crash(i):  # dies in the middle of shard 1: nothing of it is kept
        if i == 1:
            raise KeyboardInterrupt
        return compute(i)

    with pytest.raises(KeyboardInterrupt):
        build_cache(root, 3, crash, settings, shard_size=1, progress=False)
    assert not (root / "shard_000001.pt").exists()
    calls.clear()
    s2 = build_cache(root, 3, compute, settings, shard_size=1, progress=True)
    assert s2["complete"] and s2["written"] == 2 and calls == [1, 2]
    cache = GuidanceCache(root)
    # the same as computing from scratch
    fresh = gen(rgb(src[2].image))
    got = cache[2]
    for name, _ in GRANULARITIES:
        assert np.array_equal(got[name].masks, fresh[name].masks)
        assert torch.equal(got[name].visual, fresh[name].visual)
    with pytest.raises(CacheMismatch):
        build_cache(root, 3, compute, {"test": 2}, shard_size=1, progress=False)
