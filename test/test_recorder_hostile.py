"""The recorder against hostile names, races and sensors (issue 13 points 2, 7, 8), on the core."""
from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest

from seal_ros.events.types import EventArray
from seal_ros.recorder.reader import validate
from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession, make_session_dir, \
    session_name_problem


def events(n, t0_ns, width, height, seed=0):
    rng = np.random.default_rng(seed)
    t = t0_ns + np.sort(rng.integers(0, 10_000_000, n))
    return EventArray(rng.integers(0, width, n).astype(np.uint16), rng.integers(0, height, n).astype(np.uint16),
                      rng.integers(0, 2, n).astype(np.uint8), t.astype(np.int64))


def test_session_names_are_checked_against_the_file_system_limits(tmp_path):
    assert session_name_problem("") is None and session_name_problem("run_01") is None
    assert session_name_problem("é" * 123) is None  # 246 bytes
    assert "247 fit a file name" in session_name_problem("é" * 124)  # 248 bytes
    assert "247 fit a file name" in session_name_problem("x" * 300)
    for bad in ("a/b", "..", ".", "a\0b"):
        assert "plain directory name" in session_name_problem(bad), bad
    with pytest.raises(RecorderError, match="at most 247"):
        make_session_dir(tmp_path, "x" * 256)
    # the longest allowed name still takes its _N suffix when taken
    name = "x" * 247
    first = make_session_dir(tmp_path, name)
    assert first.name == name and make_session_dir(tmp_path, name).name == name + "_1"


def _claim(args):
    out, barrier = args
    barrier.wait()
    return make_session_dir(out, "same").name


def test_simultaneous_starts_get_distinct_folders(tmp_path):
    n = 8
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(n)
        with ctx.Pool(n) as pool:
            names = pool.map(_claim, [(str(tmp_path), barrier)] * n)
    assert sorted(names) == sorted(["same"] + [f"same_{k}" for k in range(1, n)])
    # each claimed folder is a session of its own
    for name in names:
        RecordingSession(tmp_path / name).stop()


def test_a_sensor_size_change_ends_the_session_and_nothing_outside_the_size_is_stored(tmp_path):
    s = RecordingSession(tmp_path / "s", RecorderConfig(reorder_ms=0.0, skip_empty=False))
    s.set_sensor_size(64, 48)
    s.add_events(events(5000, 10**12, 64, 48))
    s.add_image(10**12 + 5_000_000, np.zeros((8, 8), np.uint8))
    s.poll(force=True)
    # a stray event beyond the size (a decoder trusting another size) is refused, counted
    s.add_events(EventArray(np.array([63, 64], np.uint16), np.array([0, 0], np.uint16), np.array([1, 1], np.uint8),
                            np.array([10**12 + 11_000_000] * 2, np.int64)))
    assert s.writer.events_out_of_range == 1
    s.set_sensor_size(64, 48)  # the same size: nothing happens
    assert s.recording
    s.set_sensor_size(128, 96)
    assert not s.recording and s.stop_reason == "sensor_size_changed"
    assert "64x48 to 128x96" in s.last_error
    s.add_events(events(1000, 10**12 + 20_000_000, 128, 96))  # after the end: not written
    summary = validate(tmp_path / "s")
    assert summary["valid"], summary["problems"]
    assert summary["events"] == 5001 and (summary["width"], summary["height"]) == (64, 48)
    assert summary["stop_reason"] == "sensor_size_changed"


def test_pairs_info_checks_stored_coordinates_against_the_stored_size(tmp_path, capsys):
    from seal_ros.cli import main

    s = RecordingSession(tmp_path / "s", RecorderConfig(reorder_ms=0.0))
    s.set_sensor_size(640, 480)
    s.add_events(events(3000, 10**12, 640, 480))
    s.stop()
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    meta["width"] = 320  # what an older recorder left after a size change
    (tmp_path / "s" / "meta.json").write_text(json.dumps(meta))
    assert main(["pairs-info", str(tmp_path / "s"), "--no-images"]) == 1
    summary = json.loads(capsys.readouterr().out)
    x = EventArray.concatenate([events(3000, 10**12, 640, 480)]).x
    assert not summary["valid"]
    assert summary["problems"] == [f"{int((x >= 320).sum())} stored events have x >= the stored width 320"]
