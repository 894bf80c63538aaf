"""Track ids across windows (seal_ros.segment.tracking) and the window pipeline of every mode."""
import numpy as np
import pytest

from seal_ros.segment.tracking import Tracker, TrackItem

H, W = 120, 160


def box(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def item(x0, y0, x1, y1, cls="car", prompt=0):
    return TrackItem(box(x0, y0, x1, y1), cls, prompt)


def test_moving_objects_keep_their_ids_and_new_ones_get_new_ids():
    t = Tracker(iou=0.3, memory=2)
    assert t.update(1, [item(10, 10, 40, 40), item(100, 60, 140, 100, "person")]) == [1, 2]
    # both move a little, listed in the other order
    assert t.update(2, [item(104, 62, 144, 102, "person"), item(14, 12, 44, 42)]) == [2, 1]
    # a third object appears
    assert t.update(3, [item(18, 14, 48, 44), item(60, 0, 80, 20), item(108, 64, 148, 104, "person")]) == [1, 3, 2]


def test_class_and_prompt_must_match():
    t = Tracker()
    assert t.update(1, [item(10, 10, 40, 40, "car")]) == [1]
    assert t.update(2, [item(10, 10, 40, 40, "truck")]) == [2]  # same place, other class: another object
    assert t.update(3, [item(10, 10, 40, 40, "truck", prompt=5)]) == [3]  # a prompt's result is its own track
    assert t.update(4, [item(10, 10, 40, 40, "truck", prompt=5)]) == [3]
    assert t.update(5, [item(10, 10, 40, 40, "")]) == [4]  # unclassified only continues unclassified


def test_overlap_below_the_threshold_starts_a_new_track():
    t = Tracker(iou=0.5)
    assert t.update(1, [item(0, 0, 40, 40)]) == [1]
    assert t.update(2, [item(20, 0, 60, 40)]) == [2]  # IoU 1/3


def test_each_track_is_taken_once_by_the_best_overlap():
    t = Tracker(iou=0.2)
    assert t.update(1, [item(0, 0, 40, 40)]) == [1]
    ids = t.update(2, [item(30, 0, 70, 40), item(2, 0, 42, 40)])  # both overlap track 1; the second more
    assert ids == [2, 1]


def test_a_still_object_is_remembered_for_memory_windows():
    t = Tracker(memory=3)
    assert t.update(1, [item(10, 10, 40, 40)]) == [1]
    for w in (2, 3, 4):  # no events: no mask
        assert t.update(w, []) == []
    assert t.update(5, [item(12, 10, 42, 40)]) == [1]  # 4 windows after: within memory of 3 unseen windows
    for w in (6, 7, 8, 9):
        t.update(w, [])
    assert t.update(10, [item(12, 10, 42, 40)]) == [2]  # gone too long: a new object
    # windows the worker dropped count too
    assert t.update(20, [item(12, 10, 42, 40)]) == [3]


def test_answering_a_window_again_replaces_its_association():
    t = Tracker()
    assert t.update(1, [item(10, 10, 40, 40)]) == [1]
    assert t.update(2, [item(10, 10, 40, 40), item(80, 80, 100, 100)]) == [1, 2]
    # window 2 answered again (prompts changed): not a third window, ids not consumed twice
    assert t.update(2, [item(80, 80, 100, 100), item(10, 10, 40, 40), item(0, 100, 10, 110)]) == [2, 1, 3]
    assert t.update(3, [item(0, 100, 10, 110)]) == [3]


def test_reset_forgets_tracks_but_ids_go_on():
    t = Tracker()
    assert t.update(1, [item(10, 10, 40, 40)]) == [1]
    t.reset()
    assert t.update(2, [item(10, 10, 40, 40)]) == [2]


def test_small_masks_are_compared_at_full_detail():
    t = Tracker(stride=4)
    assert t.update(1, [item(1, 1, 3, 3)]) == [1]  # 2x2 pixels: kept by the block pooling
    assert t.update(2, [item(1, 1, 3, 3)]) == [1]


# -- the window pipeline of every mode --------------------------------------------------------
@pytest.fixture(scope="module")
def setup():
    from seal_ros.events.types import EventArray
    from seal_ros.segment.event_images import make_event_image
    from seal_ros.segment.loading import load_predictor

    p, _ = load_predictor("tiny", None, "cpu")
    p.set_vocabulary(["person", "car", "dog"], "instance")
    p.set_auto_vocabulary(["person", "car", "dog"], ())
    rng = np.random.default_rng(0)
    x, y = rng.integers(20, 90, 4000).astype(np.uint16), rng.integers(20, 90, 4000).astype(np.uint16)
    ev = EventArray(x, y, (x % 2).astype(np.uint8), np.sort(rng.integers(0, 10**7, 4000)).astype(np.int64))
    return p, ev, make_event_image("voxel", ev, W, H)


def _config(mode, **kw):
    from seal_ros.segment.auto import AutoConfig
    from seal_ros.segment.pipeline import SegmentConfig

    auto = AutoConfig(points_per_side=8, density_points=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                      min_class_score=0.0, min_area=1, prompt_overlap=0.5)
    return SegmentConfig(mode, auto, **kw)


def test_modes_prompted_auto_both(setup):
    from seal_ros.seal.prompt import Prompt
    from seal_ros.segment.pipeline import WindowSegmenter

    p, ev, img = setup
    prompts = [Prompt(7, box=(20.0, 20.0, 90.0, 90.0))]
    prompted = WindowSegmenter(_config("prompted")).process(p, img, 1, ev, W, H, prompts)
    assert [r.prompt_id for r in prompted.results] == [7] and prompted.n_prompted == 1
    assert prompted.auto_stats == {} and prompted.track_ids == [1]
    auto = WindowSegmenter(_config("auto")).process(p, img, 1, ev, W, H, prompts)
    assert auto.n_prompted == 0 and auto.results and all(r.prompt_id == 0 for r in auto.results)
    both = WindowSegmenter(_config("both")).process(p, img, 1, ev, W, H, prompts)
    assert both.n_prompted == 1 and both.results[0].prompt_id == 7
    assert all(r.prompt_id == 0 for r in both.results[1:])
    covered = both.results[0].mask
    for r in both.results[1:]:
        assert (r.mask & covered).sum() / r.mask.sum() <= 0.5
    assert len(both.results) - 1 == len(auto.results) - both.auto_stats["dropped_prompted"]
    assert len(set(both.track_ids)) == len(both.results)


def test_the_same_window_again_reuses_the_automatic_results(setup):
    from seal_ros.segment.pipeline import WindowSegmenter

    p, ev, img = setup
    seg = WindowSegmenter(_config("auto"))
    a = seg.process(p, img, 5, ev, W, H)
    totals = dict(seg.totals)
    b = seg.process(p, img, 5, ev, W, H)  # a rerun: the prompts changed, nothing automatic did
    assert seg.totals == totals and [r.bbox for r in b.results] == [r.bbox for r in a.results]
    assert b.track_ids == a.track_ids
    c = seg.process(p, img, 6, ev, W, H)  # the next window, the same image: the same objects
    assert c.track_ids == a.track_ids and seg.totals["instances"] == 2 * totals["instances"]
    seg.configure(_config("auto", query=("nothing-named-so",)))
    assert seg.process(p, img, 7, ev, W, H).results == []  # a query of another class: the cache is not used
    seg.configure(_config("auto", tracking=False))
    assert set(seg.process(p, img, 8, ev, W, H).track_ids) == {0}
