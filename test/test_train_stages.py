"""Stage 2 (SEAL head) and Semantic-E2VID on tiny random models and the shared DAVIS pairs:
the loss falls (the SEAL head overfits: its loss above the reachable floor drops tenfold),
Semantic-E2VID trains on sequences with carried state, stages chain at tiny size, and the
exports load with the nodes' loaders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seal_ros.train.config import load_config
from seal_ros.train.teachers import TeacherMissing
from seal_ros.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "config" / "train"


def test_seal_head_overfits_and_exports_seal_pt(tmp_path, data_dir):
    from seal_ros.seal.build import build_seal
    from seal_ros.seal.checkpoint import load_seal

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    cfg = load_config(CFG / "seal_tiny.yaml", overrides=[
        f"out_dir={tmp_path / 'seal'}", f"data.path={davis}", "train.steps=20", "train.log_every=1",
        "model.overrides={image_size: 64}"])
    result = Trainer(cfg).fit()
    recs = [json.loads(line) for line in (tmp_path / "seal" / "metrics.jsonl").read_text().splitlines()]
    assert len(recs) == 20 and all(r["n_semantic"] >= 1 and r["random_teachers"] for r in recs)
    assert recs[-1]["excess"] * 10 <= recs[0]["excess"], (recs[0], recs[-1])
    assert recs[-1]["loss"] < recs[0]["loss"]
    # stage 2 leaves EventSAM alone; the published layout loads strictly from the export
    seal = build_seal("tiny", image_size=64)
    load_seal(seal, result["export"])
    torch.manual_seed(cfg.seed)
    ref = build_seal("tiny", image_size=64)  # the same seeded initialisation the trainer used
    for (k, a), (_, b) in zip(seal.state_dict().items(), ref.state_dict().items()):
        if k.startswith("eventsam.") or k.startswith("pe_layer."):
            assert torch.equal(a, b), k
    assert not torch.equal(seal.out_proj.weight, ref.out_proj.weight)
    assert list((tmp_path / "seal" / "tb").glob("events.out.tfevents.*"))


def test_stage_one_chains_into_stage_two_at_tiny_size(tmp_path, data_dir):
    from seal_ros.seal.export import load_seal_export

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    s1 = Trainer(load_config(CFG / "eventsam_tiny.yaml", overrides=[
        f"out_dir={tmp_path / 's1'}", f"data.path={davis}", "train.steps=3"])).fit()
    student = torch.load(s1["export"], weights_only=True)
    assert student["seal_ros"]["random_teachers"] is True and student["seal_ros"]["size"] == "tiny"
    over = [f"out_dir={tmp_path / 's2'}", f"data.path={davis}", "train.steps=2", "model.overrides={image_size: 64}",
            f"model.eventsam_checkpoint={s1['export']}"]
    s2 = Trainer(load_config(CFG / "seal_tiny.yaml", overrides=over)).fit()
    model = load_seal_export(s2["export"]).model
    w = student["model"]["module.evimg_encoder.patch_embed.proj.weight"]
    assert torch.equal(model.eventsam.image_encoder.patch_embed.proj.weight, w)  # stage 1's student, frozen
    # without random_teachers, stage 2 names the file it needs
    with pytest.raises(TeacherMissing, match=r"model.sam_checkpoint is required .*sam_vit_b"):
        Trainer(load_config(CFG / "seal_tiny.yaml", overrides=over + ["random_teachers=false"])).fit()
    with pytest.raises(TeacherMissing, match=r"model.eventsam_checkpoint is required"):
        Trainer(load_config(CFG / "seal_tiny.yaml", overrides=[
            f"out_dir={tmp_path / 's3'}", f"data.path={davis}", "random_teachers=false"])).fit()
    with pytest.raises(TeacherMissing, match=r"model.sam_checkpoint is required"):
        Trainer(load_config(CFG / "eventsam_tiny.yaml", overrides=[
            f"out_dir={tmp_path / 's4'}", f"data.path={davis}", "random_teachers=false"])).fit()


def test_semantic_e2vid_trains_on_sequences_with_carried_state(tmp_path, data_dir):
    from seal_ros.e2v.checkpoint import load_checkpoint
    from seal_ros.train.stages import make_stage

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    over = [f"out_dir={tmp_path / 'e2v'}", f"data.path={davis}", "train.steps=12", "train.batch_size=1",
            "train.log_every=1"]
    cfg = load_config(CFG / "e2v_tiny.yaml", overrides=over)
    stage = make_stage(cfg)
    module = stage.build_module("cpu")
    ds = stage.build_dataset()
    assert len(ds) == 2 and ds[0]["voxel"].shape[0] == 2  # sequences of 2 windows, stride 1
    assert torch.equal(ds[1]["image"][0], ds[0]["image"][1])  # consecutive pairs
    cfg = load_config(CFG / "e2v_tiny.yaml", overrides=over + ["data.limit=2"])  # one sequence: quick to fit
    batch = {k: (v[None] if torch.is_tensor(v) else v) for k, v in ds[0].items()}
    with torch.no_grad():
        loss, _ = module(batch)
        sam = [module.sam_encoder(batch["sam_input"][:, t]) for t in range(2)]
        img0, state, _ = module.net(batch["voxel"][:, 0], None, sam_features=sam[0], return_features=True)
        carried, _, _ = module.net(batch["voxel"][:, 1], state, sam_features=sam[1], return_features=True)
        fresh, _, _ = module.net(batch["voxel"][:, 1], None, sam_features=sam[1], return_features=True)
    assert not torch.allclose(carried, fresh)  # the second window sees the first one's state
    result = Trainer(cfg).fit()
    losses = result["losses"]
    assert losses[-1] * 1.5 < losses[0], losses
    recs = [json.loads(line) for line in (tmp_path / "e2v" / "metrics.jsonl").read_text().splitlines()]
    assert {"rec", "align", "sem"} <= set(recs[-1])
    assert recs[-1]["rec"] < recs[0]["rec"] and recs[-1]["sem"] < recs[0]["sem"]
    loaded = load_checkpoint(result["export"], method="semantic_e2vid")
    assert loaded.arch == "SemanticE2VID" and loaded.config["num_classes"] == 6
    raw = torch.load(result["export"], weights_only=True)
    assert raw["seal_ros"]["classes"] == ["car", "person", "tree", "road", "building", "sky"]
    assert raw["seal_ros"]["random_teachers"] is True and raw["seal_ros"]["sequence_length"] == 2
    state = torch.load(tmp_path / "e2v" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, state["net." + k]), k


def test_cached_backbone_gives_the_same_loss():
    from seal_ros.seal.build import build_seal
    from seal_ros.train.seal_distill import SealDistill

    torch.manual_seed(0)
    m = SealDistill(build_seal("tiny", image_size=64), cache_backbone=True)
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[0, 4:30, 8:40] = True
    masks[1, 30:60, 2:20] = True
    lv = {"masks": masks, "masks_lo": masks[:, ::2, ::2], "visual": torch.randn(2, 16), "short": torch.randn(2, 16),
          "long": torch.randn(2, 16)}
    batch = {"event": torch.randn(2, 3, 64, 64), "index": torch.tensor([3, 7]), "flipped": torch.tensor([False, True]),
             "levels": [[lv, lv, lv], [lv, lv, lv]]}
    first, _ = m(batch)
    assert sorted(m._backbone_cache) == [(3, False), (7, True)]
    batch["event"] = torch.zeros_like(batch["event"])  # ignored: cached outputs are used
    second, _ = m(batch)
    assert float(second.detach()) == pytest.approx(float(first.detach()), abs=5e-2)  # bf16 storage
