"""rosbag2 bags (a bag directory, or one .mcap / .db3 file) of event topics; see :mod:`.bag`."""
from __future__ import annotations

from pathlib import Path

from seal_ros.io.bags import STORAGE_SUFFIXES, BagReader
from seal_ros.io.formats.bag import BagRecording
from seal_ros.io.recordings import FormatSpec

MCAP_MAGIC = b"\x89MCAP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class Rosbag2Recording(BagRecording):
    format = "rosbag2"
    reader_cls = BagReader


def _detect(path: Path, head) -> bool:
    if head is None:
        return (path / "metadata.yaml").is_file() or any(p.suffix in STORAGE_SUFFIXES for p in path.iterdir())
    return head.startswith(MCAP_MAGIC) or (head.startswith(SQLITE_MAGIC) and path.suffix == ".db3")


FORMAT = FormatSpec(
    name="rosbag2", description="rosbag2 (MCAP or sqlite3)", detect=_detect, open=Rosbag2Recording,
    reads="`event_camera_msgs/EventPacket` (any encoding), legacy `event_array_msgs/EventArray`, "
          "`dvs_msgs`/`prophesee_event_msgs` `EventArray`; `sensor_msgs/Image` frames, `sensor_msgs/Imu`")
