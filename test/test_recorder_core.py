"""Recorder core: exact pairing on the real EVT3 bag, flags, ordering, limits, the reader."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EVT3_BAG

from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader
from seal_ros.recorder.reader import PairDataset, PairsDataset, read_pairs, validate
from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession, make_session_dir


@pytest.fixture(scope="module")
def evt3_batches():
    """The bag decoded packet by packet: [(EventArray, lost, raw bytes)]."""
    stream = EventStream()
    out = []
    with BagReader(EVT3_BAG) as bag:
        for pk in bag.event_packets():
            d = stream.push(pk)
            out.append((d.events, d.lost_packets, int(pk.events.nbytes)))
    return out


def image_for(k: int) -> np.ndarray:
    img = np.zeros((24, 32), np.uint8)
    img[:, :] = (k * 37) % 251
    img[k % 24, :] = 255
    return img


def record(path, batches, stamps, cfg=RecorderConfig(), images_every=1, exposures=None):
    """Interleave batches and images roughly as they would arrive (images after their stamp's events)."""
    s = RecordingSession(path, cfg, 640, 480)
    stamps = list(stamps)
    j = 0
    for ev, lost, raw in batches:
        s.add_events(ev, lost, raw)
        last = s.writer.last_event_us
        while j < len(stamps) and last is not None and stamps[j] // 1000 <= last:
            s.add_image(stamps[j], image_for(j), None if exposures is None else exposures[j])
            j += 1
        s.poll()
    for k in range(j, len(stamps)):
        s.add_image(stamps[k], image_for(k), None if exposures is None else exposures[k])
    s.stop()
    return s


def decoder_counts(all_ev: EventArray, t0_us: int, t1_us: int) -> int:
    tu = all_ev.t // 1000
    return int(np.count_nonzero((tu >= t0_us) & (tu < t1_us)))


def test_pairs_hold_exactly_the_decoders_events(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    t_first, t_last = int(all_ev.t[0]), int(all_ev.t[-1])
    # 30 Hz, overlapping 50 ms windows, the first ones before the first event
    stamps = list(range(t_first + 20_000_000, t_last, 33_333_333))
    s = record(tmp_path / "a", evt3_batches, stamps)
    assert s.state == "stopped" and s.writer.n_events == len(all_ev)
    summary = validate(tmp_path / "a")
    assert summary["valid"], summary["problems"]
    with PairsDataset(tmp_path / "a") as ds:
        # stamps whose window starts before the first event are skipped, every other one is a pair
        expected = [st for st in stamps if (st - 50_000_000) // 1000 >= t_first // 1000]
        assert [p["image_t_us"] for p in ds.pairs] == [st // 1000 for st in expected]
        assert s.skips["before_first_event"] == len(stamps) - len(expected)
        for k, p in enumerate(ds.pairs):
            assert p["t1_us"] - p["t0_us"] == 50_000
            assert p["event_count"] == decoder_counts(all_ev, p["t0_us"], p["t1_us"])
            img, ev, meta = ds.pair(k)
            j = stamps.index(expected[k])
            np.testing.assert_array_equal(img, image_for(j))
            tu = all_ev.t // 1000
            sel = all_ev[(tu >= p["t0_us"]) & (tu < p["t1_us"])]
            np.testing.assert_array_equal(ev.x, sel.x)
            np.testing.assert_array_equal(ev.y, sel.y)
            np.testing.assert_array_equal(ev.p, sel.p)
            np.testing.assert_array_equal(ev.t // 1000, sel.t // 1000)
        # the stream is stored once: overlapping windows share indices
        assert ds.num_events == len(all_ev)
        assert ds.pairs[1]["event_index"][0] < ds.pairs[0]["event_index"][1]
    # DSEC fields: ms_to_idx[m] is the first event at or after m ms
    import h5py

    with h5py.File(tmp_path / "a" / "events" / "events.h5", "r") as f:
        t = f["events/t"][:]
        ms = f["ms_to_idx"][:]
        assert f["events/t"].dtype == np.uint32 and f["events/x"].dtype == np.uint16
        assert int(f["t_offset"][()]) == t_first // 1000
        np.testing.assert_array_equal(ms, np.searchsorted(t, np.arange(len(ms)) * 1000, "left"))
        assert len(ms) == t[-1] // 1000 + 1
    ts = np.loadtxt(tmp_path / "a" / "images" / "timestamps.txt", dtype=np.int64)
    np.testing.assert_array_equal(ts, [st // 1000 for st in expected])
    # the training view
    pd = PairDataset(tmp_path / "a")
    img, ev, meta = pd[2]
    assert img.dtype == np.uint8 and len(ev) == meta["event_count"] and meta["width"] == 640


def test_out_of_order_images_are_sorted_and_late_ones_skipped(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    t0 = int(all_ev.t[0]) + 100_000_000
    stamps = [t0 + k * 20_000_000 for k in range(40)]
    shuffled = stamps.copy()
    for k in range(0, 38, 3):  # swap neighbours: each arrives before its predecessor
        shuffled[k], shuffled[k + 1] = shuffled[k + 1], shuffled[k]
    s = RecordingSession(tmp_path / "o", RecorderConfig(reorder_ms=50.0), 640, 480)
    for ev, lost, raw in evt3_batches:
        s.add_events(ev, lost, raw)
    for k, st in enumerate(shuffled):
        s.add_image(st, image_for(k))
        s.poll()
    s.add_image(stamps[3], image_for(99))  # older than what was already written
    s.stop()
    assert s.skips["late"] == 1 or s.skips["duplicate"] == 1
    with PairsDataset(tmp_path / "o") as ds:
        assert [p["image_t_us"] for p in ds.pairs] == [st // 1000 for st in stamps]
        for p in ds.pairs:
            assert p["event_count"] == decoder_counts(all_ev, p["t0_us"], p["t1_us"])


def _with_gap(batches, lo_ns, hi_ns):
    """Remove the events in [lo, hi) (a stalled driver)."""
    out = []
    for ev, lost, raw in batches:
        keep = (ev.t < lo_ns) | (ev.t >= hi_ns)
        out.append((ev[keep], lost, raw))
    return out


@pytest.mark.parametrize("skip_empty", [True, False])
def test_empty_windows_skipped_or_flagged(tmp_path, evt3_batches, skip_empty):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    a = int(all_ev.t[0])
    gap = (a + 500_000_000, a + 900_000_000)
    batches = _with_gap(evt3_batches, *gap)
    stamps = [a + 100_000_000 + k * 50_000_000 for k in range(30)]
    s = record(tmp_path / "e", batches, stamps, RecorderConfig(skip_empty=skip_empty, min_events=10))
    empty = [st for st in stamps if st - 50_000_000 >= gap[0] and st <= gap[1]]
    assert len(empty) >= 5
    with PairsDataset(tmp_path / "e") as ds:
        written = {p["image_t_us"]: p for p in ds.pairs}
    for st in empty:
        if skip_empty:
            assert st // 1000 not in written
        else:
            assert written[st // 1000]["flags"]["empty"] and written[st // 1000]["event_count"] == 0
    assert s.skips["no_events"] == (len(empty) if skip_empty else 0)
    assert all(p["event_count"] >= 10 or p["flags"]["empty"] for p in written.values())
    assert validate(tmp_path / "e")["valid"]


def test_lost_packets_flag_the_windows_they_fall_in(tmp_path, evt3_batches):
    batches = list(evt3_batches)
    k = 200
    ev_gap_lo = int(batches[k - 1][0].t[-1]) // 1000
    batches[k + 1] = (batches[k + 1][0], 1, batches[k + 1][2])  # packet k lost (seq gap)
    del batches[k]
    all_ev = EventArray.concatenate([b[0] for b in batches])
    stamps = list(range(int(all_ev.t[0]) + 60_000_000, int(all_ev.t[-1]), 20_000_000))
    record(tmp_path / "l", batches, stamps)
    with PairsDataset(tmp_path / "l") as ds:
        flagged = [p for p in ds.pairs if p["flags"]["lost_packets"]]
        assert flagged
        for p in ds.pairs:
            overlaps = p["t0_us"] <= ev_gap_lo + 1_000 and p["t1_us"] > ev_gap_lo
            if p["flags"]["lost_packets"]:
                assert p["t1_us"] > ev_gap_lo
            if p["t0_us"] > ev_gap_lo + 5_000 or p["t1_us"] <= ev_gap_lo:
                assert not p["flags"]["lost_packets"]
            assert p["event_count"] == decoder_counts(all_ev, p["t0_us"], p["t1_us"]) or overlaps


def test_exposure_interval_and_offset(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    a = int(all_ev.t[0])
    stamps = [a + 300_000_000, a + 600_000_000, a + 900_000_000]
    exposures = [(st - 8_000_000, st - 1_000_000) for st in stamps[:2]] + [None]
    record(tmp_path / "x", evt3_batches, stamps, RecorderConfig(offset_ms=2.0), exposures=exposures)
    with PairsDataset(tmp_path / "x") as ds:
        p = ds.pairs
        assert [q["flags"]["exposure_known"] for q in p] == [True, True, False]
        assert (p[0]["t0_us"], p[0]["t1_us"]) == ((stamps[0] - 6_000_000) // 1000, (stamps[0] + 1_000_000) // 1000)
        assert (p[2]["t0_us"], p[2]["t1_us"]) == ((stamps[2] - 48_000_000) // 1000, (stamps[2] + 2_000_000) // 1000)
        for q in p:
            assert q["event_count"] == decoder_counts(all_ev, q["t0_us"], q["t1_us"])


def test_reader_tolerates_a_torn_last_line(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    stamps = list(range(int(all_ev.t[0]) + 60_000_000, int(all_ev.t[-1]), 100_000_000))
    record(tmp_path / "t", evt3_batches, stamps)
    path = tmp_path / "t" / "pairs.jsonl"
    n = len(read_pairs(path)[0])
    with open(path, "ab") as f:
        f.write(b'{"image":"images/0000')  # a write cut short
    pairs, bad = read_pairs(path)
    assert len(pairs) == n and bad == 0
    assert validate(tmp_path / "t")["valid"]
    # a broken line in the middle is a problem, not a crash
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"{garbage"
    path.write_bytes(b"\n".join(lines))
    summary = validate(tmp_path / "t")
    assert not summary["valid"] and "unparsable" in summary["problems"][-1]


@pytest.mark.parametrize("limit", ["max_bytes", "max_duration"])
def test_limits_stop_the_session_cleanly(tmp_path, evt3_batches, limit):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    stamps = list(range(int(all_ev.t[0]) + 60_000_000, int(all_ev.t[-1]), 33_333_333))
    cfg = RecorderConfig(max_bytes=1_500_000, chunk_events=1 << 14) if limit == "max_bytes" else RecorderConfig(max_duration_s=0.5)
    s = record(tmp_path / "m", evt3_batches, stamps, cfg)
    assert s.state == "stopped" and s.stop_reason == limit
    summary = validate(tmp_path / "m")
    assert summary["valid"] and 0 < summary["pairs"] < len(stamps) - 2
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["stop_reason"] == limit
    if limit == "max_duration":
        assert summary["duration_s"] < 0.9
    else:
        # stops at the first check past the limit: overshoot below one commit interval of data
        assert 1_500_000 <= s.writer.bytes_written < 2_000_000


def test_session_dir_errors_are_clear(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RecorderError, match="cannot create output directory"):
        make_session_dir(f / "sub", "s")
    with pytest.raises(RecorderError, match="plain directory name"):
        make_session_dir(tmp_path, "../escape")
    first = make_session_dir(tmp_path, "s")
    RecordingSession(first).stop()
    assert make_session_dir(tmp_path, "s").name == "s_1"


def test_stalled_events_pair_anyway_and_late_events_cannot_break_exactness(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    a = int(all_ev.t[0])
    cut = a + 1_000_000_000  # the driver stalls here; its events arrive much later
    early = all_ev[all_ev.t < cut]
    late = all_ev[all_ev.t >= cut]
    s = RecordingSession(tmp_path / "st", RecorderConfig(stall_ms=300.0, reorder_ms=0.0, skip_empty=False), 640, 480)
    s.add_events(early)
    stamps = [cut - 100_000_000 + k * 50_000_000 for k in range(20)]  # images keep coming
    for k, st in enumerate(stamps):
        s.add_image(st, image_for(k))
        s.poll()
    # images whose window reaches past the stall were paired after 300 ms of images, flagged
    s.add_events(late)  # now the delayed events arrive
    s.stop()
    with PairsDataset(tmp_path / "st") as ds:
        flags = [(p["image_t_us"], p["flags"]["stalled"]) for p in ds.pairs]
        assert any(f for _, f in flags) and not all(f for _, f in flags)
        assert s.writer.events_out_of_order > 0  # late events of paired windows were refused
        tu = ds.events(0, ds.num_events).t // 1000
        for p in ds.pairs:
            # every listed range is exactly the stored events of its window
            assert p["event_count"] == int(((tu >= p["t0_us"]) & (tu < p["t1_us"])).sum())
            if not p["flags"]["stalled"]:
                assert p["event_count"] == decoder_counts(all_ev, p["t0_us"], p["t1_us"])
    assert validate(tmp_path / "st")["valid"]


def test_image_dropped_and_duplicate_flags(tmp_path, evt3_batches):
    all_ev = EventArray.concatenate([b[0] for b in evt3_batches])
    a = int(all_ev.t[0]) + 100_000_000
    stamps = [a + k * 33_333_333 for k in range(20) if k != 10]  # frame 10 lost upstream
    s = RecordingSession(tmp_path / "d", RecorderConfig(reorder_ms=0.0), 640, 480)
    for ev, lost, raw in evt3_batches:
        s.add_events(ev, lost, raw)
    for k, st in enumerate(stamps):
        s.add_image(st, image_for(k))
        if k == 3:
            s.add_image(st, image_for(k))  # the same stamp twice
        s.poll()
    s.add_image(a, np.zeros((4, 4, 2), np.uint8))  # not an image
    s.stop()
    assert s.skips["duplicate"] == 1 and s.skips["bad_image"] == 1
    with PairsDataset(tmp_path / "d") as ds:
        dropped = [p["image_t_us"] for p in ds.pairs if p["flags"]["image_dropped"]]
    assert dropped == [(a + 11 * 33_333_333) // 1000]
