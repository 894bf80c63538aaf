"""The trainer people can trust: DDP (2 ranks) equals one process with the same global batch,
gradient accumulation equals the larger batch, a run killed with SIGKILL and resumed gives the
same loss curve as one that never stopped, validation with the SEAL-protocol AP picks best.pt,
and the learning-rate schedules give the numbers they promise."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train_fixtures import ROOT, SEAL_TINY, make_dsec11, make_seal_layout

ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return make_seal_layout(tmp_path_factory.mktemp("seal_layout"), n=4)


def _args(layout, out, *extra):
    args = ["train", "seal", "--config", str(SEAL_TINY), "--data", str(layout), "--out", str(out),
            "--set", "model.overrides={image_size: 64}", "--set", "train.log_every=1"]
    for e in extra:
        args += ["--set", e]
    return args


def _records(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def _weights(out):
    return torch.load(Path(out) / "seal.pt", weights_only=True)["model"]


def _same_run(a, b, rel=1e-5, atol=1e-6):
    ra, rb = _records(a), _records(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb):
        assert x["loss"] == pytest.approx(y["loss"], rel=rel), (x, y)
        assert x["n_part"] == y["n_part"] and x["n_semantic"] == y["n_semantic"]
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=atol), k


# SGD: its updates scale with the gradient, so a wrong DDP / accumulation loss scale shows in
# the weights (Adam's updates do not, and it turns float noise on near-zero gradients into full steps).
SGD = ("train.optimizer=sgd", "train.lr=0.05", "train.grad_clip=0")


def test_two_ddp_ranks_equal_one_process_with_the_same_global_batch(layout, tmp_path):
    from seal_ros.cli import main

    one = tmp_path / "one"
    assert main(_args(layout, one, "train.steps=3", "train.batch_size=2", *SGD)) == 0
    ddp = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "seal_ros",
           *_args(layout, ddp, "train.steps=3", "train.batch_size=1", *SGD)]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["random_teachers"] is True
    assert all(r["n_part"] >= 8 for r in _records(ddp))  # several masks and names per image
    _same_run(one, ddp)


def test_gradient_accumulation_equals_the_larger_batch(layout, tmp_path):
    from seal_ros.cli import main

    assert main(_args(layout, tmp_path / "big", "train.steps=3", "train.batch_size=2", *SGD)) == 0
    assert main(_args(layout, tmp_path / "acc", "train.steps=3", "train.batch_size=1", "train.accum_steps=2",
                      *SGD)) == 0
    _same_run(tmp_path / "big", tmp_path / "acc")


def _tb_steps(out, tag="seal/loss"):
    """The steps TensorBoard shows: every event file of the run, purges applied."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(out) / "tb"))
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def _cli(*args):
    """The command in a process of its own (one thread: the same float sums in every run)."""
    proc = subprocess.run([sys.executable, "-m", "seal_ros", *args], env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_resume_after_sigkill_continues_the_same_loss_curve(layout, tmp_path):
    steps = ("train.steps=40", "train.batch_size=2", "train.ckpt_every=8", "train.lr=1e-3")
    ref = tmp_path / "ref"
    _cli(*_args(layout, ref, *steps))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "seal_ros", *_args(layout, out, *steps)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            recs = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
            if len(recs) >= 10:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = len((out / "metrics.jsonl").read_text().splitlines())
    ck = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] % 8 == 0 and 8 <= ck["step"] < 40
    _cli(*_args(layout, out, *steps))  # resumes from last.pt
    recs = _records(out)
    assert [r["step"] for r in recs] == list(range(1, 41)), (killed_at, ck["step"])  # no duplicate step
    _same_run(ref, out, rel=0, atol=0)  # bit for bit
    assert _tb_steps(out) == list(range(1, 41))  # TensorBoard continuous, each step once


def test_validation_every_n_steps_selects_best_pt(layout, tmp_path):
    from seal_ros.cli import main
    from seal_ros.seal.export import read_export_config

    dsec = make_dsec11(tmp_path / "dsec")
    out = tmp_path / "val"
    assert main(_args(layout, out, "train.steps=4", "train.batch_size=2", "val.every=2", "val.benchmark=dsec11",
                      f"val.data={dsec}")) == 0
    vals = [r for r in _records(out) if "val/mAP" in r]
    assert [r["step"] for r in vals] == [2, 4]
    assert all(0.0 <= r["val/mAP"] <= 1.0 and r["val/instances"] == 4 for r in vals)
    best = max(vals, key=lambda r: (r["val/mAP"], r["step"]))
    cfg = read_export_config(out / "best.pt")
    assert cfg["best"] == {"score": pytest.approx(best["val/mAP"]), "step": best["step"]}
    assert cfg["random_teachers"] is True


def test_learning_rate_schedules():
    from seal_ros.train.config import TrainSettings
    from seal_ros.train.runtime import lr_lambda

    f = lr_lambda(TrainSettings(warmup_steps=4, schedule="cosine"), total=14)
    assert [f(s) for s in (0, 3)] == [0.25, 1.0] and f(9) == pytest.approx(0.5) and f(14) == pytest.approx(0.0)
    f = lr_lambda(TrainSettings(schedule="step", lr_gamma=0.5, lr_step_every=3), total=100)
    assert [f(s) for s in (0, 2, 3, 6, 7)] == [1, 1, 0.5, 0.25, 0.25]
    # the authors' ExponentialLR(0.9) stepped after epochs 0, 3, 6, 9 (10 steps an epoch)
    f = lr_lambda(TrainSettings(schedule="step", lr_gamma=0.9, lr_step_every=3, lr_step_offset=2,
                                lr_step_unit="epochs"), total=100, steps_per_epoch=10)
    assert [round(f(10 * e), 6) for e in range(8)] == [1, 0.9, 0.9, 0.9, 0.81, 0.81, 0.81, 0.729]
    assert lr_lambda(TrainSettings(schedule="constant"), total=5)(4) == 1.0


def test_epochs_set_the_number_of_steps_and_the_bar_shows_throughput(layout, tmp_path, capsys):
    from seal_ros.cli import main

    out = tmp_path / "ep"
    assert main(_args(layout, out, "train.epochs=2", "train.batch_size=3", "train.progress=true")) == 0
    assert [r["step"] for r in _records(out)] == [1, 2, 3, 4]  # 4 pairs: 2 batches an epoch
    bar = capsys.readouterr().err.replace("\r", "\n")
    assert "4/4" in bar and "img_s=" in bar and "<00:00" in bar  # steps, images/s, ETA
