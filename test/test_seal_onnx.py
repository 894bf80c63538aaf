"""`seal-ros export onnx` and the ONNX Runtime backend against torch (tiny random model: equality, not accuracy).

Tolerances (stated in docs/seal_model.md): float outputs within 1e-3 absolute (the resize and
matrix products run in another order), scores within 1e-4, the same chosen candidate and class
for every prompt, masks equal on at least 99.9 % of the pixels (a logit that close to 0 may flip).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from conftest import spin_until  # noqa: E402
from test_cli_errors import cli, one_line  # noqa: E402
from test_node_segmenter import _box_prompt, _prompt_array, packets, rig, spin_feeding  # noqa: E402,F401
from test_seal_golden import fused, golden, head  # noqa: E402,F401

SEED = 0


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """One export of the tiny model through the command line, shared by the module (it takes a while)."""
    out = tmp_path_factory.mktemp("onnx") / "tiny"
    from seal_ros.cli import main

    assert main(["export", "onnx", "--model", "tiny", "--seed", str(SEED), "--out", str(out),
                 "--height", "60", "--width", "80"]) == 0
    return out


@pytest.fixture(scope="module")
def predictors(export_dir):
    from seal_ros.seal.onnx.cache import model_for_export
    from seal_ros.seal.onnx.runtime import load_onnx_predictor
    from seal_ros.seal.predictor import SealPredictor
    from seal_ros.seal.text import build_tiny_text_encoder

    model, _ = model_for_export("tiny", seed=SEED)  # the same random weights as the export
    return SealPredictor(model, build_tiny_text_encoder()), load_onnx_predictor(export_dir)


def test_export_files_and_its_check(export_dir):
    from seal_ros.seal.onnx.export import FILES, MANIFEST

    man = json.loads((export_dir / MANIFEST).read_text())
    assert all((export_dir / f).is_file() for f in FILES.values())
    assert man["image_size"] == 128 and man["text_dim"] == 16 and man["config"]["text_encoder"]["kind"] == "tiny"
    c = man["check"]  # ONNX Runtime vs torch at another size, seed and vocabulary than traced
    assert max(c["embeddings"], c["vit"], c["fused"]) < 1e-3 and c["scores_max_diff"] < 1e-4
    assert c["same_choice"] and c["same_classes"] and c["masks_equal"] >= 0.999 and c["model_masks_equal"] >= 0.999


def _same(a, b):
    assert (a.prompt_id, a.class_index, a.class_name, a.candidate, a.num_kept, a.granularity) == \
           (b.prompt_id, b.class_index, b.class_name, b.candidate, b.num_kept, b.granularity)
    assert abs(a.class_score - b.class_score) < 1e-4 and abs(a.mask_score - b.mask_score) < 1e-4
    ma, mb = a.mask_array(), b.mask_array()
    assert ma.shape == mb.shape and (ma == mb).mean() >= 0.999


@pytest.mark.parametrize("hw", [(48, 64), (120, 90)])
def test_onnx_predictor_answers_like_torch(predictors, hw):
    from seal_ros.seal.predictor import Prompt

    h, w = hw
    ref, onx = predictors
    assert onx.backend == "onnx" and onx.device.type == "cpu"
    img = (np.random.default_rng(h).random((h, w, 3)) * 255).astype(np.uint8)
    prompts = [Prompt(1, box=(2, 3, w * 0.6, h * 0.7)), Prompt(2, box=(w * 0.3, h * 0.2, w - 1, h - 1)),
               Prompt(3, points=np.array([[w / 2, h / 2], [3.0, 4.0]]), point_labels=np.array([1, 0])),
               Prompt(4, box=(1, 1, w / 2, h / 2), points=np.array([[w / 4, h / 4]]), point_labels=np.array([1])),
               Prompt(5, box=(5, 5, w / 2, h - 2), granularity="part"),
               Prompt(6, points=np.array([[w / 3, h / 3]]), point_labels=np.array([1]), granularity="any")]
    for vocab in (["car", "person", "dog"], [f"c{i}" for i in range(11)]):  # the vocabulary size is dynamic
        for p in (ref, onx):
            p.set_vocabulary(vocab)
            p.set_vocabulary(["wheel", "door"], granularity="part")
            p.set_image(img, key=(hw, len(vocab)))
        for a, b in zip(ref.predict(prompts), onx.predict(prompts, mask_format="rle")):
            _same(a, b)
    # prompts in the model frame, masks at the model size
    mp = [Prompt(7, box=(10, 12, 90, 100))]
    a, = ref.predict(mp, frame="model", model_masks=True)
    b, = onx.predict(mp, frame="model", model_masks=True)
    _same(a, b)
    assert (a.model_mask == b.model_mask).mean() >= 0.999


def test_onnx_predictor_without_vocabulary(export_dir):
    from seal_ros.seal.onnx.cache import model_for_export
    from seal_ros.seal.onnx.runtime import load_onnx_predictor
    from seal_ros.seal.predictor import Prompt, SealPredictor

    model, _ = model_for_export("tiny", seed=SEED)
    ref, onx = SealPredictor(model, None), load_onnx_predictor(export_dir, text=False)
    img = (np.random.default_rng(5).random((40, 50, 3)) * 255).astype(np.uint8)
    prompts = [Prompt(1, box=(2, 3, 30, 30)), Prompt(2, box=(10, 5, 49, 39))]
    for p in (ref, onx):
        p.set_image(img, key=1)
    for a, b in zip(ref.predict(prompts), onx.predict(prompts)):
        assert a.class_index == b.class_index == -1  # SAM's highest IoU wins, unclassified
        _same(a, b)
    with pytest.raises(ValueError, match="no text encoder"):
        onx.set_vocabulary(["car"])


def test_prompt_points_embed_like_sams_prompt_encoder():
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.onnx.graphs import embed_prompt_points, prompt_points

    torch.manual_seed(3)
    pe = build_seal("tiny").eventsam.prompt_encoder
    boxes = torch.tensor([[3.0, 4.0, 50.0, 60.0], [0.0, 0.0, 127.0, 127.0]])
    pts = torch.tensor([[[10.0, 20.0], [30.0, 5.0]], [[60.0, 70.0], [1.0, 2.0]]])
    labels = torch.tensor([[1, 0], [0, 1]])
    with torch.no_grad():
        for b, p, lab in ((boxes, None, None), (None, pts, labels), (boxes, pts, labels)):
            want = pe(points=(p, lab) if p is not None else None, boxes=b, masks=None)
            got = embed_prompt_points(pe, *prompt_points(b, p, lab))
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_roi_feature_of_the_authors_rule_exports_exactly(tmp_path, golden, fused):  # noqa: F811
    """The head's RoI feature (the authors' rule: masks max-pooled to the grid, boxes with inclusive
    maxima, torchvision roi_align aligned=True with adaptive sampling, averaged) exported as ONNX
    RoiAlign (half_pixel) and run by ONNX Runtime: the authors' own values on their masks
    (shared/reference/golden), and torch's on masks made to hit the edge cases (zero-width,
    zero-height and zero-area boxes give exactly 0, as trained)."""
    import onnxruntime as ort
    from torch.export import Dim

    from seal_ros.seal.modeling.enhance import mask_to_grid
    from seal_ros.seal.modeling.spatial import grid_roi_boxes, roi_mean
    from seal_ros.seal.onnx.export import _quiet

    class Roi(torch.nn.Module):
        def forward(self, feats, masks):
            return roi_mean(feats, grid_roi_boxes(mask_to_grid(masks, 32)), 7)

    g = torch.zeros(7, 32, 32, dtype=torch.bool)
    g[0, 4:20, 6:30] = True
    g[1, 10, 3:9] = True  # one row: zero height
    g[2, 2:30, 17] = True  # one column: zero width
    g[3, 5, 5] = True  # one cell: zero area
    g[4] = True  # the whole grid
    g[5, 0:3, 29:32] = True  # a corner
    g[6, 7:8, 1:31:5] = True  # scattered cells in one row
    edge_masks = g.repeat_interleave(16, 1).repeat_interleave(16, 2)  # the model's 512 x 512 masks
    feats = fused.permute(0, 3, 1, 2).contiguous()
    path = tmp_path / "roi.onnx"
    with _quiet():
        torch.onnx.export(Roi(), (feats, edge_masks), str(path), dynamo=True, opset_version=18,
                          input_names=["feats", "masks"], dynamic_shapes=(None, {0: Dim("n", min=1, max=64)}))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    c = golden["controlled"]
    authors = c["roi_align_out"].mean(dim=(2, 3)).numpy()
    got = sess.run(None, {"feats": feats.numpy(), "masks": c["masks"].numpy()})[0]
    np.testing.assert_allclose(got, authors, rtol=0, atol=1e-5)
    got = sess.run(None, {"feats": feats.numpy(), "masks": edge_masks.numpy()})[0]
    with torch.no_grad():
        want = Roi()(feats, edge_masks).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    assert not want[1:4].any() and not got[1:4].any()


def test_backend_selection_loads_the_export(export_dir):
    from seal_ros.segment.loading import load_predictor, resolve_backend

    pred, info = load_predictor("tiny", device="cpu", backend="onnx", onnx_dir=str(export_dir))
    assert info["backend"] == "onnx" and pred.backend == "onnx" and info["random_weights"] is True
    assert resolve_backend("auto", "cuda") == "torch"
    # the CPU: ONNX Runtime (measured faster), but not for the random test model without an export
    assert resolve_backend("auto", "cpu", "vit_b") == resolve_backend("auto", "cpu", "tiny", str(export_dir)) == "onnx"
    assert resolve_backend("auto", "cpu", "tiny") == "torch" and resolve_backend("torch", "cpu", "vit_b") == "torch"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("tensorrt", "cpu")
    # automatic mode (modes auto, both) runs on torch: auto picks it, onnx is refused with the reason
    assert resolve_backend("auto", "cpu", "vit_b", automatic=True) == "torch"
    with pytest.raises(ValueError, match="automatic mode .* runs on backend torch only"):
        resolve_backend("onnx", "cpu", "vit_b", automatic=True)
    with pytest.raises(RuntimeError, match="automatic mode needs backend torch"):
        pred.decode_points(np.zeros((1, 2), np.float32))
    auto_pred, auto_info = load_predictor("tiny", device="cpu", backend="auto", onnx_dir=str(export_dir), automatic=True)
    assert auto_info["backend"] == "torch" and type(auto_pred).__name__ == "SealPredictor"


def test_segment_refuses_automatic_mode_on_onnx(capsys, data_dir, export_dir):
    line = one_line(cli(capsys, "segment", data_dir / "evt3_640x480", "--out", export_dir.parent / "seg_onnx_auto",
                        "--auto", "--model", "tiny", "--device", "cpu", "--backend", "onnx",
                        "--onnx-dir", export_dir), "segment")
    assert "automatic mode (mode auto or both) runs on backend torch only" in line


def test_export_command_errors(capsys, tmp_path):
    line = one_line(cli(capsys, "export", "onnx", "--model", tmp_path / "none.pt", "--out", tmp_path / "x"), "export")
    assert "no such file" in line
    line = one_line(cli(capsys, "export", "onnx", "--model", "vit_b", "--models", tmp_path, "--out", tmp_path / "x"),
                    "export")
    assert "seal.pt not found" in line
    assert "--height" in one_line(cli(capsys, "export", "onnx", "--model", "tiny", "--height", "1",
                                      "--out", tmp_path / "y"), "export")
    from seal_ros.seal.onnx.runtime import OnnxSessions

    with pytest.raises(FileNotFoundError, match="seal-ros export onnx"):
        OnnxSessions(tmp_path)


def test_node_runs_the_onnx_backend(rig, ros_executor, export_dir):  # noqa: F811
    from seal_ros.msg import PromptArray
    from seal_ros.nodes.common import RESULT_QOS
    from seal_ros.seal.rle import rle_area

    from rclpy.parameter import Parameter

    node, helper, feeder, got = rig(backend="onnx", onnx_dir=str(export_dir))
    assert node.runner.state == "ready" and node.runner.predictor.backend == "onnx"
    # automatic mode cannot run on ONNX Runtime: ros2 param set is refused with the reason
    (res,) = node.set_parameters([Parameter("mode", value="auto")])
    assert not res.successful and "runs on backend torch only" in res.reason
    assert node.params["mode"] == "prompted" and node.get_parameter("mode").value == "prompted"
    pub = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    pub.publish(_prompt_array(_box_prompt(3, (100, 80, 300, 260))))
    assert spin_feeding(ros_executor, feeder, lambda: sum(len(a.instances) == 1 for a in got) >= 2)
    for arr in (a for a in got if a.instances):
        (m,) = arr.instances
        assert m.prompt_id == 3 and sum(m.mask_rle) == 640 * 480 and m.mask.width == 0
        assert m.class_index == -1 or arr.vocabulary[m.class_index] == m.class_name
        x0, y0, x1, y1 = m.bbox
        assert rle_area(m.mask_rle) == 0 or (x1 > x0 and y1 > y0)
