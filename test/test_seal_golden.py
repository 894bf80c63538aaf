"""seal_ros against values the SEAL authors' own code produced (shared/reference/golden).

The head (random weights, the published layout) with the authors' inputs gives
the authors' RoI boxes, class probabilities and labels; SAM's candidates of five
prompts give the same kept masks, chosen candidate, label and score; the
evaluation reproduces ``compute_metrics_per_class`` exactly on both scenarios,
with the authors' IoUs, thresholds and box / furthest-point prompts.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import DATA
from seal_ros.evaluation.ap import THRESHOLDS, authors_ap, mask_iou
from seal_ros.evaluation.benchmarks import BENCHMARKS
from seal_ros.evaluation.prompts import box_prompt, point_prompt
from seal_ros.seal.build import build_seal
from seal_ros.seal.modeling.attention import use_fused_attention
from seal_ros.seal.modeling.enhance import mask_to_grid
from seal_ros.seal.modeling.spatial import grid_roi_boxes, roi_mean

GOLDEN = DATA.parent / "reference" / "golden"


@pytest.fixture(scope="module")
def golden():
    if not (GOLDEN / "seal_head_golden.pt").is_file():
        pytest.fail(f"golden values not found at {GOLDEN}")
    return torch.load(GOLDEN / "seal_head_golden.pt", weights_only=True)


@pytest.fixture(scope="module")
def head(golden):
    # the head at full size; one ViT block is enough: the head gets the ViT features as input
    model = build_seal("vit_b", encoder_depth=1)
    missing, unexpected = model.load_state_dict(golden["head_state"], strict=False)
    assert not unexpected and missing and all(k.startswith("eventsam.") for k in missing)
    assert len(golden["head_state"]) == 129
    return model.eval()


@pytest.fixture(scope="module")
def fused(head, golden):
    with torch.no_grad():
        return head.fuse_text(golden["features_med"], golden["classifier"])


def test_roi_boxes_and_features_are_the_authors(head, golden, fused):
    c = golden["controlled"]
    grid = mask_to_grid(c["masks"], 32)
    boxes = grid_roi_boxes(grid)
    assert torch.equal(boxes, c["roi_boxes"][:, 1:]) and torch.equal(c["roi_boxes"][:, 0], torch.zeros(8))
    # inclusive maxima: a one-cell-wide mask has a zero-width box and a zero RoI feature
    flat = (boxes[:, 0] == boxes[:, 2]) | (boxes[:, 1] == boxes[:, 3])
    assert flat.sum() == 2
    with torch.no_grad():
        roi = roi_mean(fused.permute(0, 3, 1, 2), boxes)
    assert torch.allclose(roi, c["roi_align_out"].mean(dim=(2, 3)), atol=1e-5)
    assert torch.equal(roi[flat], torch.zeros_like(roi[flat]))
    assert torch.allclose(torch.cat([roi, c["tokens"]], 1), c["in_proj_in"], atol=1e-5)


@pytest.mark.parametrize("fused_attention", [False, True])
def test_controlled_masks_labels_and_costmap(head, golden, fused, fused_attention):
    c = golden["controlled"]
    use_fused_attention(head, fused_attention)  # the node's fast path: SDPA in the fusion neck
    try:
        with torch.no_grad():
            if fused_attention:
                fused = head.fuse_text(golden["features_med"], golden["classifier"])
            e = head.embed_masks(fused, c["masks"], c["tokens"])
            costmap = head.class_logits(e, golden["classifier"]).softmax(-1)
    finally:
        use_fused_attention(head, False)
    assert torch.allclose(costmap, c["costmap"], atol=1e-5)
    scores, labels = costmap.max(-1)
    assert torch.equal(labels, c["labels"])
    assert torch.allclose(scores, c["scores"], atol=1e-5)


def test_classifier_rows_are_used_as_given(head, golden, fused):
    # scaling the rows scales the logits: the head does not re-normalise them
    c = golden["controlled"]
    with torch.no_grad():
        e = head.embed_masks(fused, c["masks"], c["tokens"])
        a = head.class_logits(e, golden["classifier"])
        b = head.class_logits(e, 2 * golden["classifier"])
    assert torch.allclose(b, 2 * a, atol=1e-4)


def test_prompts_kept_masks_choice_label_and_score(head, golden, fused):
    ps = golden["prompts"]
    masks = torch.stack([p["masks_all"] for p in ps])
    iou = torch.stack([p["iou_all"] for p in ps])
    tokens = torch.stack([p["tokens_all"] for p in ps])
    with torch.no_grad():  # all five prompts in one batch, as the predictor runs them
        out = head.classify_candidates(fused, golden["classifier"], masks, iou, tokens)
    for i, p in enumerate(ps):
        kept = out["nonempty"][i]
        assert kept.tolist() == p["kept"].tolist()
        k = int(out["choice"][i])
        assert int(kept[:k].sum()) == p["idx"]  # the authors' index among the kept masks
        assert int(out["class_index"][i, k]) == p["final_label"]
        assert float(iou[i, k] * out["class_prob"][i, k]) == pytest.approx(p["final_score"], abs=1e-5)
        assert torch.equal(out["class_index"][i][kept], p["labels"])
        assert torch.allclose(out["probs"][i][kept], p["costmap"], atol=1e-5)
        assert torch.allclose(iou[i][kept] * out["class_prob"][i][kept], p["total_scores"], atol=1e-5)


def test_prompts_are_the_authors(golden, ap_golden):
    boxes = ap_golden[0]["boxes_512"]
    ps, c = golden["prompts"], golden["controlled"]
    for i in range(3):  # the box prompts were made from the first three controlled masks
        assert box_prompt(c["masks"][i].numpy()).tolist() == boxes[i] == ps[i]["box"].tolist()
    for b in boxes[3:]:  # their masks are not stored: rectangles of those extents (inclusive maxima)
        m = np.zeros((512, 512), bool)
        m[b[1]:b[3] + 1, b[0]:b[2] + 1] = True
        assert box_prompt(m).tolist() == b
    # three furthest points of the first mask: the first foreground pixel in row-major order,
    # then furthest-point sampling; the third is a tie broken as the pointnet2 kernel breaks it
    pts, labels = point_prompt(c["masks"][0].numpy(), "furthest")
    assert pts.tolist() == ps[3]["points"].tolist() and labels.tolist() == [1, 1, 1]
    assert box_prompt(np.zeros((4, 4), bool)) is None and point_prompt(np.zeros((4, 4), bool)) is None


def test_random_points_are_seeded_and_inside():
    m = np.zeros((64, 64), bool)
    m[10:20, 30:50] = True
    a, _ = point_prompt(m, "random", np.random.RandomState(3))
    b, _ = point_prompt(m, "random", np.random.RandomState(3))
    assert a.tolist() == b.tolist() and len(a) == 3 and all(m[y, x] for x, y in a)
    with pytest.raises(ValueError, match="point sampling"):
        point_prompt(m, "grid")


@pytest.fixture(scope="module")
def ap_golden():
    if not (GOLDEN / "seal_ap_golden.json").is_file():
        pytest.fail(f"golden values not found at {GOLDEN}")
    return json.loads((GOLDEN / "seal_ap_golden.json").read_text()), np.load(GOLDEN / "seal_ap_golden_inputs.npz")


def test_ious_and_thresholds_are_the_authors(ap_golden):
    g, n = ap_golden
    assert [mask_iou(p, t) for p, t in zip(n["pred_masks"], n["gt_masks"])] == g["ious"]
    assert THRESHOLDS.tolist() == g["thresholds"]  # 0.6000000000000001 ..., not rounded


@pytest.mark.parametrize("scenario", ["same_inputs", "as_pipelines"])
def test_ap_is_the_authors_exactly(ap_golden, scenario):
    g, n = ap_golden
    keep = np.ones(len(n["gt_labels"]), bool) if scenario == "same_inputs" else ~n["empty"]
    ious = np.array(g["ious"])[keep]
    b = BENCHMARKS["dsec11"]
    got = authors_ap(n["gt_labels"][keep], n["pred_labels"][keep], ious, b.instance_ids, b.classes)
    assert got == g[scenario]  # every per-class value and every mean, bit for bit
    assert got["traffic sign"] == {"AP50": 0.0, "AP25": 0.0, "AP": 0.0}  # no ground truth: 0, averaged in


def test_bf16_decisions_are_the_authors(head, golden):
    """The node's CUDA path stores the weights in bf16 (SealPredictor.for_deployment): every
    label and multimask choice of the golden data is the authors'; probabilities within bf16 noise."""
    import copy

    model = copy.deepcopy(head)
    model.to(torch.bfloat16)
    model.pe_layer.float()  # as SealPredictor(cast_weights=True): the Fourier matrix stays fp32
    c, ps, cl = golden["controlled"], golden["prompts"], golden["classifier"]
    feats = golden["features_med"].bfloat16()
    with torch.no_grad():
        cl = cl.bfloat16()
        fused = model.fuse_text(feats, cl)
        costmap = model.class_logits(model.embed_masks(fused, c["masks"], c["tokens"]), cl).softmax(-1)
        out = model.classify_candidates(fused, cl, torch.stack([p["masks_all"] for p in ps]),
                                        torch.stack([p["iou_all"] for p in ps]),
                                        torch.stack([p["tokens_all"] for p in ps]))
    assert torch.equal(costmap.argmax(-1), c["labels"])
    assert torch.allclose(costmap.float(), c["costmap"], atol=0.03)
    for i, p in enumerate(ps):
        k = int(out["choice"][i])
        assert int(out["nonempty"][i][:k].sum()) == p["idx"] and int(out["class_index"][i, k]) == p["final_label"]
        assert float(p["iou_all"][k] * out["class_prob"][i, k]) == pytest.approx(p["final_score"], abs=0.01)
