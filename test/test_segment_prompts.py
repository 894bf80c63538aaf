"""Prompt store: persistent vs one-shot, replace by id, clear, tracking; message conversion."""
from types import SimpleNamespace

import numpy as np
import pytest

from seal_ros.seal.prompt import Granularity
from seal_ros.segment.prompts import Prompt, PromptError, PromptStore, prompt_from_msg


def box(pid, b=(10, 20, 30, 40), persistent=True, **kw):
    return Prompt(id=pid, box=b, persistent=persistent, **kw)


def test_persistent_prompts_stay_one_shot_prompts_go():
    s = PromptStore()
    s.put([box(1), box(2, persistent=False)])
    assert sorted(p.id for p in s.take()) == [1, 2]
    assert [p.id for p in s.take()] == [1]
    assert [p.id for p in s.take()] == [1]


def test_same_id_replaces():
    s = PromptStore()
    s.put([box(1, (0, 0, 5, 5))])
    s.put([box(1, (1, 2, 3, 4))])
    (p,) = s.take()
    assert p.box == (1.0, 2.0, 3.0, 4.0)


def test_clear_and_remove():
    s = PromptStore()
    s.put([box(1), box(2), box(3)])
    assert s.remove(2) and not s.remove(2)
    assert s.clear() == 2 and s.take() == []


def test_limit_refuses_whole_batch():
    s = PromptStore(max_prompts=2)
    s.put([box(1)])
    with pytest.raises(PromptError, match="limit"):
        s.put([box(2), box(3)])
    assert len(s) == 1
    s.put([box(1, (0, 0, 1, 1)), box(2)])  # a replacement does not count as new
    assert len(s) == 2


@pytest.mark.parametrize("prompt, needle", [
    (Prompt(id=1), "neither"),
    (Prompt(id=1, box=(5, 0, 1, 1)), "inverted"),
    (Prompt(id=1, box=(0, 0, float("nan"), 1)), "finite"),
    (Prompt(id=1, points=np.zeros((2, 2)), point_labels=np.ones(3)), "labels"),
    (Prompt(id=1, points=np.zeros((1, 2)), point_labels=np.array([2])), "must be 0"),
    (Prompt(id=1, box=(0, 0, 1, 1), granularity="pixel"), "granularity"),
    (Prompt(id=-1, box=(0, 0, 1, 1)), "uint32"),
])
def test_bad_prompts_are_refused(prompt, needle):
    with pytest.raises(PromptError, match=needle):
        PromptStore().put([prompt])


def test_zero_width_box_is_a_prompt():
    # the authors' box of a one-pixel-wide instance has x0 == x1; SAM embeds its two corners
    p = Prompt(id=1, box=(5, 0, 5, 9), granularity="part").validated()
    assert p.box == (5.0, 0.0, 5.0, 9.0) and p.granularity is Granularity.PART
    assert p.clipped(640, 480).box == (5.0, 0.0, 5.0, 9.0)
    assert box(2, (640, 10, 650, 20)).validated().clipped(640, 480) is None  # right of the last column
    assert box(3, (-9, 10, 0, 20)).validated().clipped(640, 480) is None  # left of the first


def test_granularity_codes_are_the_message_constants():
    assert [g.code for g in Granularity] == [0, 1, 2]
    assert [Granularity.from_code(c) for c in (0, 1, 2)] == ["any", "instance", "part"]
    with pytest.raises(PromptError, match="granularity"):
        Granularity.from_code(3)


def test_points_default_to_foreground():
    p = Prompt(id=4, points=[[3, 4]]).validated()
    assert p.point_labels.tolist() == [1] and p.points.dtype == np.float32


def test_tracking_moves_persistent_box_to_mask_box():
    s = PromptStore(track=True)
    s.put([box(1), box(2), box(3, persistent=False)])
    taken = s.take()
    moved = s.follow(taken, {1: (12, 22, 33, 44), 2: None, 3: (0, 0, 1, 1)})
    assert moved == 1
    boxes = {p.id: p.box for p in s.snapshot()}
    assert boxes == {1: (12.0, 22.0, 33.0, 44.0), 2: (10.0, 20.0, 30.0, 40.0)}


def test_tracking_off_or_replaced_prompt_is_not_moved():
    s = PromptStore(track=False)
    s.put([box(1)])
    assert s.follow(s.take(), {1: (0, 0, 2, 2)}) == 0
    s.track = True
    taken = s.take()
    s.put([box(1, (50, 50, 60, 60))])  # the user moved it meanwhile: the user wins
    assert s.follow(taken, {1: (0, 0, 2, 2)}) == 0
    assert s.snapshot()[0].box == (50.0, 50.0, 60.0, 60.0)


def test_tracking_margin():
    s = PromptStore(track=True, track_margin=0.1)
    s.put([box(1)])
    s.follow(s.take(), {1: (10, 10, 20, 30)})
    assert s.snapshot()[0].box == pytest.approx((9, 8, 21, 32))


def test_clipped_to_sensor():
    p = box(1, (-5, -5, 700, 100)).validated()
    assert p.clipped(640, 480).box == (0.0, 0.0, 640.0, 100.0)
    assert box(2, (700, 500, 800, 600)).validated().clipped(640, 480) is None
    pts = Prompt(id=3, points=[[5, 5], [640, 5]], point_labels=[1, 1]).validated().clipped(640, 480)
    assert pts.points.tolist() == [[5, 5]]
    assert Prompt(id=4, points=[[5, 5]], point_labels=[0]).validated().clipped(640, 480) is None


def _msg(**kw):
    d = dict(id=7, has_box=True, box=[1.0, 2.0, 3.0, 4.0], points=[], point_labels=b"", granularity=2, persistent=False)
    d.update(kw)
    return SimpleNamespace(**d)


def test_prompt_from_msg():
    p = prompt_from_msg(_msg())
    assert (p.id, p.box, p.granularity, p.persistent, p.points) == (7, (1.0, 2.0, 3.0, 4.0), "part", False, None)
    q = prompt_from_msg(_msg(has_box=False, points=[SimpleNamespace(x=5.0, y=6.0, z=0.0)], point_labels=b"\x00", granularity=0))
    assert q.box is None and q.points.tolist() == [[5.0, 6.0]] and q.point_labels.tolist() == [0] and q.granularity == "any"
    with pytest.raises(PromptError, match="granularity"):
        prompt_from_msg(_msg(granularity=9))
