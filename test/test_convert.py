"""``seal-ros convert``: any recording to a rosbag2 bag of EventPackets; convert then decode = the same events."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DAVIS_AEDAT, EVT3_BAG
from recording_fixtures import RAW_EVT2, RAW_EVT3, bag_events, raw_body, read_all, same_events, text_lines, write_dsec

from seal_ros.cli import main
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader


def convert(capsys, *args) -> dict:
    assert main(["convert", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


def test_raw_evt3_words_pass_through_unchanged(tmp_path, capsys):
    out = convert(capsys, RAW_EVT3, tmp_path / "bag", "--packet-ms", "0.5")
    assert out["mode"] == "words passed through" and out["packets"] == out["stats"]["packets"] > 10
    with BagReader(tmp_path / "bag") as bag:
        packets = list(bag.event_packets("/event_camera/events"))
        assert bag.files[0].suffix == ".mcap"
    assert b"".join(p.events.tobytes() for p in packets) == raw_body(RAW_EVT3)
    assert {(p.encoding, p.width, p.height, p.time_base) for p in packets} == {("evt3", 1280, 720, 0)}
    assert [p.seq for p in packets] == list(range(len(packets)))
    # stamps: ROS time = the RAW header's Date + the sensor time of the packet's start, 0.5 ms apart
    date = 1_601_020_109 * 10**9
    assert packets[0].stamp_ns == date + 11_718_656_000
    gaps = np.diff([p.stamp_ns for p in packets])
    assert np.all(gaps >= 500_000) and np.median(gaps) < 600_000
    ev, _, _ = read_all(tmp_path / "bag")
    ref, _, _ = read_all(RAW_EVT3)
    assert same_events(ev, ref)


@pytest.mark.parametrize("encoding", ["evt3", "evt2", "libcaer_cmp", "libcaer", "mono"])
def test_round_trip_every_encoding(tmp_path, capsys, encoding):
    src, _, _ = read_all(RAW_EVT2)  # EVT 2.0 in: every encoding but evt2 re-encodes it
    out = convert(capsys, RAW_EVT2, tmp_path / "bag", "--encoding", encoding, "--packet-ms", "2",
                  "--storage", "sqlite3")
    assert out["mode"] == ("words passed through" if encoding == "evt2" else "encoded")
    got, _, rec = read_all(tmp_path / "bag")
    assert rec.encoding == encoding and (rec.width, rec.height) == (640, 480) and same_events(got, src)
    with BagReader(tmp_path / "bag") as bag:
        gaps = np.diff([p.stamp_ns for p in bag.event_packets()])
    # encoded: windows of 2 ms from the first event; EVT 2.0 words: cut at a TIME_HIGH (every 64 us)
    assert np.all(gaps >= 2_000_000 - (64_000 if encoding == "evt2" else 0))
    assert abs(np.median(gaps) - 2_000_000) <= 64_000


def test_other_formats_round_trip(tmp_path, capsys):
    packets, ev = bag_events(EVT3_BAG, packets=40)
    ev = EventArray(ev.x, ev.y, ev.p, ev.t)
    (tmp_path / "ev.txt").write_text(text_lines(ev, True, (640, 480)))
    write_dsec(tmp_path / "ev.h5", ev, {"width": 640, "height": 480})
    for name in ("ev.txt", "ev.h5"):
        out = convert(capsys, tmp_path / name, tmp_path / f"{name}.bag")
        got, _, rec = read_all(tmp_path / f"{name}.bag")
        assert out["mode"] == "encoded" and rec.encoding == "evt3" and same_events(got, ev), name


def test_a_bag_in_its_own_encoding_is_copied_as_recorded(tmp_path, capsys):
    out = convert(capsys, EVT3_BAG, tmp_path / "copy")
    assert out["mode"] == "as recorded" and out["packets"] == 517
    with BagReader(EVT3_BAG) as a, BagReader(tmp_path / "copy") as b:
        for p, q in zip(a.event_packets(), b.event_packets(), strict=True):
            assert (p.seq, p.stamp_ns, p.time_base, p.encoding) == (q.seq, q.stamp_ns, q.time_base, q.encoding)
            assert np.array_equal(p.events, q.events)
    out = convert(capsys, EVT3_BAG, tmp_path / "moved", "--start-time", "100.5")
    with BagReader(EVT3_BAG) as a, BagReader(tmp_path / "moved") as b:
        sa = [p.stamp_ns for p in a.event_packets()]
        sb = [p.stamp_ns for p in b.event_packets()]
    assert sb[0] == 100_500_000_000 and np.array_equal(np.diff(sa), np.diff(sb))


def test_frames_and_imu_go_to_their_own_topics(tmp_path, capsys):
    from seal_ros.io.aedat import read_aedat4

    out = convert(capsys, DAVIS_AEDAT, tmp_path / "bag", "--packet-ms", "5")
    assert (out["images"], out["imu"]) == (3, 130)
    whole = read_aedat4(DAVIS_AEDAT)
    with BagReader(tmp_path / "bag") as bag:
        topics = {t.name: t.msgtype for t in bag.topics().values()}
        assert topics == {"/event_camera/events": "event_camera_msgs/msg/EventPacket",
                          "/event_camera/image": "sensor_msgs/msg/Image", "/event_camera/imu": "sensor_msgs/msg/Imu"}
        images = list(bag.images("/event_camera/image"))
    # AEDAT4 times are Unix time: the frames keep their stamps, pixels unchanged
    assert [t for t, _ in images] == [f.t_ns for f in whole.frames]
    assert all(np.array_equal(img, f.image) for (_, img), f in zip(images, whole.frames))
    got, tr, rec = read_all(tmp_path / "bag")
    assert same_events(got, EventArray(whole.events.x, whole.events.y, whole.events.p, whole.events.t))
    assert len(tr) == len(whole.triggers) and rec.has_frames and rec.has_imu


def test_convert_errors(tmp_path, capsys):
    (tmp_path / "exists").mkdir()
    assert main(["convert", str(RAW_EVT3), str(tmp_path / "exists")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(RAW_EVT3), str(tmp_path / "x"), "--encoding", "mono", "--packet-ms", "5000"]) == 2
    assert "mono packets span at most 4.29 s" in capsys.readouterr().err
    assert main(["convert", str(RAW_EVT3), str(tmp_path / "y"), "--packet-ms", "0"]) == 2
    assert "packet duration must be positive" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
