"""Every format of the registry from the shared recordings' real events: the same events back."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DAVIS_AEDAT, EVT3_BAG
from recording_fixtures import (
    bag_events, read_all, same_events, text_lines, write_dsec, write_event_list_bag, write_packet_bag, write_zip,
)

from seal_ros.events.types import EventArray
from seal_ros.io.recordings import RecordingError, detect, open_recording


@pytest.fixture(scope="module")
def davis():
    """Real DAVIS346 events (epoch-time stamps, as dvs_msgs carries them) and their packets."""
    return bag_events(packets=12)


@pytest.mark.parametrize("ros", [1, 2])
@pytest.mark.parametrize("msgtype", ["dvs_msgs/msg/EventArray", "prophesee_event_msgs/msg/EventArray"])
def test_event_list_bags(tmp_path, davis, ros, msgtype):
    _, ev = davis
    path = tmp_path / ("events.bag" if ros == 1 else "bag2")
    write_event_list_bag(path, msgtype, ev, 346, 260, ros)
    assert detect(path).name == ("rosbag1" if ros == 1 else "rosbag2")
    got, _, rec = read_all(path, chunk_events=3000)
    assert (rec.width, rec.height, rec.details["msgtype"], rec.clock_offset_ns) == (346, 260, msgtype, 0)
    assert same_events(got, ev) and rec.stats["packets"] == -(-len(ev) // 2000)


@pytest.mark.parametrize("ros", [1, 2])
@pytest.mark.parametrize("msgtype", ["event_array_msgs/msg/EventArray", "event_camera_msgs/msg/EventPacket"])
def test_packet_bags_and_the_legacy_type(tmp_path, davis, ros, msgtype):
    packets, ev = davis
    path = tmp_path / ("events.bag" if ros == 1 else "bag2")
    write_packet_bag(path, msgtype, packets, ros)
    got, _, rec = read_all(path)
    assert (rec.encoding, rec.width, rec.height, rec.details["msgtype"]) == ("libcaer_cmp", 346, 260, msgtype)
    assert same_events(got, ev) and rec.stats["lost_packets"] == 0
    assert [p.seq for p in rec.packets()] == [p.seq for p in packets]


def test_legacy_type_decodes_to_the_known_values(tmp_path):
    """issue 12.11: the pre-2023 event_array_msgs/EventArray gives the shared bag's upstream values."""
    from seal_ros.cli.decode_stats import stats
    from seal_ros.io.bags import BagReader

    with BagReader(EVT3_BAG) as r:
        packets = list(r.event_packets())
    write_packet_bag(tmp_path / "legacy", "event_array_msgs/msg/EventArray", packets, 2)
    out = stats(tmp_path / "legacy")
    assert out["messages"] == 517 and (out["events"], out["on"], out["off"]) == (343_474, 125_183, 218_291)
    assert out["cd_time_sum_us"] == 2_851_601_611_994 and out["trigger_time_sum_us"] == 33_999_437_880


def test_bags_without_events_name_the_types_found(tmp_path):
    chatter = {"/chatter": "std_msgs/msg/String"}
    write_packet_bag(tmp_path / "a", None, None, 2, extra_topics=chatter)
    with pytest.raises(RecordingError, match=r"no topic of type event_camera_msgs/msg/EventPacket, "
                                             r"event_array_msgs/msg/EventArray, .*\(topics: /chatter "
                                             r"\(std_msgs/msg/String\)\)"):
        open_recording(tmp_path / "a")
    with pytest.raises(RecordingError, match=r"topic /chatter carries std_msgs/msg/String, not event_camera_msgs"):
        open_recording(tmp_path / "a", topic="/chatter")
    write_packet_bag(tmp_path / "b.bag", "event_camera_msgs/msg/EventPacket", [], 1, extra_topics=chatter)
    with pytest.raises(RecordingError, match=r"no messages on /event_camera/events"):
        open_recording(tmp_path / "b.bag")


def test_dsec_h5_file_and_directories(tmp_path, davis):
    _, ev = davis
    h5 = write_dsec(tmp_path / "seq" / "events" / "left" / "events.h5", ev)
    for path in (h5, tmp_path / "seq"):
        got, _, rec = read_all(path, chunk_events=5000)
        assert rec.format == "dsec-h5" and (rec.width, rec.height) == (640, 480)  # DSEC's sensor
        assert same_events(got, ev)
    got, _, rec = read_all(write_dsec(tmp_path / "b.h5", ev, {"width": 346, "height": 260}))
    assert (rec.width, rec.height) == (346, 260) and same_events(got, ev)


