"""The recording registry on the shared recordings: Prophesee RAW, detection, streaming, refusals."""
from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
from conftest import DAVIS_AEDAT, EVT3_BAG, LIBCAER_CMP_BAG
from recording_fixtures import RAW_EVT2, RAW_EVT3, RAW_EVT3_NPY, raw_body, raw_with_header, read_all, same_events

from seal_ros.io.recordings import RecordingError, detect, open_recording


# ---------------------------------------------------------------- Prophesee RAW
def test_raw_evt3_equals_the_rust_evt3_decoder_event_for_event():
    evt3 = pytest.importorskip("evt3")  # PyPI evt3 (Rust), pinned in requirements/env.txt
    ev, tr, rec = read_all(RAW_EVT3)
    ref = evt3.decode_file(str(RAW_EVT3))
    assert (rec.format, rec.encoding, rec.width, rec.height) == ("prophesee-raw", "evt3", 1280, 720)
    assert (ref.sensor_width, ref.sensor_height) == (1280, 720)
    assert len(ev) == len(ref) == 219_596 and int(ev.p.sum()) == 115_532
    assert np.array_equal(ev.x, np.asarray(ref.x)) and np.array_equal(ev.y, np.asarray(ref.y))
    assert np.array_equal(ev.p, np.asarray(ref.polarity))
    assert np.array_equal(ev.t // 1000, np.asarray(ref.timestamp).astype(np.int64)) and np.all(ev.t % 1000 == 0)
    assert int(ev.t[0]) // 1000 == 11_718_656 and rec.stats["dropped_invalid_time"] == 0


def test_raw_evt3_against_the_expelliarmus_npy():
    """Every event equal in order in x, y, p; times differ exactly by expelliarmus's TIME_LOW rule.

    expelliarmus adds 4096 us each time a TIME_LOW is lower than the previous one; Prophesee's
    format (and OpenEB, the Rust evt3 decoder, event_camera_codecs) only takes TIME_HIGH. The file
    has 11 such TIME_LOW decreases, so the npy's times run ahead by 0..11 x 4096 us, stepwise."""
    ev, _, _ = read_all(RAW_EVT3)
    ref = np.load(RAW_EVT3_NPY)
    assert len(ref) == len(ev) == 219_596
    assert np.array_equal(ev.x, ref["x"]) and np.array_equal(ev.y, ref["y"]) and np.array_equal(ev.p, ref["p"])
    words = np.frombuffer(raw_body(RAW_EVT3), "<u2")
    lows = (words[(words >> 12) == 6] & 0xFFF).astype(np.int64)
    decreases = int(np.count_nonzero(np.diff(lows) < 0))
    diff = ref["t"] - ev.t // 1000
    steps = np.unique(diff)
    assert decreases == 11 and steps.tolist() == [4096 * k for k in range(decreases + 1)]
    assert np.all(np.diff(diff) >= 0) and int(ref["t"].min()) == int(ev.t.min() // 1000) == 11_718_656


def test_raw_evt2_known_values():
    ev, tr, rec = read_all(RAW_EVT2)
    assert (rec.encoding, rec.width, rec.height) == ("evt2", 640, 480)  # size from plugin_name hal_plugin_gen3_fx3
    assert len(ev) == 539_481 and len(tr) == 0
    s = rec.stats
    assert s["dropped_out_of_range"] == s["dropped_invalid_time"] == s["unknown_words"] == 0
    # the same words read plainly with numpy: CD x/y/p in order, t = TIME_HIGH << 6 | low 6 bits
    w = np.frombuffer(raw_body(RAW_EVT2), "<u4")
    kind = w >> 28
    cd = kind <= 1
    high = np.maximum.accumulate(np.where(kind == 8, np.arange(len(w)), 0))
    t = ((w[high] & 0xFFFFFFF).astype(np.int64) << 6) | ((w >> 22) & 0x3F)
    assert np.array_equal(ev.x, (w[cd] >> 11) & 0x7FF) and np.array_equal(ev.y, w[cd] & 0x7FF)
    assert np.array_equal(ev.p, kind[cd]) and np.array_equal(ev.t // 1000, t[cd])


def test_raw_header_geometry_and_date(tmp_path):
    from seal_ros.io.formats.raw import read_header

    body = raw_body(RAW_EVT3)
    f = raw_with_header(tmp_path / "g.raw", "% date x\n% format EVT3;height=720;width=1280\n% end\n", body)
    rec = open_recording(f)
    assert (rec.encoding, rec.width, rec.height) == ("evt3", 1280, 720) and rec.clock_offset_ns is None
    f = raw_with_header(tmp_path / "h.raw", "% evt 3.0\n% geometry 1280x720\n", body)
    assert (open_recording(f).width, open_recording(f).height) == (1280, 720)
    with open(RAW_EVT3, "rb") as fh:
        fields, off = read_header(fh)
    assert fields["plugin_name"] == "hal_plugin_gen41_evk3" and off == 166
    assert open_recording(RAW_EVT3).clock_offset_ns == 1_601_020_109 * 10**9  # % Date 2020-09-25 07:48:29 (UTC)


# ---------------------------------------------------------------- detection by content
@pytest.mark.parametrize("src, fmt, name", [
    (RAW_EVT3, "prophesee-raw", "recording.bin"),
    (DAVIS_AEDAT, "aedat4", "recording.dat4"),
    (LIBCAER_CMP_BAG / "test_events_2_0.mcap", "rosbag2", "recording.mcap"),
])
def test_detection_by_content(tmp_path, src, fmt, name):
    dst = tmp_path / name
    shutil.copy(src, dst)
    assert detect(dst).name == fmt
    assert detect(EVT3_BAG).name == "rosbag2" and detect(EVT3_BAG / "test_events_1.db3").name == "rosbag2"


# ---------------------------------------------------------------- streaming
def test_bounded_chunks_stream_the_same_events():
    whole, _, _ = read_all(RAW_EVT3)
    sizes = []
    from seal_ros.events.types import EventArray

    rec = open_recording(RAW_EVT3, chunk_events=1000)
    parts = []
    for c in rec.chunks():
        sizes.append(len(c.events))
        parts.append(c.events)
    assert max(sizes) <= 1000 and len(sizes) > 200
    assert same_events(EventArray.concatenate(parts), whole)


def test_memory_stays_bounded_on_a_large_file(tmp_path):
    """A RAW file 40x the sample (25 MB): reading it peaks far below its size."""
    import tracemalloc

    body = raw_body(RAW_EVT3)
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        f.write(b"% evt 3.0\n% geometry 1280x720\n")
        for _ in range(40):
            f.write(body)
    read_all(RAW_EVT3, chunk_events=1 << 15)  # imports and JIT before measuring
    rec = open_recording(big, chunk_events=1 << 15)
    n = 0
    tracemalloc.start()
    for c in rec.chunks():
        n += len(c.events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 40 * 219_596
    assert peak < 4 << 20, f"peak {peak / 1e6:.1f} MB for a {big.stat().st_size / 1e6:.0f} MB file"


# ---------------------------------------------------------------- refusals: one line, naming what it is
def _refused(path, needle):
    with pytest.raises(RecordingError) as e:
        open_recording(path)
    msg = str(e.value)
    assert "\n" not in msg and needle in msg, msg


def test_refusals_name_what_was_found(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _refused(fifo, "a FIFO (named pipe)")
    _refused("/dev/zero", "a character device")
    _refused(tmp_path / "missing", "no such file or directory")
    (tmp_path / "dir").mkdir()
    _refused(tmp_path / "dir", "a directory that holds no recording")
    (tmp_path / "empty").write_bytes(b"")
    _refused(tmp_path / "empty", "an empty file")
    _refused(raw_with_header(tmp_path / "a.raw", "% evt 2.1\n% geometry 640x480\n", b"\0" * 64), "EVT 2.1")
    _refused(raw_with_header(tmp_path / "b.raw", "% format EVT21;height=720;width=1280\n% end\n", b"\0" * 8),
             "format EVT21")
    _refused(raw_with_header(tmp_path / "c.dat", "% Data file containing CD events.\n% Height 480\n% Width 640\n"),
             "a Prophesee DAT file")
    (tmp_path / "d.aedat").write_bytes(b"#!AER-DAT3.1\r\n" + b"\0" * 32)
    _refused(tmp_path / "d.aedat", "AEDAT 3.1")
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["CD/events"] = np.zeros(3)
    _refused(tmp_path / "e.h5", "Prophesee HDF5")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["images"] = np.zeros(3)
    _refused(tmp_path / "f.h5", "without events/{x,y,t,p} (top-level keys: images)")
    np.save(tmp_path / "g.npy", np.zeros(3))
    _refused(tmp_path / "g.npy", "a single .npy file")
    (tmp_path / "h.txt").write_text("hello world\n")
    _refused(tmp_path / "h.txt", "not a recording format seal-ros reads")
    (tmp_path / "i.raw").write_bytes(b"% evt 3.0\n")
    _refused(tmp_path / "i.raw", "pass width and height")


def test_evreal_layout_is_recognised(tmp_path):
    for name in ("events_ts.npy", "events_xy.npy", "events_p.npy"):
        np.save(tmp_path / name, np.zeros(2))
    assert detect(tmp_path).name == "evreal-npy"


def test_an_evreal_sequence_reads_back_through_the_registry_event_for_event(tmp_path):
    """The real DAVIS recording written in EVREAL's layout (seal_ros.io.evreal) reads back, streamed in
    bounded chunks, with its frames: the same events (to EVREAL's float-seconds precision) and images."""
    from seal_ros.io.evreal import write_evreal

    ev, _, src = read_all(DAVIS_AEDAT)
    frames = list(open_recording(DAVIS_AEDAT).frames())
    write_evreal(tmp_path / "seq", ev, [f.image for f in frames], [f.t_ns for f in frames], src.width, src.height)
    rec = open_recording(tmp_path / "seq", chunk_events=5000)
    assert (rec.format, rec.width, rec.height, rec.has_frames) == ("evreal-npy", 346, 260, True)
    chunks = list(rec.chunks())
    assert max(len(c.events) for c in chunks) <= 5000 and sum(len(c.events) for c in chunks) == len(ev) == 117_667
    back = read_all(tmp_path / "seq")[0]
    assert np.array_equal(back.x, ev.x) and np.array_equal(back.y, ev.y) and np.array_equal(back.p, ev.p)
    assert np.abs(back.t - ev.t).max() <= 1000  # float64 seconds since the first event: sub-microsecond
    got = list(rec.frames())
    assert len(got) == len(frames) == 3
    assert all(np.array_equal(g.image, f.image) for g, f in zip(got, frames))
    assert all(abs(g.t_ns - f.t_ns) <= 1000 for g, f in zip(got, frames))
