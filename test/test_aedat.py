"""AEDAT4 reader on the shared DAVIS346 recording (real file, known counts)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import DAVIS_AEDAT
from seal_ros.io.aedat import AedatError, read_aedat4


@pytest.fixture(scope="module")
def rec():
    return read_aedat4(DAVIS_AEDAT)


def test_events_match_the_recording(rec):
    assert (rec.width, rec.height) == (346, 260)
    ev = rec.events
    assert len(ev) == 117_667  # documented in shared/data/README.md
    assert ev.x.dtype == np.uint16 and ev.y.dtype == np.uint16 and ev.p.dtype == np.uint8 and ev.t.dtype == np.int64
    assert int(ev.x.max()) < 346 and int(ev.y.max()) < 260
    assert set(np.unique(ev.p).tolist()) == {0, 1}
    assert np.all(np.diff(ev.t) >= 0)
    span_s = (ev.t[-1] - ev.t[0]) / 1e9
    assert 0.12 < span_s < 0.14  # "over 0.13 s"
    # ns: the microsecond stamps of AEDAT4 scaled by 1000
    assert np.all(ev.t % 1000 == 0)


def test_frames_have_exposure_bounds_and_images(rec):
    assert len(rec.frames) == 3
    for f in rec.frames:
        assert f.image.shape == (260, 346) and f.image.dtype == np.uint8
        assert f.exposure_start_ns <= f.t_ns <= f.exposure_end_ns
        assert f.image.std() > 1.0  # a real picture, not a constant
    ts = [f.t_ns for f in rec.frames]
    assert ts == sorted(ts)
    # frames lie inside the event stream's time span
    assert rec.events.t[0] <= ts[0] and ts[-1] <= rec.events.t[-1]


def test_bad_files_raise_one_line_errors(tmp_path):
    with pytest.raises(AedatError, match="no such file"):
        read_aedat4(tmp_path / "missing.aedat4")
    junk = tmp_path / "junk.aedat4"
    junk.write_bytes(b"not an aedat file at all" * 10)
    with pytest.raises(AedatError) as info:
        read_aedat4(junk)
    assert "\n" not in str(info.value)
    truncated = tmp_path / "cut.aedat4"
    truncated.write_bytes(DAVIS_AEDAT.read_bytes()[:300_000])
    with pytest.raises(AedatError, match="corrupt"):
        read_aedat4(truncated)
