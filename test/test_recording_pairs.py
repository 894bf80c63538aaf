"""Training pairs from any recording with frames (the registry-based train data source)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import DAVIS_AEDAT
from recording_fixtures import RAW_EVT3

from seal_ros.datasets.pairs import AedatPairs, PairSourceError, open_pairs
from seal_ros.datasets.recording_pairs import RecordingPairs


def test_same_pairs_as_the_aedat_source():
    a, b = AedatPairs(DAVIS_AEDAT, window_ms=20.0), RecordingPairs(DAVIS_AEDAT, window_ms=20.0)
    assert len(a) == len(b) == 3 and (b.width, b.height) == (346, 260)
    for s, r in zip(a.samples, b.samples):
        assert (s.t0_ns, s.t1_ns, s.name) == (r.t0_ns, r.t1_ns, r.name)
        assert np.array_equal(s.events.t, r.events.t) and np.array_equal(s.events.x, r.events.x)
        assert np.array_equal(s.image, r.image)


def test_open_pairs_recording_source_and_refusals(tmp_path):
    from seal_ros.cli import main

    assert main(["convert", str(DAVIS_AEDAT), str(tmp_path / "bag")]) == 0
    src = open_pairs({"source": "recording", "path": str(tmp_path / "bag"), "window_ms": 20.0})
    ref = RecordingPairs(DAVIS_AEDAT, window_ms=20.0)
    # a bag has no exposure: windows centred on the frame stamps instead
    assert len(src) == 3 and [s.t0_ns + 10_000_000 for s in src.samples] == [f.t_ns for f in _frames(DAVIS_AEDAT)]
    assert all(len(s.events) > 0 and np.array_equal(s.image, r.image) for s, r in zip(src.samples, ref.samples))
    # what keys the training caches: the recording's files (two recordings of as many pairs differ), the window
    assert src.fingerprint() != ref.fingerprint() and src.fingerprint() == open_pairs(
        {"source": "recording", "path": str(tmp_path / "bag"), "window_ms": 20.0}).fingerprint()
    assert ref.fingerprint()["files"][0][0] == str(DAVIS_AEDAT.resolve())
    assert RecordingPairs(DAVIS_AEDAT, window_ms=10.0).fingerprint() != ref.fingerprint()
    with pytest.raises(PairSourceError, match="no frames in this prophesee-raw recording"):
        open_pairs({"source": "recording", "path": str(RAW_EVT3)})
    with pytest.raises(PairSourceError, match="a character device"):
        open_pairs({"source": "recording", "path": "/dev/zero"})


def _frames(path):
    from seal_ros.io.recordings import open_recording

    return list(open_recording(path).frames())
