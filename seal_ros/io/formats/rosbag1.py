"""ROS 1 bags (``#ROSBAG V2.0``) of event topics; see :mod:`.bag`."""
from __future__ import annotations

from pathlib import Path

from seal_ros.io.bags import Ros1BagReader
from seal_ros.io.formats.bag import BagRecording
from seal_ros.io.recordings import FormatSpec

MAGIC = b"#ROSBAG V2.0"


class Rosbag1Recording(BagRecording):
    format = "rosbag1"
    reader_cls = Ros1BagReader


def _detect(path: Path, head) -> bool:
    return head is not None and head.startswith(MAGIC)


FORMAT = FormatSpec(
    name="rosbag1", description="ROS 1 bag", detect=_detect, open=Rosbag1Recording,
    reads="`dvs_msgs/EventArray` (rpg_dvs_ros), `prophesee_event_msgs/EventArray`, legacy "
          "`event_array_msgs/EventArray`, `event_camera_msgs/EventPacket`; `sensor_msgs/Image` frames, "
          "`sensor_msgs/Imu`")
