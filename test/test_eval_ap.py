"""SEAL-protocol AP and COCO AP against hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from seal_ros.evaluation.ap import binary_ap_closed_form, class_ap, mask_iou, seal_ap
from seal_ros.evaluation.benchmarks import BENCHMARKS, get_benchmark
from seal_ros.evaluation.coco import CocoAccumulator
from seal_ros.evaluation.instances import instances_from_semantic
from seal_ros.evaluation.prompts import box_prompt, farthest_points, point_prompt


def test_perfect_predictions_give_one():
    gt = [0, 0, 1, 1, 2]
    r = seal_ap(gt, gt, [1.0] * 5, ["a", "b", "c"])
    assert r.mAP == pytest.approx(1.0) and r.mAP50 == pytest.approx(1.0)
    assert r.per_class["c"]["AP25"] == pytest.approx(1.0)


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
    # above IoU 0.9 nothing matches: thresholds 0.5..0.9 (9) reach 0.5 for class 0, 0.95 the floor
    r = seal_ap(gt, pred, ious, ["a", "b"])
    assert r.per_class["a"]["AP"] == pytest.approx((9 * 0.5 + 0.5) / 10)
    assert r.per_class["b"]["AP"] == pytest.approx((9 * 0.75 + 0.5) / 10)
    assert r.mAP50 == pytest.approx((0.5 + 0.75) / 2)


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
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def test_classes_without_ground_truth_are_ignored():
    r = seal_ap([0, 0], [0, 1], [1.0, 1.0], ["a", "b", "c"])
    assert math.isnan(r.per_class["b"]["AP"]) and math.isnan(r.per_class["c"]["AP"])
    # class a: scores [1, 0], y_true [1, 1]: r = 1/2, p = 1, prevalence 1 -> 1.0
    assert r.mAP == pytest.approx(1.0)
    with pytest.raises(ValueError):
        class_ap([0], [0, 1], [1.0], 0, 0.5)


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


def test_benchmark_class_lists():
    assert get_benchmark("DSEC11").classes[10] == "traffic sign"
    assert len(BENCHMARKS["dsec19"].classes) == 19 and BENCHMARKS["dsec19"].classes[13] == "car"
    assert len(BENCHMARKS["dsec19"].instance_classes) == 14
    assert "flat" not in BENCHMARKS["ddd17"].instance_classes and len(BENCHMARKS["ddd17"].instance_ids) == 5
    assert set(BENCHMARKS["dsec11"].instance_ids) == {1, 2, 3, 4, 7, 8, 10}
    with pytest.raises(KeyError):
        get_benchmark("kitti")


def test_instances_prompts_and_iou():
    lab = np.zeros((64, 128), np.uint8)  # DSEC11: 0 background (not an instance class)
    lab[10:20, 10:30] = 8  # car
    lab[40:50, 60:70] = 8  # another car
    lab[5:7, 100:101] = 3  # tiny person, below min_area
    inst = instances_from_semantic(lab, BENCHMARKS["dsec11"], min_area=4)
    assert sorted(i.label for i in inst) == [8, 8]
    box = box_prompt(inst[0].mask, size=(128, 256))  # 2x in each direction
    assert box.tolist() == [20, 20, 59, 39]
    pts = farthest_points(inst[0].mask, 3)
    assert pts.shape == (3, 2) and all(inst[0].mask[int(y), int(x)] for x, y in pts)
    # the second point is a corner of the rectangle (farthest from the centre)
    assert tuple(pts[1]) in {(10, 10), (29, 10), (10, 19), (29, 19)}
    assert point_prompt(inst[0].mask, size=(64, 128)).shape == (3, 2)
    assert mask_iou(inst[0].mask, inst[0].mask) == 1.0 and mask_iou(inst[0].mask, inst[1].mask) == 0.0
