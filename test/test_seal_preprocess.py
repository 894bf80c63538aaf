"""Event-image preprocessing, coordinate transforms and text embeddings."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seal_ros.seal.preprocess import (IMAGENET_MEAN, IMAGENET_STD, ResizeTransform,
                                      preprocess_event_image)
from seal_ros.seal.text import _is_torchscript, build_tiny_text_encoder


def test_preprocess_scales_resizes_without_aspect_and_normalises():
    img = np.zeros((30, 90, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 255, 51, 0
    img[:, 45:, 1] = 153  # right half brighter in green
    x = preprocess_event_image(img, 64)
    assert x.shape == (1, 3, 64, 64) and x.dtype == torch.float32
    for c, v in enumerate((1.0, 0.2, 0.0)):
        expect = (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert float(x[0, c, 10, 5]) == pytest.approx(expect, abs=1e-5)
    # the right half of the sensor maps to the right half of the square (no padding, no aspect)
    right = (0.6 - IMAGENET_MEAN[1]) / IMAGENET_STD[1]
    assert float(x[0, 1, 40, 60]) == pytest.approx(right, abs=1e-5)
    with pytest.raises(ValueError):
        preprocess_event_image(img.astype(np.float32), 64)


def test_resize_transform_round_trip():
    tf = ResizeTransform(height=480, width=640, size=512)
    assert np.allclose(tf.boxes(np.array([[64, 48, 640, 480]])), [[51.2, 51.2, 512, 512]])
    assert np.allclose(tf.points(np.array([[320.0, 240.0]])), [[256, 256]])
    logits = -torch.ones(1, 128, 128)
    logits[0, 32:64, 64:128] = 1.0  # rows 1/4..1/2, right half
    m = tf.masks_to_sensor(logits).numpy()[0]
    assert m.shape == (480, 640)
    ys, xs = np.nonzero(m)
    assert abs(ys.min() - 120) <= 2 and abs(ys.max() - 239) <= 2 and abs(xs.min() - 320) <= 3


def test_tiny_text_encoder_rows_are_normalised_and_template_averaged():
    te = build_tiny_text_encoder(dim=16)
    a = te.encode(["car", "person"], templates=["a photo of a {}."])
    b = te.encode(["car", "person"], templates=["a photo of a {}.", "a drawing of a {}."])
    assert a.shape == (2, 16) and torch.allclose(a.norm(dim=1), torch.ones(2))
    assert not torch.allclose(a, b)  # templates matter
    assert torch.allclose(te.encode(["person"], ["a photo of a {}."])[0], a[1], atol=1e-6)
    with pytest.raises(ValueError):
        te.encode([])


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_detection(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "a.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "b.pt")
    assert _is_torchscript(tmp_path / "a.pt") and not _is_torchscript(tmp_path / "b.pt")


def test_clip_text_encoder_loads_a_local_open_clip_file(tmp_path):
    """The real loading path (open_clip.create_model(pretrained=FILE)) on a tiny registered
    architecture: embeddings equal those of the model that was saved."""
    import json

    import open_clip

    from seal_ros.seal.text import build_clip_text_encoder

    cfg = {"embed_dim": 16, "quick_gelu": True,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "seal-test-tiny-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "seal-test-tiny-clip.json")
    torch.manual_seed(0)
    ref = open_clip.create_model("seal-test-tiny-clip").eval()
    weights = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(ref.state_dict(), weights)

    te = build_clip_text_encoder(weights, model_name="seal-test-tiny-clip")
    got = te.encode(["car", "person"], ["a photo of a {}."])
    tok = open_clip.get_tokenizer("seal-test-tiny-clip")(["a photo of a car.", "a photo of a person."])
    with torch.no_grad():
        want = torch.nn.functional.normalize(ref.encode_text(tok), dim=-1)
    assert te.dim == 16 and torch.allclose(got, want, atol=1e-5)
    with pytest.raises(FileNotFoundError):
        build_clip_text_encoder(tmp_path / "missing.pt", model_name="seal-test-tiny-clip")


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::torch.jit.TracerWarning")
def test_clip_text_encoder_reads_an_openai_torchscript_file(tmp_path):
    """OpenAI's own CLIP files are TorchScript archives (weights_only loading refuses them);
    they are read with torch.jit.load. Tiny model of the same format, fp16 like OpenAI's."""
    import json

    import open_clip

    from seal_ros.seal.text import build_clip_text_encoder

    cfg = {"embed_dim": 16, "quick_gelu": True,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}
    (tmp_path / "seal-test-openai-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "seal-test-openai-clip.json")
    torch.manual_seed(1)
    ref = open_clip.create_model("seal-test-openai-clip").eval()
    tok = open_clip.get_tokenizer("seal-test-openai-clip")(["a photo of a car."])
    traced = torch.jit.trace_module(ref, {"encode_text": (tok,)})
    path = tmp_path / "ViT-L-14-336px.pt"
    torch.jit.save(traced, path)

    te = build_clip_text_encoder(path, model_name="seal-test-openai-clip")
    got = te.encode(["car"], ["a photo of a {}."])
    with torch.no_grad():
        want = torch.nn.functional.normalize(ref.encode_text(tok), dim=-1)
    assert torch.allclose(got, want, atol=2e-2)  # OpenAI-format loading goes through fp16
