"""EVREAL's protocol: the real FireNet reproduces EVREAL's own numbers; windows, warm-up, skipping, normalisation by hand."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DAVIS_AEDAT
from seal_ros.cli import main
from seal_ros.e2v import evreal
from seal_ros.events.types import EventArray
from seal_ros.io.evreal import to_evreal

FIRENET = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "firenet" / "model.pth"
# ../shared/models/README.md: EVREAL's eval.py (std) with these weights on davis.aedat4 in EVREAL's layout
KNOWN = {"per_frame": [(0.188, 0.314), (0.169, 0.333)], "mse": 0.179, "ssim": 0.323}


def test_real_firenet_reproduces_evreals_numbers_on_the_shared_recording(tmp_path, capsys):
    assert FIRENET.is_file(), f"the shared FireNet weights are missing: {FIRENET}"
    rc = main(["eval-e2v", str(DAVIS_AEDAT), "--method", "firenet", "--checkpoint", str(FIRENET),
               "--export-evreal", str(tmp_path / "davis"), "--no-lpips"])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    assert r["protocol"] == "evreal" and r["evreal_method"] == "FireNet" and r["frames_scored"] == 2
    assert r["settings"]["padded_to"] == [352, 272] and r["settings"]["voxel_normalization"] is True
    assert [p["events"] for p in r["per_frame"]][0] == 0  # item 0: the empty warm-up window
    for p, (mse, ssim) in zip(r["per_frame"], KNOWN["per_frame"]):
        assert abs(p["mse"] - mse) <= 1e-3 and abs(p["ssim"] - ssim) <= 1e-3, p
    assert abs(r["mse"] - KNOWN["mse"]) <= 1e-3 and abs(r["ssim"] - KNOWN["ssim"]) <= 1e-3
    # the exported folder, read back directly, gives the same numbers
    assert main(["eval-e2v", str(tmp_path / "davis"), "--method", "firenet", "--checkpoint", str(FIRENET),
                 "--no-lpips"]) == 0
    again = json.loads(capsys.readouterr().out)
    for a, b in zip(again["per_frame"], r["per_frame"]):  # torch's CPU scatter-add is not bit-deterministic
        assert a["events"] == b["events"] and a["mse"] == pytest.approx(b["mse"], rel=1e-7)
        assert a["ssim"] == pytest.approx(b["ssim"], rel=1e-7)


class Probe(torch.nn.Module):
    """Records what the protocol feeds it; answers a constant image per call and its call count as the state."""

    num_bins = 5

    def __init__(self, num_encoders, values=None, image=None):
        super().__init__()
        self.num_encoders, self.values, self.image, self.calls = num_encoders, values, image, []

    def forward(self, x, states):
        k = len(self.calls)
        self.calls.append((x.clone(), states))
        if self.image is not None:
            out = torch.zeros((1, 1) + tuple(x.shape[-2:]))
            out[0, 0, :self.image.shape[0], :self.image.shape[1]] = self.image
            return out, k + 1
        return torch.full((1, 1) + tuple(x.shape[-2:]), self.values[k]), k + 1


W, H = 18, 12  # SSIM's 11x11 window needs 11 pixels a side
T0 = 10**18
# event times (us); frames at 1000, 2000, 3000, 4000 us. The last event at or before each frame: indices 1, 5, 7, 8.
EV_US = [500, 1000, 1200, 1500, 2000, 2000, 2600, 3000, 3500, 4200]
FRAMES_US = [1000, 2000, 3000, 4000]
FRAME_VALUES = [51, 102, 153, 204]


def _sequence(w=W, h=H):
    n = len(EV_US)
    ev = EventArray(np.arange(n, dtype=np.uint16) % w, (np.arange(n, dtype=np.uint16) // 2) % h,
                    np.array([1, 0] * 5, np.uint8), T0 + np.array(EV_US, np.int64) * 1000)
    frames = [np.full((h, w), v, np.uint8) for v in FRAME_VALUES]
    return to_evreal(ev, frames, T0 + np.array(FRAMES_US, np.int64) * 1000, w, h)


def _ssim_of_constants(a, b, c1=(0.01 * 1.0) ** 2):
    return (2 * a * b + c1) / (a * a + b * b + c1)


def test_windows_warm_up_and_the_last_frame_by_hand():
    seq = _sequence()
    assert evreal.windows(seq) == [(1, 1), (1, 5), (5, 7)]  # the last frame (3) is never an item
    probe = Probe(0, values=[0.7, 0.1, 1.5])
    r = evreal.evaluate(seq, "firenet_plus", model=probe)
    assert len(probe.calls) == 3 and r["items"] == 3 and r["frames_scored"] == 3
    x0, s0 = probe.calls[0]
    assert s0 is None and not x0.any() and tuple(x0.shape) == (1, 5, H, W)  # warm-up: a zero grid, no state
    assert [s for _, s in probe.calls[1:]] == [1, 2]  # the warm-up's state is kept
    assert [p["events"] for p in r["per_frame"]] == [0, 4, 2]
    # item 1 holds events 1..4: the event at frame 0's time (1000 us) and only the first of the two at 2000 us
    x1 = probe.calls[1][0][0]
    expected = torch.zeros(5, H, W)
    t_norm = [(t - 1000) / 1000 * 4 for t in EV_US[1:5]]  # 0, 0.8, 2, 4
    for i, tn in zip(range(1, 5), t_norm):
        sign = 1.0 if i % 2 == 0 else -1.0
        for b in range(5):
            expected[b, (i // 2) % H, i % W] += sign * max(0.0, 1 - abs(tn - b))
    torch.testing.assert_close(x1, expected)
    # scores: prediction clipped to [0, 1] against frame / 255, both constant images
    for p, v, f in zip(r["per_frame"], [0.7, 0.1, 1.0], FRAME_VALUES):
        g = np.float32(f) / np.float32(255)
        assert p["mse"] == pytest.approx((v - g) ** 2, rel=1e-5)
        assert p["ssim"] == pytest.approx(_ssim_of_constants(v, g), rel=1e-4)
    assert r["mse"] == pytest.approx(np.mean([p["mse"] for p in r["per_frame"]]))


def test_normalisation_and_zero_padding_per_method():
    seq = _sequence()
    probe = Probe(3, values=[0.5] * 3)  # 3 encoders: 18x12 zero-padded to 24x16, 3 columns / 2 rows each side
    r = evreal.evaluate(seq, "firenet", model=probe)
    assert r["settings"]["padded_to"] == [24, 16]
    x = probe.calls[1][0][0]
    assert tuple(x.shape) == (5, 16, 24) and not x[:, :2].any() and not x[:, :, :3].any()
    inner = x[:, 2:14, 3:21]
    nz = inner[inner != 0].double()
    assert float(nz.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(((nz ** 2).mean() - nz.mean() ** 2).sqrt()) == pytest.approx(1.0, abs=1e-5)  # population std
    raw = Probe(0, values=[0.5] * 3)
    evreal.evaluate(seq, "firenet_plus", model=raw)
    torch.testing.assert_close(raw.calls[1][0][0] != 0, inner != 0)  # same cells, not standardised
    assert float(raw.calls[1][0][0].abs().max()) == pytest.approx(1.0)


def test_e2vid_robust_post_normalisation():
    seq = _sequence()
    ramp = torch.linspace(-0.5, 2.0, W * H).reshape(H, W)
    r = evreal.evaluate(seq, "e2vid", model=Probe(0, image=ramp))
    a = ramp.numpy()
    lo, hi = np.percentile(a.ravel(), 1), np.percentile(a.ravel(), 99)
    pred = np.clip((a - lo) / (hi - lo), 0, 1)
    ref = FRAME_VALUES[1] / 255
    assert r["per_frame"][1]["mse"] == pytest.approx(float(np.mean((pred - ref) ** 2)), rel=1e-5)
    assert r["settings"]["post_process_norm"] == "robust"


def test_start_and_end_times_skip_as_evreal_does():
    seq = _sequence()
    f1 = float(seq.images_ts[1])
    probe = Probe(0, values=[0.5] * 3)
    r = evreal.evaluate(seq, "firenet_plus", model=probe, start_s=f1)
    assert len(probe.calls) == 3  # items before start_s (within 10 s) still run: the state warms up
    assert [p["index"] for p in r["per_frame"]] == [1, 2]
    probe = Probe(0, values=[0.5] * 3)
    r = evreal.evaluate(seq, "firenet_plus", model=probe, end_s=f1)
    assert len(probe.calls) == 2 and [p["index"] for p in r["per_frame"]] == [0, 1]  # stops after end_s
    probe = Probe(0, values=[0.5] * 3)
    r = evreal.evaluate(seq, "firenet_plus", model=probe, start_s=f1 + 20)
    assert probe.calls == [] and r["frames_scored"] == 0 and r["mse"] is None  # more than 10 s early: skipped


def test_evreal_voxel_grid_with_all_events_at_one_time():
    xy = np.array([[0, 0], [1, 0], [2, 0]])
    v = evreal.voxel_grid(xy, np.array([5.0, 5.0, 5.0]), np.array([1, 1, 0]), 5, 1, 3)
    # zero span: t_norm = linspace(0, 4, 3) = 0, 2, 4
    assert v[0, 0, 0] == 1 and v[2, 0, 1] == 1 and v[4, 0, 2] == -1 and float(v.abs().sum()) == 3


def test_lpips_note_when_the_alexnet_weights_are_absent_and_scores_when_present(tmp_path, monkeypatch):
    import lpips as lpips_pkg

    from seal_ros.e2v.metrics import ALEXNET_FILE, Lpips

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    metric, why = Lpips.load()
    assert metric is None and ALEXNET_FILE in why and "nothing is downloaded" in why
    # plumbing only: a random AlexNet in the cache (never a result); the metric must equal lpips' own call
    import torchvision

    torch.manual_seed(0)
    ckpt = tmp_path / "torch" / "hub" / "checkpoints" / ALEXNET_FILE
    ckpt.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), ckpt)
    metric, why = Lpips.load()
    assert why == "" and metric is not None
    seq = _sequence(64, 64)  # AlexNet's pooling needs about 64 pixels a side
    r = evreal.evaluate(seq, "firenet_plus", model=Probe(0, values=[0.7, 0.1, 0.4]), lpips=metric)
    ref = torch.full((1, 3, 64, 64), FRAME_VALUES[2] / 255.0)
    pred = torch.full((1, 3, 64, 64), 0.4)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lpips passes torchvision's deprecated pretrained=True
        direct = lpips_pkg.LPIPS(net="alex", verbose=False)(pred * 2 - 1, ref * 2 - 1)
    assert r["per_frame"][2]["lpips"] == pytest.approx(float(direct), rel=1e-5)
    assert r["lpips"] == pytest.approx(np.mean([p["lpips"] for p in r["per_frame"]]))
