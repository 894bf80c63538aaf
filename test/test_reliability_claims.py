"""README reliability claims that had no test of their own (the audit of issue 13's "Done when")."""
from __future__ import annotations

import numpy as np
from test_node_segmenter import _box_prompt, _prompt_array, packets, rig, spin_feeding  # noqa: F401 - fixtures

from conftest import spin_until
from seal_ros.events.packet import EventPacket
from seal_ros.events.source import WindowSource
from seal_ros.events.stream import DEFAULT_MAX_SENSOR_SIDE, EventStream


def test_the_default_sensor_bound_takes_every_current_sensor_and_refuses_beyond_2048():
    """README: packets declaring more than max_sensor_size are refused (dropped_sensor_size); the
    default (2048) is above every current sensor and what evt3/evt2/libcaer_cmp can address."""
    assert DEFAULT_MAX_SENSOR_SIDE == 2048
    s = EventStream()
    payload = np.array([0x8000, 0x6000, 0x0000, 0x2000], "<u2").view(np.uint8)  # one event at (0, 0)
    for seq, (w, h) in enumerate([(1280, 960), (1280, 720), (2048, 2048), (2049, 480), (640, 8192)]):
        r = s.push(EventPacket("evt3", w, h, seq, 0, payload))
        assert (r.error is None) == (max(w, h) <= 2048), (w, h, r.error)
    c = s.counters()
    assert c["dropped_sensor_size"] == 2 and c["bad_packets"] == 2
    assert "raise max_sensor_size" in s.last_error
    # and through the nodes' path: no window of a refused size
    src = WindowSource("count", count=1)
    assert src.push(EventPacket("evt3", 4096, 4096, 1, 0, payload)).windows == []
    assert src.counters()["dropped_sensor_size"] == 1


def test_an_unreadable_recording_is_one_line_and_status_2(tmp_path, capsys, monkeypatch):
    """README: on an unreadable file every command prints one line, status 2 (the tests run as root,
    which reads any file: the reader's PermissionError is raised where the file would be opened)."""
    import seal_ros.io.recordings as recordings
    from seal_ros.cli import main

    path = tmp_path / "locked.raw"
    path.write_bytes(b"% evt 3.0\n")

    def refuse(p, *a, **k):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(recordings, "open_recording", refuse)
    for argv in (["decode-stats", str(path)], ["reconstruct", str(path), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == f"seal-ros {argv[0]}: error: {path}: Permission denied\n"


def test_segmenter_without_weights_counts_bad_prompts_and_still_publishes_the_plane(rig, ros_executor):
    """README: bad prompts are counted and logged and the node keeps running; without the weights it
    still publishes the event image, plane and overlay, and never instances."""
    from nav_msgs.msg import OccupancyGrid
    from sensor_msgs.msg import Image

    from seal_ros.msg import Prompt, PromptArray
    from seal_ros.nodes.common import RESULT_QOS, SENSOR_QOS
    from seal_ros.nodes.seal_segmenter import PLANE_QOS

    node, helper, feeder, got = rig(model="vit_b")
    planes, overlays, images = [], [], []
    helper.create_subscription(OccupancyGrid, "/seal_segmenter/plane", planes.append, PLANE_QOS)
    helper.create_subscription(Image, "/seal_segmenter/overlay", overlays.append, SENSOR_QOS)
    helper.create_subscription(Image, "/seal_segmenter/event_image", images.append, SENSOR_QOS)
    pub = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    inverted = _box_prompt(1, (300, 50, 100, 200))
    nan = _box_prompt(2, (0, 0, 10, 10))
    nan.box[2] = float("nan")
    for bad in (inverted, nan, Prompt(id=3)):
        pub.publish(_prompt_array(bad))
    assert spin_feeding(ros_executor, feeder, lambda: node.errors.counts["bad_prompt"] == 3, 15)
    assert len(node.store) == 0
    pub.publish(_prompt_array(_box_prompt(4, (100, 80, 300, 260))))  # a good one is taken
    assert spin_feeding(ros_executor, feeder, lambda: len(node.store) == 1 and planes and len(images) >= 3
                        and overlays, 30)
    assert node.runner.state == "missing" and got == []  # no instances without the weights
    assert (planes[-1].info.width, planes[-1].info.height) == (640, 480)
    # and the count is a diagnostics key
    assert spin_feeding(ros_executor, feeder, lambda: node.diagnostics.last is not None
                        and node.diagnostics.last[2].get("err_bad_prompt") == 3, 10)
