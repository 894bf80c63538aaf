"""seal_segmenter's compact masks, the full mask image on request, event images on the model's device and
stage timings, over real DDS (tiny random model: plumbing, not accuracy)."""
from __future__ import annotations

import numpy as np

from conftest import spin_until
from seal_ros.seal.rle import decode_rle
from test_node_segmenter import WINDOW_MS, _box_prompt, _prompt_array, packets, rig, spin_feeding  # noqa: F401

STAGES = {"event image", "backbone", "decoder+head", "message build", "publish"}


def _windows_by_end(sent):
    """Events of each window the node cut from these packets, by window end (the stamp of what it publishes)."""
    from seal_ros.events.source import IngestConfig, WindowSource

    src = WindowSource("duration", int(WINDOW_MS * 1e6), config=IngestConfig(stamp_source="sensor"))
    return {w.t1_ns: w for p in sent for w in src.push(p).windows}


def test_mask_image_option_and_event_image_on_the_model_device(rig, ros_executor):
    from sensor_msgs.msg import Image

    from seal_ros.msg import PromptArray
    from seal_ros.nodes.common import RESULT_QOS, SENSOR_QOS, stamp_to_ns
    from seal_ros.segment.event_images import make_event_image

    node, helper, feeder, got = rig(mask_image=True, event_image_on="model_device", stamp_source="sensor")
    assert node._image_device is not None and node._image_device.type == "cpu"  # torch path, on CPU tensors
    images = []
    helper.create_subscription(Image, "/seal_segmenter/event_image", images.append, SENSOR_QOS)
    pub = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: pub.get_subscription_count() > 0, 10)
    pub.publish(_prompt_array(_box_prompt(3, (100, 80, 300, 260)), _box_prompt(4, (0, 0, 640, 480))))
    assert spin_feeding(ros_executor, feeder, lambda: sum(len(a.instances) == 2 for a in got) >= 2 and len(images) >= 3)
    for arr in (a for a in got if a.instances):
        for m in arr.instances:
            assert (m.mask.width, m.mask.height, m.mask.encoding) == (640, 480, "mono8")
            dense = np.frombuffer(bytes(m.mask.data), np.uint8).reshape(480, 640)
            assert set(np.unique(dense)) <= {0, 255}
            np.testing.assert_array_equal(decode_rle(m.mask_rle, arr.height, arr.width), dense == 255)
    # the event images built with torch are the numba ones (within the stated one-level tolerance)
    windows = _windows_by_end(feeder.sent)
    for img in images:
        w = windows[stamp_to_ns(img.header.stamp)]
        ref = make_event_image("voxel", w.window.events, w.width, w.height)
        got_img = np.frombuffer(bytes(img.data), np.uint8).reshape(480, 640, 3)
        d = np.abs(got_img.astype(int) - ref)
        assert d.max() <= 1 and (d > 0).mean() < 1e-4
    assert STAGES <= set(node.last_timings) and all(v >= 0 for v in node.last_timings.values())

    # the option is live: off again, the image field empties and the run lengths stay
    from conftest import set_parameters

    (res,) = set_parameters(ros_executor, "/seal_segmenter", helper, {"mask_image": False})
    assert res.successful
    n = len(got)
    assert spin_feeding(ros_executor, feeder, lambda: any(a.instances and a.instances[0].mask.width == 0
                                                          for a in got[n:]))
    last = next(a for a in reversed(got) if a.instances and a.instances[0].mask.width == 0)
    assert all(len(m.mask.data) == 0 and sum(m.mask_rle) == 640 * 480 for m in last.instances)
