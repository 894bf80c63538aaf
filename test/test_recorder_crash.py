"""Crash safety: SIGKILL at a random moment, and a disk that fills up (real OS errors).

The recorder core runs in a child process (this file, run as a script, with
the same interpreter and environment).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()


# ---------------------------------------------------------------- the child
def child(mode: str, out: str, min_free_mb: float = 64.0) -> None:
    from seal_ros.events.types import EventArray
    from seal_ros.recorder.session import RecorderConfig, RecordingSession

    cfg = RecorderConfig(window_ms=8.0, commit_interval_s=0.02, chunk_events=1 << 15, reorder_ms=0.0,
                         min_free_mb=min_free_mb)
    s = RecordingSession(out, cfg, 320, 240)
    rng = np.random.default_rng(int(time.time() * 1e6) % (1 << 31))
    t = 1_000_000_000_000
    k = 0
    while s.recording:
        n = int(rng.integers(5_000, 30_000))
        ts = np.sort(rng.integers(t, t + 5_000_000, n)).astype(np.int64)
        s.add_events(EventArray(rng.integers(0, 320, n).astype(np.uint16), rng.integers(0, 240, n).astype(np.uint16),
                                rng.integers(0, 2, n).astype(np.uint8), ts), 0, 2 * n)
        t += 5_000_000
        if k % 2 == 0:
            img = np.full((60, 80), k % 256, np.uint8)
            img[0, : min(80, k // 256 + 1)] = 7
            s.add_image(t - 1_000_000, img)
        s.poll()
        k += 1
        if mode == "diskfull" and k > 20000:
            break
    print(json.dumps(s.stats()), flush=True)


# ---------------------------------------------------------------- the tests
def spawn(mode, out, *extra):
    return subprocess.Popen([sys.executable, str(HERE), mode, str(out), *map(str, extra)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONFAULTHANDLER="1"), cwd=str(HERE.parents[1]))


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def check_dataset(root: Path) -> dict:
    from seal_ros.recorder.reader import PairsDataset, validate

    summary = validate(root)
    assert summary["valid"], summary["problems"]
    with PairsDataset(root) as ds:
        for k, p in enumerate(ds.pairs):
            img, ev, _ = ds.pair(k)
            assert img.shape == (60, 80) and len(ev) == p["event_count"]
            assert np.all((ev.t // 1000 >= p["t0_us"]) & (ev.t // 1000 < p["t1_us"]))
    return summary


def test_sigkill_at_random_moments_leaves_every_listed_pair_complete(tmp_path):
    import h5py

    from seal_ros.cli import main as cli

    rnd = random.Random()
    for trial in range(3):
        out = tmp_path / f"s{trial}"
        proc = spawn("crash", out)
        target = rnd.randint(2, 40)
        deadline = time.monotonic() + 60
        while count_lines(out / "pairs.jsonl") < target and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.005)
        time.sleep(rnd.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        summary = check_dataset(out)
        assert summary["pairs"] >= target and summary["unclosed"]
        # DSEC tools open the HDF5 file plainly: pairs-info --repair makes that possible, data unchanged
        assert cli(["pairs-info", str(out), "--repair", "--no-images"]) == 0
        with h5py.File(out / "events" / "events.h5", "r") as f:
            assert f["events/t"].shape[0] >= summary["events"]
        assert check_dataset(out)["pairs"] == summary["pairs"]


@pytest.fixture
def small_disk(tmp_path):
    """(directory, reserve in MB) on a device with only a few MB left for the recording.

    As root: a real 16 MB tmpfs. Otherwise: the temporary directory's device with the reserve
    set so that about 6 MB remain usable (the same free-space path).
    """
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                                 capture_output=True).returncode == 0
    if mounted:
        yield mnt, 2.0
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    else:
        st = os.statvfs(mnt)
        yield mnt, (st.f_bavail * st.f_frsize - 6_000_000) / 1e6


def test_disk_full_stops_with_a_clear_error_and_keeps_the_data_valid(small_disk):
    mnt, reserve_mb = small_disk
    out = mnt / "full"
    proc = spawn("diskfull", out, reserve_mb)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    stats = json.loads(stdout.decode().strip().splitlines()[-1])
    assert stats["state"] == "failed" and stats["stop_reason"] == "disk_full"
    assert "disk full" in stats["last_error"] and str(out) in stats["last_error"]
    assert stats["pairs_written"] > 0
    summary = check_dataset(out)
    assert summary["pairs"] == stats["pairs_written"]
    assert not summary["unclosed"]  # closed cleanly within the reserve: plain HDF5 readers work
    assert summary["stop_reason"] == "disk_full"


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], *map(float, sys.argv[3:]))
