"""The authors' SEAL-protocol AP and seal_ros's COCO AP against hand-computed cases
(test_seal_golden.py checks the same functions against the authors' own numbers)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from seal_ros.evaluation.ap import (ap_excluding_absent_classes, authors_ap, binary_ap_closed_form, class_ap,
                                    mask_iou)
from seal_ros.evaluation.benchmarks import BENCHMARKS, get_benchmark
from seal_ros.evaluation.coco import CocoAccumulator
from seal_ros.evaluation.instances import instances_from_semantic
from seal_ros.evaluation.prompts import box_prompt, point_prompt, resize_nearest

ABC = ["a", "b", "c"]


def seal_ap(gt, pred, ious, names):
    return authors_ap(gt, pred, ious, range(len(names)), names)


def test_perfect_predictions_give_one():
    gt = [0, 0, 1, 1, 2]
    r = seal_ap(gt, gt, [1.0] * 5, ABC)
    assert r["all_AP"] == pytest.approx(1.0) and r["all_AP50"] == pytest.approx(1.0)
    assert r["c"]["AP25"] == pytest.approx(1.0)


def test_hand_computed_case():
    # class 0 has 2 of 4 instances (prevalence 0.5).
    gt = [0, 0, 1, 1]
    pred = [0, 0, 0, 1]
    ious = [0.9, 0.3, 0.9, 0.9]
    # class 0 at thr 0.5: scores [1, 0, 1, 0]: TP=1 (inst 0), FP=1 (inst 2), miss inst 1.
    # r = 1/2, p = 1/2 -> AP = r*p + (1-r)*prevalence = 0.25 + 0.25 = 0.5
    assert class_ap(gt, pred, ious, 0, 0.5) == pytest.approx(0.5)
    # at thr 0.25 both class-0 instances are hits: r = 1, p = 2/3
    assert class_ap(gt, pred, ious, 0, 0.25) == pytest.approx(2 / 3)
    # class 1: scores [0,0,0,1]: r = 1/2, p = 1 -> 0.5 + 0.5*0.5 = 0.75
    assert class_ap(gt, pred, ious, 1, 0.5) == pytest.approx(0.75)
    # IoU 0.9 matches the thresholds 0.5 .. 0.85 (8); the authors' 9th threshold is
    # 0.9000000000000004 (numpy.arange), so from there on class b drops to its floor 0.5
    r = seal_ap(gt, pred, ious, ["a", "b"])
    assert r["a"]["AP"] == pytest.approx(0.5)
    assert r["b"]["AP"] == pytest.approx((8 * 0.75 + 2 * 0.5) / 10)
    assert r["all_AP50"] == pytest.approx((0.5 + 0.75) / 2)


def test_prevalence_floor_when_everything_is_wrong():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, 50)
    pred = (gt + 1) % 3  # never right
    for c in range(3):
        prevalence = float((gt == c).mean())
        assert class_ap(gt, pred, np.ones(50), c, 0.5) == pytest.approx(prevalence)
        # and with no prediction of c at all
        assert class_ap(gt, np.full(50, -1), np.ones(50), c, 0.5) == pytest.approx(prevalence)


def test_closed_form_matches_sklearn_on_random_cases():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        gt = rng.integers(0, 4, n)
        pred = np.where(rng.random(n) < 0.6, gt, rng.integers(-1, 4, n))
        ious = rng.random(n)
        for c in range(4):
            a, b = class_ap(gt, pred, ious, c, 0.5), binary_ap_closed_form(gt, pred, ious, c, 0.5)
            if (gt == c).any():
                assert a == pytest.approx(b)
            else:  # no instance: scikit-learn's 0.0 (the authors'), NaN written out
                assert a == 0.0 and math.isnan(b)


def test_classes_without_ground_truth_count_as_zero_and_the_addition_drops_them():
    gt, pred = [0, 0], [0, 1]
    r = seal_ap(gt, pred, [1.0, 1.0], ABC)
    # the authors: scikit-learn gives 0 for b and c and they enter the mean
    assert r["b"] == r["c"] == {"AP50": 0.0, "AP25": 0.0, "AP": 0.0}
    # class a: scores [1, 0], y_true [1, 1]: r = 1/2, p = 1, prevalence 1 -> 1.0
    assert r["a"]["AP"] == pytest.approx(1.0) and r["all_AP"] == pytest.approx(1 / 3)
    x = ap_excluding_absent_classes(r, gt, range(3), ABC)
    assert math.isnan(x["b"]["AP"]) and x["a"] == r["a"] and x["all_AP"] == pytest.approx(1.0)
    assert math.isnan(class_ap([], [], [], 0, 0.5))  # nothing scored at all
    with pytest.raises(ValueError):
        class_ap([0], [0, 1], [1.0], 0, 0.5)


def test_iou_exactly_on_a_threshold_counts_as_the_authors_count_it():
    # 0.6 is below the authors' second threshold 0.6000000000000001 (numpy.arange, not rounded)
    r = seal_ap([0, 1], [0, 1], [0.6, 1.0], ["a", "b"])
    hits = [0.6 >= t for t in np.arange(0.5, 1.0, 0.05)]
    assert hits[:3] == [True, True, False]
    assert r["a"]["AP"] == pytest.approx((2 * 1.0 + 8 * 0.5) / 10)


def test_coco_ap_uses_scores():
    masks = []
    for i in range(4):
        m = np.zeros((20, 20), bool)
        m[i * 5:i * 5 + 4, 2:10] = True
        masks.append(m)
    acc = CocoAccumulator(["a", "b"])
    img = acc.add_image(20, 20)
    for m in masks[:2]:
        acc.add_gt(img, m, 0)
    # a confident right detection, a low-scored wrong-class one, a right one, a confident false positive
    acc.add_det(img, masks[0], 0, 0.9)
    acc.add_det(img, masks[1], 0, 0.2)
    acc.add_det(img, masks[3], 0, 0.5)
    r = acc.evaluate()
    # ranked: TP(0.9), FP(0.5), TP(0.2): precision envelope 1.0 up to recall .5, 2/3 to 1.0
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert r["per_class"]["a"]["AP50"] == pytest.approx(expected, abs=1e-6)
    assert math.isnan(r["per_class"]["b"]["AP"])
    assert r["mAP"] == pytest.approx(expected, abs=1e-6)
    # the SEAL binary AP of the same predictions cannot see the ranking
    assert class_ap([0, 0, 1], [0, 0, 0], [1, 1, 0], 0, 0.5) == pytest.approx(2 / 3)


def test_benchmark_class_lists_are_the_authors():
    assert get_benchmark("DSEC11").classes[10] == "traffic sign"
    assert BENCHMARKS["dsec11"].instance_ids == (1, 2, 3, 4, 7, 8, 10)
    assert BENCHMARKS["dsec11"].instance_classes == ("building", "fence", "person", "pole", "vegetation", "car",
                                                     "traffic sign")
    assert len(BENCHMARKS["dsec19"].classes) == 19 and BENCHMARKS["dsec19"].classes[13] == "car"
    assert BENCHMARKS["dsec19"].instance_ids == (2, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18)
    assert BENCHMARKS["ddd17"].classes == ("flat", "construction+sky", "object", "nature", "human", "vehicle")
    assert BENCHMARKS["ddd17"].instance_ids == (1, 2, 3, 4, 5)
    part = get_benchmark("DSEC-PART")
    assert part.instance_classes[:2] == ("vehicle: wheel", "vehicle: window") and not part.released
    assert {b.eval_list for b in BENCHMARKS.values()} >= {"ddd17_eval.txt", "dsec11_eval.txt", "dsec19_eval.txt"}
    with pytest.raises(KeyError):
        get_benchmark("kitti")


def test_instances_prompts_and_iou():
    lab = np.zeros((64, 128), np.uint8)  # DSEC11: 0 background (not an instance class)
    lab[10:20, 10:30] = 8  # car
    lab[40:50, 60:70] = 8  # another car
    lab[5:7, 100:101] = 3  # tiny person, below min_area
    inst = instances_from_semantic(lab, BENCHMARKS["dsec11"], min_area=4)
    assert sorted(i.label for i in inst) == [8, 8]
    big = resize_nearest(inst[0].mask[None], (128, 256))[0]  # 2x in each direction
    assert box_prompt(big).tolist() == [20, 20, 59, 39]  # inclusive maxima
    pts, labels = point_prompt(inst[0].mask)
    # furthest points: the first foreground pixel, the far corner, then the pixel farthest from
    # both: (22, 10) and (17, 19) tie at squared distance 130; the kernel keeps (22, 10)
    assert pts.tolist() == [[10, 10], [29, 19], [22, 10]] and labels.tolist() == [1, 1, 1]
    assert mask_iou(inst[0].mask, inst[0].mask) == 1.0 and mask_iou(inst[0].mask, inst[1].mask) == 0.0
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
