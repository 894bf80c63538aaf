"""The published checkpoint layouts load strictly (full size, cheap tensors).

Every tensor of a synthetic checkpoint is a distinct constant broadcast to the
published shape (``torch.full((1,), v).expand(shape)``): the saved files stay
tiny, yet after loading each model tensor must hold the value of exactly the
file key it was meant to come from.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seal_ros.seal.build import build_seal, count_parameters
from seal_ros.seal.checkpoint import CheckpointError, load_eventsam, load_seal

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
SEAL_LAYOUT = REF / "seal_pt_layout.json"
EVENTSAM_LAYOUT = REF / "eventsam_pth_layout.json"


def _layout(path):
    if not path.is_file():
        pytest.fail(f"reference layout missing: {path}")
    return [(k, tuple(s)) for k, s in json.loads(path.read_text())]


def _synthetic(layout, offset=0.0):
    return {k: torch.full((1,), float(i) + offset).expand(s) for i, (k, s) in enumerate(layout)}


@pytest.fixture(scope="module")
def seal_vit_b():
    torch.manual_seed(0)
    return build_seal("vit_b")


def test_full_model_matches_published_layout(seal_vit_b):
    layout = _layout(SEAL_LAYOUT)
    sd = seal_vit_b.state_dict()
    assert len(layout) == 443
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == layout  # keys, shapes and order
    head = sum(v.numel() for k, v in sd.items() if not k.startswith("eventsam."))
    assert abs(head - 7.84e6) < 0.01e6
    assert abs(count_parameters(seal_vit_b) - 99.1e6) < 0.1e6


def test_seal_pt_loads_strictly_with_values(seal_vit_b, tmp_path):
    layout = _layout(SEAL_LAYOUT)
    path = tmp_path / "seal.pt"
    torch.save(_synthetic(layout), path)
    load_seal(seal_vit_b, path)
    sd = seal_vit_b.state_dict()
    for i, (k, _) in enumerate(layout):
        t = sd[k]
        assert float(t.min()) == float(t.max()) == float(i), k
    # the random-Fourier matrix is loaded, not drawn anew
    assert torch.all(seal_vit_b.pe_layer.positional_encoding_gaussian_matrix == layout.index(
        ("pe_layer.positional_encoding_gaussian_matrix", (2, 128))))


def test_seal_pt_wrapped_and_data_parallel_forms(seal_vit_b):
    layout = _layout(SEAL_LAYOUT)
    state = {"module." + k: v for k, v in _synthetic(layout, 0.5).items()}
    load_seal(seal_vit_b, {"model": state})
    assert float(seal_vit_b.out_proj.bias.detach()[0]) == len(layout) - 1 + 0.5


def test_seal_pt_with_missing_key_is_refused(seal_vit_b):
    state = _synthetic(_layout(SEAL_LAYOUT))
    del state["fuse.norm2.bias"]
    with pytest.raises(CheckpointError, match="fuse.norm2.bias"):
        load_seal(seal_vit_b, state)


def _stock_sam_layout(sam):
    """Shapes of segment-anything's 1024 px ViT-B file: 64x64 pos_embed, global rel_pos 127."""
    out = []
    for k, v in sam.state_dict().items():
        s = tuple(v.shape)
        if k == "image_encoder.pos_embed":
            s = (1, 64, 64, s[3])
        elif "rel_pos" in k and s[0] == 63:
            s = (127, s[1])
        out.append((k, s))
    return out


def test_eventsam_pth_student_and_stock_sam_load_at_512(seal_vit_b, tmp_path):
    sam = seal_vit_b.eventsam
    ev_layout = _layout(EVENTSAM_LAYOUT)
    assert len(ev_layout) == 354
    # teacher tensors negative, student tensors positive: only the student may load
    ev = {k: torch.full((1,), (i + 1.0) if ".evimg_encoder." in k else -(i + 1.0)).expand(s)
          for i, (k, s) in enumerate(ev_layout)}
    stock = _stock_sam_layout(sam)
    sam_state = {k: torch.full((1,), 1000.0 + i).expand(s) for i, (k, s) in enumerate(stock)}
    torch.save(ev, tmp_path / "eventsam.pth")
    torch.save(sam_state, tmp_path / "sam_vit_b_01ec64.pth")

    load_eventsam(sam, tmp_path / "eventsam.pth", tmp_path / "sam_vit_b_01ec64.pth")
    sd = sam.state_dict()
    src = {k: i for i, (k, _) in enumerate(ev_layout)}
    for k, v in sd.items():
        if k.startswith("image_encoder."):
            want = src["module.evimg_encoder." + k[len("image_encoder."):]] + 1.0
        else:
            want = 1000.0 + [n for n, _ in stock].index(k)
        assert float(v.min()) == float(v.max()) == want, k

    # the stock SAM checkpoint alone: its 64x64 image encoder is resized to 512 px
    load_eventsam(sam, None, tmp_path / "sam_vit_b_01ec64.pth")
    assert sam.image_encoder.pos_embed.shape == (1, 32, 32, 768)
    assert torch.allclose(sam.image_encoder.pos_embed, torch.tensor(1000.0 + 0))
    assert sam.image_encoder.blocks[2].attn.rel_pos_h.shape == (63, 64)


def test_eventsam_without_sam_file_is_refused(seal_vit_b):
    with pytest.raises(CheckpointError, match="sam_vit_b_01ec64"):
        load_eventsam(seal_vit_b.eventsam, {"module.evimg_encoder.pos_embed": torch.zeros(1)}, None)
