"""rviz/seal.rviz matches what seal_segmenter publishes (topics, QoS, frame) and sets up Publish Point."""
from pathlib import Path

import yaml

RVIZ = Path(__file__).resolve().parents[1] / "rviz" / "seal.rviz"


def _params():
    from seal_ros.nodes.seal_segmenter import PARAMS

    return {p.name: p.default for p in PARAMS}


def test_rviz_config_matches_the_node():
    cfg = yaml.safe_load(RVIZ.read_text())["Visualization Manager"]
    params = _params()
    assert cfg["Global Options"]["Fixed Frame"] == params["plane_frame"]
    displays = {d["Class"]: d for d in cfg["Displays"]}
    plane = displays["rviz_default_plugins/Map"]
    assert plane["Topic"]["Value"] == "/seal_segmenter/plane"
    assert plane["Color Scheme"] == params["plane_encoding"]  # 'raw' grey levels
    # the node's plane QoS is reliable + transient local: any subscriber QoS matches
    assert plane["Topic"]["Reliability Policy"] == "Reliable"
    image = displays["rviz_default_plugins/Image"]
    assert image["Topic"]["Value"] == "/seal_segmenter/overlay"
    assert image["Topic"]["Reliability Policy"] == "Best Effort"  # the node publishes images best-effort
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/seal_segmenter/markers"
    tools = {t["Class"]: t for t in cfg["Tools"]}
    point = tools["rviz_default_plugins/PublishPoint"]
    assert point["Topic"]["Value"] == "/clicked_point" and point["Single click"] is False
    view = cfg["Views"]["Current"]
    assert view["Class"] == "rviz_default_plugins/TopDownOrtho"


def test_node_qos_matches_the_rviz_choices():
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    from seal_ros.nodes.common import SENSOR_QOS
    from seal_ros.nodes.seal_segmenter import PLANE_QOS

    assert PLANE_QOS.reliability == ReliabilityPolicy.RELIABLE
    assert PLANE_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert SENSOR_QOS.reliability == ReliabilityPolicy.BEST_EFFORT
