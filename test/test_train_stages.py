"""Stage 2 (SEAL head) and Semantic-E2VID on tiny random models and the shared DAVIS pairs:
the loss falls (the SEAL head overfits: its loss above the reachable floor drops tenfold)
and the exported checkpoints load with the nodes' loaders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seal_ros.train.config import load_config
from seal_ros.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def test_seal_head_overfits_and_exports_seal_pt(tmp_path, data_dir):
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.checkpoint import load_seal

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    cfg = load_config(ROOT / "config" / "train" / "seal_tiny.yaml", overrides=[
        f"out_dir={tmp_path / 'seal'}", f"data.path={davis}", "train.steps=40", "train.log_every=1",
        "model.overrides={image_size: 64}"])
    result = Trainer(cfg).fit()
    recs = [json.loads(line) for line in (tmp_path / "seal" / "metrics.jsonl").read_text().splitlines()]
    assert len(recs) == 40 and all(r["n_semantic"] >= 1 for r in recs)
    assert recs[-1]["excess"] * 10 <= recs[0]["excess"], (recs[0], recs[-1])
    assert recs[-1]["loss"] < recs[0]["loss"]
    # stage 2 leaves EventSAM alone; the published layout loads strictly
    seal = build_seal("tiny", image_size=64)
    load_seal(seal, result["export"])
    torch.manual_seed(cfg.seed)
    ref = build_seal("tiny", image_size=64)  # the same seeded initialisation the trainer used
    for (k, a), (_, b) in zip(seal.state_dict().items(), ref.state_dict().items()):
        if k.startswith("eventsam.") or k.startswith("pe_layer."):
            assert torch.equal(a, b), k
    assert not torch.equal(seal.out_proj.weight, ref.out_proj.weight)
    # TensorBoard event files were written
    assert list((tmp_path / "seal" / "tb").glob("events.out.tfevents.*"))


def test_semantic_e2vid_trains_and_exports_rpg_layout(tmp_path, data_dir):
    from seal_ros.e2v.checkpoint import load_checkpoint

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    cfg = load_config(ROOT / "config" / "train" / "e2v_tiny.yaml", overrides=[
        f"out_dir={tmp_path / 'e2v'}", f"data.path={davis}", "train.steps=30", "data.limit=1",
        "train.batch_size=1", "train.log_every=1"])
    trainer = Trainer(cfg)
    result = trainer.fit()
    losses = result["losses"]
    assert losses[-1] * 4 < losses[0], losses
    recs = [json.loads(line) for line in (tmp_path / "e2v" / "metrics.jsonl").read_text().splitlines()]
    assert {"rec", "align", "sem"} <= set(recs[-1])
    assert recs[-1]["rec"] < recs[0]["rec"] and recs[-1]["sem"] < recs[0]["sem"]
    loaded = load_checkpoint(result["export"], method="semantic_e2vid")
    assert loaded.arch == "SemanticE2VID" and loaded.config["num_classes"] == 6
    state = torch.load(tmp_path / "e2v" / "checkpoints" / "last.pt", weights_only=False)["model"]
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, state["net." + k]), k


def test_cached_backbone_gives_the_same_loss():
    from seal_ros.seal.build import build_seal
    from seal_ros.train.mhsg import GRANULARITIES
    from seal_ros.train.stages.seal import SealDistill

    torch.manual_seed(0)
    m = SealDistill(build_seal("tiny", image_size=64), cache_backbone=True)
    g = {}
    for name, _ in GRANULARITIES:
        masks = torch.zeros(2, 64, 64, dtype=torch.bool)
        masks[0, 4:30, 8:40] = True
        masks[1, 30:60, 2:20] = True
        g[name] = (masks, torch.tensor([[8., 4., 39., 29.], [2., 30., 19., 59.]]), torch.randn(2, 16),
                   torch.randn(2, 16))
    batch = {"event": torch.randn(2, 3, 64, 64), "index": torch.tensor([3, 7]), "text_bank": torch.randn(4, 16),
             "guidance": [g, g]}
    first, _ = m(batch)
    assert sorted(m._backbone_cache) == [3, 7]
    batch["event"] = torch.zeros_like(batch["event"])  # ignored: cached outputs are used
    second, _ = m(batch)
    assert float(second.detach()) == pytest.approx(float(first.detach()), abs=2e-2)  # bf16 storage
