"""``seal-ros record-pairs`` / ``pairs-info``: the DAVIS AEDAT4 file and a rosbag2 bag with events + images."""
from __future__ import annotations

import json

import numpy as np
from conftest import DAVIS_AEDAT, EVT3_BAG

from seal_ros.cli import main as cli
from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.io.aedat import read_aedat4
from seal_ros.io.bags import BagReader, _typestore
from seal_ros.recorder.reader import PairDataset, PairsDataset


def test_davis_file_gives_three_pairs_matching_its_frames(tmp_path, capsys):
    out = tmp_path / "davis"
    assert cli(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] and summary["pairs"] == 3 and summary["flags"]["exposure_known"] == 3
    rec = read_aedat4(DAVIS_AEDAT)
    assert summary["events"] == len(rec.events) and (summary["width"], summary["height"]) == (346, 260)
    tu = rec.events.t // 1000
    with PairsDataset(out) as ds:
        for k, frame in enumerate(rec.frames):
            img, ev, meta = ds.pair(k)
            np.testing.assert_array_equal(img, frame.image)
            assert (meta["t0_us"], meta["t1_us"]) == (frame.exposure_start_ns // 1000, frame.exposure_end_ns // 1000)
            sel = (tu >= meta["t0_us"]) & (tu < meta["t1_us"])
            assert meta["event_count"] == int(sel.sum()) > 0
            np.testing.assert_array_equal(ev.x, rec.events.x[sel])
            np.testing.assert_array_equal(ev.t // 1000, tu[sel])
    assert len(PairDataset(out)) == 3
    # pairs-info validates; a second run into the same directory is refused
    assert cli(["pairs-info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 3
    assert cli(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(out)]) == 2
    assert "not an empty directory" in capsys.readouterr().err
    # the window instead of the exposure: 10 ms before the first frame precedes the first event
    assert cli(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(tmp_path / "w"),
                "--no-exposure", "--window-ms", "10"]) == 0
    s2 = json.loads(capsys.readouterr().out)
    assert s2["flags"]["exposure_known"] == 0 and s2["pairs"] == 2
    assert s2["skipped"] == {"before_first_event": 1}


def _bag_with_images(path, n_packets=300, period_ns=40_000_000):
    """A rosbag2 bag with the first packets of the EVT3 bag and mono8 images stamped in the event clock."""
    from rosbags.rosbag2 import Writer

    store = _typestore()
    Image = store.types["sensor_msgs/msg/Image"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    stream, events = EventStream(), []
    with BagReader(EVT3_BAG) as src, Writer(path, version=8) as w:
        topic = src.topic_of_type("event_camera_msgs/msg/EventPacket")
        ce = w.add_connection(topic, "event_camera_msgs/msg/EventPacket", typestore=store)
        ci = w.add_connection("/camera/image", "sensor_msgs/msg/Image", typestore=store)
        packets = []
        for k, (t, msg) in enumerate(src.messages(topic)):
            if k >= n_packets:
                break
            packets.append((t, msg))
        from seal_ros.events.packet import EventPacket

        for t, msg in packets:
            events.append(stream.push(EventPacket.from_msg(msg)).events)
        ev = EventArray.concatenate(events)
        stamps = list(range(int(ev.t[0]) + 30_000_000, int(ev.t[-1]), period_ns))
        items = [(t, "e", msg) for t, msg in packets]
        t_first = packets[0][0]
        for k, st in enumerate(stamps):  # recorded when they "arrive": 10 ms after the stamp
            img = np.full((12, 16), k * 5 % 256, np.uint8)
            msg = Image(header=Header(stamp=Time(sec=st // 10**9, nanosec=st % 10**9), frame_id="cam"),
                        height=12, width=16, encoding="mono8", is_bigendian=0, step=16, data=img.reshape(-1))
            items.append((t_first + (st - int(ev.t[0])) + 10_000_000, "i", msg))
        for t, kind, msg in sorted(items, key=lambda it: it[0]):
            if kind == "e":
                w.write(ce, t, store.serialize_cdr(msg, "event_camera_msgs/msg/EventPacket"))
            else:
                w.write(ci, t, store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    return ev, stamps


def test_bag_with_events_and_images(tmp_path, capsys):
    bag = tmp_path / "bag"
    ev, stamps = _bag_with_images(bag)
    out = tmp_path / "pairs"
    assert cli(["record-pairs", str(bag), str(bag), "--out", str(out), "--window-ms", "25"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] and summary["events"] == len(ev)
    tu = ev.t // 1000
    with PairsDataset(out) as ds:
        assert [p["image_t_us"] for p in ds.pairs] == [s // 1000 for s in stamps]
        for k, p in enumerate(ds.pairs):
            assert p["event_count"] == int(((tu >= p["t0_us"]) & (tu < p["t1_us"])).sum())
            assert ds.image(k)[0, 0] == k * 5 % 256
    # errors are one line, exit 2
    assert cli(["record-pairs", str(tmp_path / "nope"), str(bag), "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli(["record-pairs", str(bag), str(bag), "--out", str(tmp_path / "y"), "--image-topic", "/missing"]) == 2
    assert "/missing" in capsys.readouterr().err
    assert cli(["pairs-info", str(tmp_path)]) == 2
