"""Prompt-free segmentation (seal_ros.segment.auto): points, SAM's filters, SEAL's names, background, query.

The model is the tiny random one: what is checked is what each step keeps and drops, with classifier
rows built so that the outcome is known."""
import numpy as np
import pytest
import torch

from seal_ros.events.types import EventArray
from seal_ros.segment.auto import (AUTO_PROMPT_ID, STAT_KEYS, AutoConfig, automatic_masks, density_points,
                                   generate_points, grid_points)
from seal_ros.segment.event_images import make_event_image

W, H = 160, 120
OPEN = AutoConfig(points_per_side=8, density_points=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                  min_class_score=0.0, min_area=1, max_instances=1000)


def _blob(rng, x0, y0, size, n):
    return rng.integers(x0, x0 + size, n), rng.integers(y0, y0 + size, n)


def _events(blobs, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys = zip(*(_blob(rng, *b) for b in blobs))
    x, y = np.concatenate(xs).astype(np.uint16), np.concatenate(ys).astype(np.uint16)
    t = np.sort(rng.integers(0, 50_000_000, len(x))).astype(np.int64)
    return EventArray(x, y, (x % 2).astype(np.uint8), t)


@pytest.fixture(scope="module")
def predictor():
    from seal_ros.segment.loading import load_predictor

    p, info = load_predictor("tiny", None, "cpu")
    assert info["random_weights"]
    return p


@pytest.fixture(scope="module")
def window(predictor):
    ev = _events([(20, 20, 40, 3000), (100, 60, 30, 2000)])
    predictor.set_image(make_event_image("voxel", ev, W, H), key="auto-test")
    return ev


def _classifier(predictor, names, background, rows):
    predictor.set_auto_classifier(names, background, torch.stack(rows))


def test_grid_is_sams_grid_on_the_sensor():
    from segment_anything.utils.amg import build_point_grid

    g = grid_points(W, H, 4)
    assert g.shape == (16, 2)
    np.testing.assert_allclose(g, build_point_grid(4) * [W, H], rtol=1e-6)
    assert g[0].tolist() == [20.0, 15.0] and g[-1].tolist() == [140.0, 105.0]  # cell centres
    assert grid_points(W, H, 0).shape == (0, 2)


def test_density_points_lie_where_the_events_are_densest_first():
    dense, sparse = (20, 20, 10, 4000), (120, 80, 10, 300)
    ev = _events([dense, sparse])
    pts = density_points(ev, W, H, 6)
    assert len(pts) == 6
    inside = lambda p, b: b[0] <= p[0] < b[0] + b[2] and b[1] <= p[1] < b[1] + b[2]  # noqa: E731
    assert inside(pts[0], dense)  # the densest cell first
    assert any(inside(p, sparse) for p in pts[:2])  # then the farthest events: the other blob
    assert all(inside(p, dense) or inside(p, sparse) for p in pts)
    np.testing.assert_array_equal(pts, density_points(ev, W, H, 6))  # deterministic
    # cells with fewer events than asked are not used; no events, no points
    lone = _events([dense, (120, 80, 1, 1)])
    assert not any(inside(p, (120, 80, 1)) for p in density_points(lone, W, H, 50, min_events=2))
    assert density_points(EventArray.empty(), W, H, 6).shape == (0, 2)


def test_grid_points_without_events_near_them_are_skipped():
    ev = _events([(0, 0, 40, 5000)])  # events in the top-left corner only
    cfg = AutoConfig(points_per_side=8, density_points=0, min_cell_events=1)
    pts = generate_points(ev, W, H, cfg)
    assert 0 < len(pts) < 64
    assert (pts[:, 0] < 40 + 2 * 3 + 10).all() and (pts[:, 1] < 40 + 2 * 3 + 10).all()
    keep_all = generate_points(ev, W, H, AutoConfig(points_per_side=8, density_points=0, min_cell_events=0))
    assert len(keep_all) == 64


def _accounted(stats):
    return sum(v for k, v in stats.items() if k.startswith("dropped_")) + stats["instances"]


def test_every_candidate_is_kept_or_dropped_for_a_named_reason(predictor, window):
    vocab = ("person", "car", "dog")
    predictor.set_auto_vocabulary(vocab, ())
    out = automatic_masks(predictor, window, W, H, OPEN)
    s = out.stats
    assert set(s) == set(STAT_KEYS)
    assert s["points"] == len(out.points) > 0 and s["candidates"] == 3 * s["points"]
    assert _accounted(s) == s["candidates"]
    assert s["instances"] == len(out.results) > 0
    scores = [r.score for r in out.results]
    assert scores == sorted(scores, reverse=True)
    for r in out.results:
        assert r.prompt_id == AUTO_PROMPT_ID and r.class_name in vocab and r.vocabulary == vocab
        assert r.mask.shape == (H, W) and r.mask.sum() >= OPEN.min_area
        assert r.score == pytest.approx(r.mask_score * r.class_score)
        ys, xs = np.nonzero(r.mask)
        assert r.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    # SAM's filters at their extremes drop everything, counted at that step
    s = automatic_masks(predictor, window, W, H, AutoConfig(**{**OPEN.__dict__, "pred_iou_thresh": 1.0})).stats
    assert s["dropped_iou"] == s["candidates"] and s["instances"] == 0
    s = automatic_masks(predictor, window, W, H, AutoConfig(**{**OPEN.__dict__, "min_area": W * H + 1})).stats
    assert s["dropped_area"] > 0 and s["instances"] == 0 and _accounted(s) == s["candidates"]
    capped = automatic_masks(predictor, window, W, H, AutoConfig(**{**OPEN.__dict__, "max_instances": 1}))
    assert len(capped.results) == 1 and capped.stats["dropped_cap"] == len(out.results) - 1
    assert capped.results[0].score == out.results[0].score


def test_min_class_score_drops_weak_classes(predictor, window):
    v = torch.nn.functional.normalize(torch.randn(16, generator=torch.Generator().manual_seed(1)), dim=0)
    _classifier(predictor, ("a", "b", "c", "d"), (), [v, v, v, v])  # every probability exactly 1/4
    ok = automatic_masks(predictor, window, W, H, AutoConfig(**{**OPEN.__dict__, "min_class_score": 0.24}))
    assert ok.results and all(r.class_score == pytest.approx(0.25) for r in ok.results)
    weak = automatic_masks(predictor, window, W, H, AutoConfig(**{**OPEN.__dict__, "min_class_score": 0.26}))
    assert weak.results == [] and weak.stats["dropped_weak"] == len(ok.results)


def test_background_classes_take_masks_away_and_are_never_reported(predictor, window):
    v = torch.nn.functional.normalize(torch.randn(16, generator=torch.Generator().manual_seed(2)), dim=0)
    _classifier(predictor, ("thing",), (), [-v])
    alone = automatic_masks(predictor, window, W, H, OPEN)
    _classifier(predictor, ("thing",), ("road",), [-v, v])  # masks whose embedding leans to v go to 'road'
    with_bg = automatic_masks(predictor, window, W, H, OPEN)
    s = with_bg.stats
    assert s["dropped_background"] > 0 and with_bg.results  # both sides happen for this seed
    assert len(with_bg.results) + s["dropped_background"] == len(alone.results)
    assert all(r.class_name == "thing" and r.vocabulary == ("thing",) for r in with_bg.results)
    kept = {r.bbox for r in with_bg.results}
    assert kept < {r.bbox for r in alone.results}


def test_query_keeps_only_the_named_classes(predictor, window):
    v = torch.nn.functional.normalize(torch.randn(16, generator=torch.Generator().manual_seed(2)), dim=0)
    _classifier(predictor, ("Cat", "dog"), (), [v, -v])
    every = automatic_masks(predictor, window, W, H, OPEN)
    names = [r.class_name for r in every.results]
    assert set(names) == {"Cat", "dog"}
    only = automatic_masks(predictor, window, W, H, OPEN, query=(" cat",))
    assert [r.class_name for r in only.results] == [n for n in names if n == "Cat"]
    assert only.stats["dropped_query"] == names.count("dog")


def test_prompted_masks_suppress_the_automatic_ones_they_cover(predictor, window):
    predictor.set_auto_vocabulary(("person", "car"), ())
    first = automatic_masks(predictor, window, W, H, OPEN)
    assert len(first.results) >= 2
    covering = [first.results[0].mask]
    again = automatic_masks(predictor, window, W, H, OPEN, prompted=covering)
    assert again.stats["dropped_prompted"] >= 1
    assert first.results[0].bbox not in {r.bbox for r in again.results}
    for r in again.results:  # what is left is not covered by the prompted mask beyond the threshold
        assert (r.mask & covering[0]).sum() / r.mask.sum() <= OPEN.prompt_overlap


def test_decoding_points_in_cpu_chunks_equals_one_batch(predictor, window):
    from seal_ros.seal.automatic import CPU_DECODE_CHUNK

    pts = np.random.default_rng(3).uniform([0, 0], [W, H], (2 * CPU_DECODE_CHUNK + 3, 2)).astype(np.float32)
    low, iou, tokens = predictor.decode_points(pts)  # three chunks on the CPU
    img = predictor._require_image()
    xy = torch.as_tensor(img["tf"].points(pts.astype(np.float64).reshape(-1, 1, 2)), dtype=torch.float32)
    with torch.no_grad():
        ref = predictor.model.decode(img["emb"], points=xy, labels=torch.ones(xy.shape[:2], dtype=torch.int64))
    assert low.shape == (len(pts), 3) + low.shape[2:] and tokens.shape[:2] == (len(pts), 3)
    for ours, theirs in zip((low, iou, tokens), ref):
        torch.testing.assert_close(ours, theirs.float(), rtol=1e-5, atol=1e-5)
