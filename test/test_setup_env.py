"""The environment setup is idempotent: a second run has nothing to do and is fast."""
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_second_setup_run_does_nothing_quickly():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    stamp = ROOT / ".build" / ".msgs_stamp"
    req_stamp = ROOT / ".venv" / ".seal_ros_req"
    before = (stamp.stat().st_mtime_ns, req_stamp.stat().st_mtime_ns)
    t0 = time.monotonic()
    res = subprocess.run([str(ROOT / "scripts" / "setup-env")], capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert "installing" not in res.stderr and "building" not in res.stderr, res.stderr
    assert (stamp.stat().st_mtime_ns, req_stamp.stat().st_mtime_ns) == before
    assert elapsed < 10.0, f"no-op setup took {elapsed:.1f} s"
    assert (ROOT / ".build" / "env.sh").read_text().count("export") >= 10