def test_recorder_dataset_reads_back(tmp_path):
    """The recorder writes the DSEC layout: its own datasets are inputs (events and frames)."""
    from seal_ros.cli import main

    out = tmp_path / "pairs"
    assert main(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(out)]) == 0
    ev, _, src = read_all(DAVIS_AEDAT)
    got, _, rec = read_all(out)
    assert (rec.format, rec.width, rec.height, rec.has_frames) == ("dsec-h5", 346, 260, True)
    assert np.array_equal(got.t, ev.t // 1000 * 1000) and np.array_equal(got.x, ev.x)
    frames = list(rec.frames())
    meta = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert [f.t_ns // 1000 for f in frames] == [m["image_t_us"] for m in meta]
    assert np.array_equal(frames[0].image, next(iter(src.frames())).image)


@pytest.mark.parametrize("seconds, sep, size", [(True, " ", None), (False, " ", (346, 260)), (True, ",", None)])
def test_text_files(tmp_path, davis, seconds, sep, size):
    _, ev = davis
    ev = EventArray(ev.x, ev.y, ev.p, ev.t // 1000 * 1000)
    path = tmp_path / "events.txt"
    path.write_text(text_lines(ev, seconds, size, sep))
    got, _, rec = read_all(path, chunk_events=4000)
    assert rec.format == "text" and same_events(got, ev)
    if size is None:  # size from the events
        assert (rec.width, rec.height) == (int(ev.x.max()) + 1, int(ev.y.max()) + 1)
    else:
        assert (rec.width, rec.height) == size
    got, _, _ = read_all(path, time_unit="us" if seconds is False else "s", width=346, height=260)
    assert same_events(got, ev)


def test_zipped_text_and_ecd_folder(tmp_path, davis):
    import imageio.v3 as iio

    _, ev = davis
    ev = EventArray(ev.x, ev.y, ev.p, ev.t // 1000 * 1000)
    z = write_zip(tmp_path / "seq.zip", "seq.txt", "# rpg_e2vid style\n" + text_lines(ev, True, (346, 260)))
    got, _, rec = read_all(z)
    assert rec.format == "text" and (rec.width, rec.height) == (346, 260) and same_events(got, ev)
    ecd = tmp_path / "ecd"
    (ecd / "images").mkdir(parents=True)
    (ecd / "events.txt").write_text(text_lines(ev, True))
    t0 = int(ev.t[0])
    lines = []
    for k in range(3):
        iio.imwrite(ecd / "images" / f"frame_{k:08d}.png", np.full((260, 346), 40 * k, np.uint8))
        t = t0 + k * 5_000_000
        lines.append(f"{t // 10**9}.{t % 10**9:09d} images/frame_{k:08d}.png")
    (ecd / "images.txt").write_text("\n".join(lines) + "\n")
    (ecd / "imu.txt").write_text(f"{t0 / 1e9:.6f} 0.1 0.2 9.8 0.01 0.02 0.03\n")
    got, _, rec = read_all(ecd, width=346, height=260)
    assert same_events(got, ev) and rec.has_frames and rec.has_imu
    frames = list(rec.frames())
    assert [f.t_ns for f in frames] == [t0 + k * 5_000_000 for k in range(3)] and frames[2].image[0, 0] == 80
    imu = next(iter(rec.imu()))
    assert imu.t.tolist() == [t0 // 1000 * 1000] and imu.accel[0].tolist() == [0.1, 0.2, 9.8]


def test_aedat4_streams_frames_triggers_and_imu():
    from seal_ros.io.aedat import read_aedat4

    whole = read_aedat4(DAVIS_AEDAT)
    got, tr, rec = read_all(DAVIS_AEDAT, chunk_events=3000)
    assert same_events(got, whole.events) and tr.t.tolist() == sorted(whole.triggers.t.tolist())
    assert [f.t_ns for f in rec.frames()] == [f.t_ns for f in whole.frames]
    imu = list(rec.imu())
    assert sum(len(a) for a in imu) == 130 and abs(float(np.median(imu[0].accel[:, 1])) + 9.8) < 1.5
