"""Every ``seal-ros`` command fails with one line and status 2 on bad input, and the scripts work
from any directory (issue 13 point 10)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(capsys, *args):
    """``seal-ros ARGS`` in this process: (status, stdout, stderr)."""
    from seal_ros.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(res, command):
    code, out, err = res
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seal-ros {command}: error: "), err
    assert "Traceback" not in out
    return lines[0]


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "events.fifo"
    os.mkfifo(path)
    return path


def test_a_fifo_or_a_device_as_a_recording_is_refused_at_once(fifo, capsys):
    for command in ("decode-stats", "reconstruct", "pairs-info"):
        extra = ["--out", "/tmp/never"] if command == "reconstruct" else []
        for path in (fifo, Path("/dev/zero")):
            line = one_line(cli(capsys, command, path, *extra), command)  # refused before anything opens it
            assert str(path) in line and ("a FIFO" in line or "a character device" in line), line
    assert not Path("/tmp/never").exists()


def test_missing_and_malformed_inputs(tmp_path, capsys):
    line = one_line(cli(capsys, "pairs-info", tmp_path / "nope"), "pairs-info")
    assert "nope" in line
    bad = tmp_path / "ds"
    (bad / "events").mkdir(parents=True)
    (bad / "pairs.jsonl").write_text('{"event_index": [0, 5]}\n')
    (bad / "events" / "events.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a truncated HDF5 file
    line = one_line(cli(capsys, "pairs-info", bad), "pairs-info")
    assert "events.h5" in line
    line = one_line(cli(capsys, "models", "list", "--manifest", tmp_path / "nope.yaml"), "models")
    assert "nope.yaml" in line


def test_usage_errors_are_one_line_too(capsys):
    line = one_line(cli(capsys, "decode-stats"), "decode-stats")
    assert "required: input" in line and "--help" in line
    code, _, err = cli(capsys, "no-such-command")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "invalid choice: 'no-such-command'" in err


@pytest.mark.parametrize("script", ["with-env", "run-tests --collect-only -q ../test/test_health.py::test_every_value_is_a_key"])
def test_scripts_work_from_any_directory(tmp_path, script):
    name, *args = script.split()
    cmd = [str(ROOT / "scripts" / name)] + (args or ["python", "-c", "import os, seal_ros; print(os.getcwd())"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cwd = tmp_path if name == "with-env" else ROOT / "docs"  # a test path relative to where it is called
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    if name == "with-env":
        assert res.stdout.strip() == str(tmp_path)  # the command runs where it was called
    else:
        assert "test_health.py::test_every_value_is_a_key" in res.stdout and "1 test collected" in res.stdout
