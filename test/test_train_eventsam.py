"""Stage 1 (EventSAM distillation) on tiny random models and the shared DAVIS pairs;
a two-process CPU DDP run (gloo, through torchrun) whose checkpoint the node's loader loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seal_ros.train.config import ConfigError, load_config
from seal_ros.train.losses import received_attention
from seal_ros.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "train" / "eventsam_tiny.yaml"


def _tiny_cfg(tmp_path, davis, *extra):
    return load_config(CONFIG, overrides=[f"out_dir={tmp_path / 'run'}", f"data.path={davis}", *extra])


def test_received_attention_matches_softmax_of_block(data_dir):
    from seal_ros.seal.build import build_eventsam

    torch.manual_seed(0)
    enc = build_eventsam("tiny").image_encoder
    x = torch.randn(2, 8, 8, 32)
    for blk in enc.blocks:  # block 0 windowed (4x4 windows), block 1 global
        w = received_attention(blk, x)
        assert w.shape == (2, 8, 8)
        n_tokens = 16 if blk.window_size else 64
        # each query's attention sums to one: the mean over queries sums to one per window
        assert float(w.sum()) == pytest.approx(2 * 64 / n_tokens, rel=1e-4)


def test_distillation_overfits_a_real_pair_and_only_patch_and_mlps_train(tmp_path, data_dir):
    # One real DAVIS pair at 64 px (4x4 tokens): the student's patch embedding and block MLPs
    # must make its block outputs match the teacher's on the APS frame (loss down tenfold).
    davis = data_dir / "davis346_frames" / "davis.aedat4"
    cfg = _tiny_cfg(tmp_path, davis, "train.steps=1200", "train.lr=3e-3", "train.warmup_steps=50",
                    "train.grad_clip=0", "train.batch_size=1", "train.log_every=100",
                    "data.limit=1", "model.overrides={image_size: 64}")
    trainer = Trainer(cfg)
    result = trainer.fit()
    losses = result["losses"]
    assert len(losses) == 1200
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last * 10 <= first, (first, last)
    raw = torch.load(result["export"], weights_only=True)
    assert raw["seal_ros"]["random_teachers"] is True and raw["seal_ros"]["stage"] == "eventsam"
    sd = raw["model"]
    # published layout: teacher and student, data-parallel prefix
    assert any(k.startswith("module.image_encoder.blocks.0.") for k in sd)
    student = {k: v for k, v in sd.items() if k.startswith("module.evimg_encoder.")}
    teacher = {k.replace("evimg_encoder", "image_encoder"): v for k, v in student.items()}
    changed = {k for k, v in teacher.items() if not torch.equal(v, sd[k])}
    assert changed and all(".patch_embed." in k or ".mlp." in k for k in changed), changed
    assert any(".patch_embed." in k for k in changed)


def test_bad_configs_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: eventsam\ntrain: {stepz: 3}\n")
    with pytest.raises(ConfigError, match="stepz"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not 'seal'"):
        load_config(CONFIG, stage="seal")
    with pytest.raises(ConfigError, match="amp"):
        load_config(CONFIG, overrides=["train.amp=fp8"])
    with pytest.raises(ConfigError, match="val.every > 0 needs"):
        load_config(CONFIG, overrides=["val.every=5"])
    with pytest.raises(ConfigError, match="random_teachers must be"):
        load_config(CONFIG, overrides=["random_teachers=maybe"])
    with pytest.raises(ConfigError, match="train.accum_steps: bad value"):
        load_config(CONFIG, overrides=["train.accum_steps=1.5"])


def test_two_process_ddp_cpu_saves_a_loadable_checkpoint(tmp_path, data_dir):
    from seal_ros.seal.build import build_eventsam
    from seal_ros.seal.checkpoint import load_eventsam

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           "-m", "seal_ros", "train", "eventsam", "--config", str(CONFIG), "--out", str(out),
           "--set", f"data.path={davis}", "--set", "train.steps=2", "--set", "train.batch_size=1",
           "--set", "train.amp=bf16", "--set", "model.overrides={image_size: 64}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["step"] == 2
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 2
    # The node's loader takes the exported student (and SAM's decoder from a SAM file).
    sam_file = tmp_path / "sam_tiny.pth"
    torch.manual_seed(1)
    torch.save(build_eventsam("tiny", image_size=64).state_dict(), sam_file)
    sam = load_eventsam(build_eventsam("tiny", image_size=64), eventsam_path=out / "eventsam.pth",
                        sam_path=sam_file)
    exported = torch.load(out / "eventsam.pth", weights_only=True)["model"]
    assert torch.equal(sam.image_encoder.patch_embed.proj.weight,
                       exported["module.evimg_encoder.patch_embed.proj.weight"])
    # the two ranks stayed in sync: resuming single-process continues from step 2
    cfg = load_config(CONFIG, overrides=[f"out_dir={out}", f"data.path={davis}", "train.steps=3",
                                         "train.batch_size=1", "model.overrides={image_size: 64}"])
    assert Trainer(cfg).fit()["step"] == 3
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 3


def test_trains_on_a_recorder_dataset_and_reports_bad_data(tmp_path, data_dir):
    """The recorder's offline CLI writes the DSEC-layout pairs; the trainer reads them."""
    from seal_ros.cli import main
    from seal_ros.datasets.pairs import AedatPairs, RecorderPairs

    davis = data_dir / "davis346_frames" / "davis.aedat4"
    pairs_dir = tmp_path / "pairs"
    assert main(["record-pairs", str(davis), str(davis), "--out", str(pairs_dir)]) == 0
    rec = RecorderPairs(pairs_dir)
    ref = AedatPairs(davis)
    assert len(rec) == 3 and (rec.width, rec.height) == (346, 260)
    for i in range(3):
        assert len(rec[i].events) > 0
        assert (rec[i].image == ref[i].image).all()  # the same APS frames
    out = tmp_path / "run"
    assert main(["train", "eventsam", "--config", str(CONFIG), "--out", str(out), "--set", "data.source=recorder",
                 "--set", f"data.path={pairs_dir}", "--set", "train.steps=2", "--set",
                 "model.overrides={image_size: 64}"]) == 0
    assert (out / "eventsam.pth").is_file() and list((out / "tb").iterdir())
    # a missing file or a directory that is not a dataset: one-line error, exit status 2
    bad = tmp_path / "bad"
    assert main(["train", "eventsam", "--config", str(CONFIG), "--out", str(bad),
                 "--set", "data.path=/nonexistent.aedat4"]) == 2
    assert main(["train", "eventsam", "--config", str(CONFIG), "--out", str(bad), "--set", "data.source=recorder",
                 "--set", f"data.path={tmp_path}"]) == 2
    # resuming into a run of another model size is refused the same way
    assert main(["train", "eventsam", "--config", str(CONFIG), "--out", str(out), "--set", "data.source=recorder",
                 "--set", f"data.path={pairs_dir}", "--set", "train.steps=3",
                 "--set", "model.overrides={image_size: 128}"]) == 2


def test_flip_augmentation_mirrors_event_and_image_together(data_dir):
    from seal_ros.datasets.pairs import AedatPairs, TrainPairs, flip_coin

    pairs = TrainPairs(AedatPairs(data_dir / "davis346_frames" / "davis.aedat4"), 64, flip=True, seed=5)
    e = next(e for e in range(50) if flip_coin(5, e, 1))
    a, b = pairs.item(1, e), pairs[1]
    assert torch.equal(a["event"], b["event"].flip(-1)) and torch.equal(a["image"], b["image"].flip(-1))
    plain = next(e for e in range(50) if not flip_coin(5, e, 1))
    assert torch.equal(pairs.item(1, plain)["event"], b["event"])
    with pytest.raises(ConfigError, match="stage eventsam has no validation"):
        Trainer(load_config(CONFIG, overrides=["val.every=2", "val.benchmark=ddd17", "val.data=/x",
                                               f"data.path={data_dir / 'davis346_frames' / 'davis.aedat4'}"])).fit()
