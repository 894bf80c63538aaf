"""EVREAL's dataset layout: written as tools/bag_to_npy.py writes it, read as dataset.py reads it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seal_ros.events.types import EventArray
from seal_ros.io.evreal import EvrealError, is_evreal, read_evreal, to_evreal, write_evreal

T0 = 1_700_000_000_000_000_000  # absolute ns


def _events(times_us, w=8, h=6):
    t = T0 + np.asarray(times_us, np.int64) * 1000
    n = len(t)
    return EventArray((np.arange(n) % w).astype(np.uint16), (np.arange(n) % h).astype(np.uint16),
                      (np.arange(n) % 2).astype(np.uint8), t)


def _frames(k, w=8, h=6):
    return [np.full((h, w), 10 * (i + 1), np.uint8) for i in range(k)]


def test_write_then_read_keeps_everything_in_evreal_dtypes(tmp_path):
    ev = _events([100, 200, 300, 300, 450, 700, 900])
    stamps = T0 + np.array([300, 600, 1000], np.int64) * 1000
    path = write_evreal(tmp_path / "seq", ev, _frames(3), stamps, 8, 6)
    assert is_evreal(path) and not is_evreal(tmp_path)
    # the files and shapes bag_to_npy writes
    assert np.load(path / "events_ts.npy").dtype == np.float64
    assert np.load(path / "events_xy.npy").shape == (7, 2)
    assert np.load(path / "images.npy").shape == (3, 6, 8, 1) and np.load(path / "images.npy").dtype == np.uint8
    assert np.load(path / "images_ts.npy").shape == (3, 1)
    assert np.load(path / "image_event_indices.npy").shape == (3, 1)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["sensor_resolution"] == [6, 8] and meta["t0_ns"] == T0 + 100_000

    rec = read_evreal(path)
    assert (rec.width, rec.height, rec.num_events, rec.num_frames) == (8, 6, 7, 3)
    # times zeroed by the earliest of events and frames (here the first event)
    np.testing.assert_allclose(rec.ts, [0, 1e-4, 2e-4, 2e-4, 3.5e-4, 6e-4, 8e-4], atol=1e-12)
    np.testing.assert_allclose(rec.images_ts, [2e-4, 5e-4, 9e-4], atol=1e-12)
    # the last event at or before each frame: searchsorted(..., 'right') - 1
    assert rec.image_event_indices.tolist() == [3, 4, 6]
    back = rec.events()
    np.testing.assert_array_equal(back.t, ev.t)
    np.testing.assert_array_equal(back.x, ev.x)
    np.testing.assert_array_equal(back.p, ev.p)
    np.testing.assert_array_equal(rec.frame_ts_ns, stamps)
    assert rec.frame(2).shape == (6, 8) and int(rec.frame(2)[0, 0]) == 30
    assert [len(c) for c in rec.chunks(3)] == [3, 3, 1]


def test_frame_before_the_first_event_and_index_clipping():
    ev = _events([500, 600])
    rec = to_evreal(ev, _frames(3), T0 + np.array([100, 550, 2000]) * 1000)  # size from the frames
    assert (rec.width, rec.height) == (8, 6)
    assert rec.ts[0] == pytest.approx(4e-4) and rec.images_ts[0] == 0.0  # zero at the first frame
    assert rec.image_event_indices.tolist() == [0, 0, 1]  # -1 clipped to 0


def test_a_stamp_going_backwards_takes_the_mean_of_its_neighbours():
    rec = to_evreal(_events([0, 10]), _frames(4), T0 + np.array([100, 300, 200, 500]) * 1000, 8, 6)
    np.testing.assert_allclose(rec.images_ts * 1e6, [100, 300, 400, 500])


def test_a_sequence_without_frames_and_sizes_from_the_data(tmp_path):
    path = tmp_path / "noframes"
    path.mkdir()
    np.save(path / "events_ts.npy", np.array([0.0, 0.1]))
    np.save(path / "events_xy.npy", np.array([[3, 1], [9, 4]]))
    np.save(path / "events_p.npy", np.array([1, 0]))
    rec = read_evreal(path)
    assert rec.num_frames == 0 and (rec.width, rec.height) == (10, 5)  # largest coordinates + 1


def test_unreadable_sequences_are_one_line_errors(tmp_path):
    with pytest.raises(EvrealError, match="no such folder"):
        read_evreal(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvrealError, match="missing events_ts.npy"):
        read_evreal(tmp_path / "empty")
    bad = write_evreal(tmp_path / "bad", _events([0, 1, 2]), _frames(2), T0 + np.array([0, 2]) * 1000, 8, 6)
    np.save(bad / "events_p.npy", np.array([1, 0]))
    with pytest.raises(EvrealError, match="3 event times, 3 coordinates and 2 polarities"):
        read_evreal(bad)
    (bad / "events_p.npy").write_bytes(b"not numpy")
    with pytest.raises(EvrealError) as info:
        read_evreal(bad)
    assert "not a readable .npy" in str(info.value) and "\n" not in str(info.value)
