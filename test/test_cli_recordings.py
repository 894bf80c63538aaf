"""Every recording-taking ``seal-ros`` command on the new formats, and its one-line refusals."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import DAVIS_AEDAT
from recording_fixtures import RAW_EVT2, RAW_EVT3, bag_events, read_all, text_lines, write_dsec, write_event_list_bag

from seal_ros.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "seal_ros", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_decode_stats_on_raw_files(capsys):
    assert main(["decode-stats", str(RAW_EVT3)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["encoding"], out["width"], out["height"]) == ("prophesee-raw", "evt3", 1280, 720)
    assert (out["events"], out["on"], out["off"]) == (219_596, 115_532, 219_596 - 115_532)
    assert out["first_event_ns"] == 11_718_656_000 and out["bad_packets"] == 0 and out["messages"] >= 1
    assert main(["decode-stats", str(RAW_EVT2)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["encoding"], out["events"], out["width"]) == ("evt2", 539_481, 640)


def test_decode_stats_on_list_formats(tmp_path, capsys):
    _, ev = bag_events(packets=4)
    write_event_list_bag(tmp_path / "d.bag", "dvs_msgs/msg/EventArray", ev, 346, 260, 1)
    assert main(["decode-stats", str(tmp_path / "d.bag")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["topic"], out["encoding"], out["events"]) == ("rosbag1", "/dvs/events", None, len(ev))
    assert out["on"] == int(ev.p.sum()) and out["cd_time_sum_us"] == sum((ev.t // 1000).tolist())
    (tmp_path / "e.txt").write_text(text_lines(ev, False))
    assert main(["decode-stats", str(tmp_path / "e.txt"), "--width", "346", "--height", "260"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["width"], out["events"]) == ("text", 346, len(ev))


def test_decode_stats_on_a_fifo_or_dev_zero_fails_in_one_line(tmp_path):
    """issue 13.10: no hang, no traceback, exit status 2 (a real process: nothing may block)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, needle in ((fifo, "is a FIFO"), ("/dev/zero", "is a character device")):
        res = run_cli("decode-stats", path)
        assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], res.stderr


@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "dir"])
def test_every_command_refuses_non_recordings_in_one_line(tmp_path, capsys, what):
    if what == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = tmp_path if what == "dir" else what
    for cmd in (["decode-stats", path], ["reconstruct", path, "--out", tmp_path / "o"],
                ["convert", path, tmp_path / "c"], ["record-pairs", path, DAVIS_AEDAT, "--out", tmp_path / "p"],
                ["record-pairs", DAVIS_AEDAT, path, "--out", tmp_path / "q"]):
        assert main([str(c) for c in cmd]) == 2, cmd
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0], (cmd, err)
    assert not any((tmp_path / n).exists() for n in ("c", "p", "q"))


def test_reconstruct_a_raw_file(tmp_path, capsys):
    assert main(["reconstruct", str(RAW_EVT3), "--method", "hpf", "--out", str(tmp_path), "--window-ms", "2",
                 "--max-frames", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["frames"], out["width"], out["height"], out["format"]) == (3, 1280, 720, "prophesee-raw")
    stamps = (tmp_path / "timestamps.txt").read_text().splitlines()[1:]
    assert [int(s.split()[1]) for s in stamps] == [11_718_656_000 + 2_000_000 * k for k in (1, 2, 3)]


def test_record_pairs_from_dsec_events_and_aedat_frames(tmp_path, capsys):
    """Events from one format, frames from another: the same pairs as AEDAT4 alone."""
    ev, _, _ = read_all(DAVIS_AEDAT)
    h5 = write_dsec(tmp_path / "ev.h5", ev, {"width": 346, "height": 260})
    assert main(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(tmp_path / "a")]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["record-pairs", str(h5), str(DAVIS_AEDAT), "--out", str(tmp_path / "b")]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["pairs"] == b["pairs"] == 3 and a["events"] == b["events"] == len(ev)
    pa = [json.loads(x) for x in (tmp_path / "a" / "pairs.jsonl").read_text().splitlines()]
    pb = [json.loads(x) for x in (tmp_path / "b" / "pairs.jsonl").read_text().splitlines()]
    assert [(p["t0_us"], p["t1_us"], p["event_count"]) for p in pa] == \
        [(p["t0_us"], p["t1_us"], p["event_count"]) for p in pb]
    assert main(["record-pairs", str(h5), str(h5), "--out", str(tmp_path / "c")]) == 2
    assert "no frames" in capsys.readouterr().err
    assert np.all(ev.t % 1000 == 0)
