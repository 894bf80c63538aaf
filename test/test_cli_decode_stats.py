"""``seal-ros decode-stats`` on the shared recordings, and its one-line errors."""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import EVT3_BAG, LIBCAER_CMP_BAG


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "seal_ros", *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("bag, messages, encoding, width, height", [
    (EVT3_BAG, 517, "evt3", 640, 480),
    (LIBCAER_CMP_BAG, 100, "libcaer_cmp", 346, 260),  # MCAP with empty storage_identifier
    (LIBCAER_CMP_BAG / "test_events_2_0.mcap", 100, "libcaer_cmp", 346, 260),  # the storage file itself
])
def test_decode_stats_reads_shared_bags(bag, messages, encoding, width, height):
    res = run_cli("decode-stats", bag)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["messages"], out["encoding"], out["width"], out["height"]) == (messages, encoding, width, height)
    assert out["topic"] == "/event_camera/events"
    assert out["first_stamp_ns"] < out["last_stamp_ns"]


def _bag_with_unknown_type(path):
    """A bag whose only topic has a type no typestore knows."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg("uint32 value\n", "mystery_msgs/msg/Thing"))
    Thing = store.types["mystery_msgs/msg/Thing"]
    with Writer(path, version=8) as w:
        conn = w.add_connection("/event_camera/events", "mystery_msgs/msg/Thing", typestore=store)
        w.write(conn, 1, store.serialize_cdr(Thing(value=1), "mystery_msgs/msg/Thing"))


def test_decode_stats_errors(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope", "no such file or directory")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(EVT3_BAG, corrupt)
    (corrupt / "test_events_1.db3").write_bytes(b"not a database" * 100)
    cases["corrupt"] = (corrupt, "cannot")
    unknown = tmp_path / "unknown"
    _bag_with_unknown_type(unknown)
    cases["unknown type"] = (unknown, "no topic of type event_camera_msgs/msg/EventPacket")
    for name, (bag, needle) in cases.items():
        before = sorted(p.name for p in tmp_path.rglob("*"))
        res = run_cli("decode-stats", bag)
        assert res.returncode == 2, name
        assert res.stdout == "", name
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (name, res.stderr)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, f"{name}: something was written"
    res = run_cli("decode-stats", EVT3_BAG, "--topic", "/nothing")
    assert res.returncode == 2 and "no topic '/nothing'" in res.stderr and res.stdout == ""
