"""Networks' structure, Semantic-E2VID's training hooks, and the Reconstructor's per-stream state."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import DAVIS_AEDAT
from seal_ros.e2v.networks import build
from seal_ros.e2v.networks.semantic_e2vid import alignment_loss, semantic_loss
from seal_ros.e2v.reconstructor import Reconstructor
from seal_ros.events.types import EventArray


def _events(seed, t0, n=2000, w=24, h=20, span=20_000_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + span, n)).astype(np.int64)
    return EventArray(rng.integers(0, w, n).astype(np.uint16), rng.integers(0, h, n).astype(np.uint16),
                      rng.integers(0, 2, n).astype(np.uint8), t)


def test_published_sizes():
    assert 36_000 < sum(p.numel() for p in build("firenet").parameters()) < 40_000
    n = sum(p.numel() for p in build("e2vid").parameters())
    assert 10.5e6 < n < 10.9e6  # E2VID (3 encoders, 32 channels): ~10.7M


@pytest.mark.parametrize("method", ["firenet", "e2vid_plus", "semantic_e2vid"])
def test_recurrent_state_resets_on_a_time_jump(method):
    torch.manual_seed(0)
    kw = {} if method == "firenet" else dict(base_num_channels=4)
    if method == "semantic_e2vid":
        kw.update(semantic_channels=8, sam_channels=16, num_heads=2)
    model = build(method, **kw)
    a = _events(1, 0)
    b = _events(2, 30_000_000)
    r = Reconstructor(method, 24, 20, model=model, reset_gap_s=1.0)
    r.process(a, 20_000_000)
    continued = r.process(b, 50_000_000).copy()
    cont_intensity = r.last_intensity.copy()
    assert r.resets == 0 and r.states is not None

    fresh = Reconstructor(method, 24, 20, model=model)
    fresh.process(b, 50_000_000)
    assert not np.allclose(cont_intensity, fresh.last_intensity)  # the state matters

    # the same window 5 s later: a forward jump beyond reset_gap_s starts from a clean state
    late = EventArray(b.x, b.y, b.p, b.t + 5_000_000_000)
    fresh_late = Reconstructor(method, 24, 20, model=model)
    fresh_late.process(late, 5_050_000_000)
    r.process(late, 5_050_000_000)
    assert r.resets == 1
    np.testing.assert_allclose(r.last_intensity, fresh_late.last_intensity, atol=1e-6)
    # back in time (a replayed bag): reset as well
    r.process(b, 50_000_000)
    assert r.resets == 2
    np.testing.assert_allclose(r.last_intensity, fresh.last_intensity, atol=1e-6)
    assert continued.dtype == np.uint8 and continued.shape == (20, 24)


def test_hpf_resets_on_backward_jump_and_on_request():
    r = Reconstructor("hpf", 24, 20)
    a = _events(3, 1_000_000_000)
    r.process(a, 1_020_000_000)
    assert np.abs(r.filter.L).max() > 0
    # the reference ignores the first row and column; counted for diagnostics
    on_border = int(((a.x == 0) | (a.y == 0)).sum())
    assert on_border > 0 and r.counters == {"filter_events_outside": 0, "filter_events_on_border": on_border,
                                            "filter_resets": 0}
    r.process(_events(4, 0), 20_000_000)  # 1 s back
    assert r.resets == 1
    fresh = Reconstructor("hpf", 24, 20)
    fresh.process(_events(4, 0), 20_000_000)
    np.testing.assert_allclose(r.filter.L, fresh.filter.L)
    r.reset()
    assert r.resets == 2 and not r.filter.L.any()
    # forward gaps do not reset the filter: it decays by itself
    r.process(a, 1_020_000_000)
    r.process(_events(5, 9_000_000_000), 9_020_000_000)
    assert r.resets == 2


def test_semantic_e2vid_exposes_training_hooks():
    torch.manual_seed(0)
    model = build("semantic_e2vid", base_num_channels=4, semantic_channels=8, sam_channels=16, num_heads=2,
                  num_classes=5)
    x = torch.randn(2, 5, 32, 32)
    sam = torch.randn(2, 16, 8, 8)
    img, states, feats = model(x, None, sam_features=sam, return_features=True)
    assert img.shape == (2, 1, 32, 32) and float(img.detach().min()) >= 0 and float(img.detach().max()) <= 1
    assert {"semantic", "sam_pred", "attended", "event_features", "fused", "logits"} <= set(feats)
    assert feats["event_features"].shape[1] == 32  # bottleneck: 4 * 2^3
    labels = torch.randint(0, 5, (2, 32, 32))
    loss = alignment_loss(feats, sam) + semantic_loss(feats["logits"], labels) + img.mean()
    loss.backward()
    for name in ("alignment.attention.in_proj_weight", "alignment.to_sam.weight", "semantic_head.classifier.weight",
                 "alignment.sam_proj.weight", "fusion.gate.weight", "unet.head.conv2d.weight"):
        assert dict(model.named_parameters())[name].grad is not None, name
    # inference needs only events and gives the same image with or without returning features
    model.eval()
    with torch.no_grad():
        a, _ = model(x, None)
        b, _, _ = model(x, None, return_features=True)
    torch.testing.assert_close(a, b)


def test_hpf_on_the_real_davis_recording_is_not_flat():
    from seal_ros.io.aedat import read_aedat4

    rec = read_aedat4(DAVIS_AEDAT)
    r = Reconstructor("hpf", rec.width, rec.height)
    t0 = int(rec.events.t[0])
    img = None
    for k in range(1, 4):
        sel = (rec.events.t >= t0 + (k - 1) * 33_000_000) & (rec.events.t < t0 + k * 33_000_000)
        img = r.process(rec.events[sel], t0 + k * 33_000_000)
    assert img.shape == (260, 346) and img.dtype == np.uint8
    assert img.std() > 10 and len(np.unique(img)) > 50


def test_convgru_fused_inference_matches_training_path():
    from seal_ros.e2v.networks.recurrent import ConvGRU

    torch.manual_seed(0)
    cell = ConvGRU(6, 4, 3)
    x, h = torch.randn(2, 6, 9, 11), torch.randn(2, 4, 9, 11)
    with torch.no_grad():
        fused = cell(x, h)
    reference = cell(x, h)  # grad enabled: separate gate convolutions
    torch.testing.assert_close(fused, reference.detach(), rtol=1e-5, atol=1e-6)


class _Const(torch.nn.Module):
    """A stand-in network: a constant image, its call count as the state; records its inputs."""

    num_bins = 5

    def __init__(self, num_encoders, value=0.5):
        super().__init__()
        self.num_encoders, self.value, self.inputs = num_encoders, value, []

    def forward(self, x, states):
        self.inputs.append(x.clone())
        return torch.full((1, 1) + tuple(x.shape[-2:]), self.value), (states or 0) + 1


def test_network_display_is_rpgs_on_the_padded_output_and_empty_windows_run_the_network():
    # no padding: the unsharp mask's zero padding brightens the picture's edge; truncation gives 127 inside
    r = Reconstructor("firenet", 24, 20, model=_Const(0))
    img = r.process(_events(1, 0), 20_000_000)
    assert int(img[10, 12]) == 127 and int(img[0, 0]) > 140
    # padded by reflection to 24x24 first (2 pixels a side, the kernel's radius): the crop's edge is inside
    # the padded picture, so no bright edge
    r = Reconstructor("firenet", 20, 20, model=_Const(3))
    img = r.process(_events(1, 0, w=20), 20_000_000)
    assert np.all(img == 127) and tuple(r.model.inputs[0].shape) == (1, 5, 24, 24)
    # an empty window: the network runs on a zero grid (EVREAL) and the state moves on
    out = r.process(EventArray.empty(), 40_000_000)
    assert len(r.model.inputs) == 2 and not r.model.inputs[1].any() and r.states == 2 and out.shape == (20, 20)
    # EVREAL's zero padding and rpg's auto-HDR are options
    z = Reconstructor("firenet", 20, 20, model=_Const(3, value=0.7), padding="zero", auto_hdr=True, unsharp_amount=0)
    img = z.process(_events(1, 0, w=20), 20_000_000)
    assert z.model.inputs[0][0, :, :2].abs().sum() == 0  # zero rows above the picture
    assert np.all(img == int(255 * (0.7 - 0.45) / (0.7 - 0.45)))  # constant 0.7: range clipped to [0.45, 0.7]
