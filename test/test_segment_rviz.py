"""rviz/seal.rviz matches what seal_segmenter publishes (topics, QoS, frame) and sets up Publish Point;
its topics are relative, so RViz2 started in the nodes' namespace shows that namespace's segmenter."""
import ast
import re
from pathlib import Path

import yaml

RVIZ = Path(__file__).resolve().parents[1] / "rviz" / "seal.rviz"


def _params():
    from seal_ros.nodes.seal_segmenter import PARAMS  # (re-exported from segmenter_params)

    return {p.name: p.default for p in PARAMS}


def test_rviz_config_matches_the_node():
    cfg = yaml.safe_load(RVIZ.read_text())["Visualization Manager"]
    params = _params()
    assert cfg["Global Options"]["Fixed Frame"] == params["plane_frame"]
    displays = {d["Class"]: d for d in cfg["Displays"]}
    plane = displays["rviz_default_plugins/Map"]
    assert plane["Topic"]["Value"] == "seal_segmenter/plane"
    assert plane["Color Scheme"] == params["plane_encoding"]  # 'raw' grey levels
    # the node's plane QoS is reliable + transient local: any subscriber QoS matches
    assert plane["Topic"]["Reliability Policy"] == "Reliable"
    image = displays["rviz_default_plugins/Image"]
    assert image["Topic"]["Value"] == "seal_segmenter/overlay"
    assert image["Topic"]["Reliability Policy"] == "Best Effort"  # the node publishes images best-effort
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "seal_segmenter/markers"
    tools = {t["Class"]: t for t in cfg["Tools"]}
    point = tools["rviz_default_plugins/PublishPoint"]
    assert point["Topic"]["Value"] == "clicked_point" and point["Single click"] is False
    view = cfg["Views"]["Current"]
    assert view["Class"] == "rviz_default_plugins/TopDownOrtho"


def test_node_qos_matches_the_rviz_choices():
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    from seal_ros.nodes.common import SENSOR_QOS
    from seal_ros.nodes.seal_segmenter import PLANE_QOS

    assert PLANE_QOS.reliability == ReliabilityPolicy.RELIABLE
    assert PLANE_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert SENSOR_QOS.reliability == ReliabilityPolicy.BEST_EFFORT


def _topics(node):
    """Every topic value in the RViz2 config (displays, their update topics, tools)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Topic", "Update Topic") and isinstance(value, dict):
                yield value["Value"]
            else:
                yield from _topics(value)
    elif isinstance(node, list):
        for item in node:
            yield from _topics(item)


def test_rviz_topics_resolve_in_the_namespace_of_the_nodes():
    """Relative names: RViz2 in namespace robot1 subscribes /robot1/seal_segmenter/..., publishes clicks
    on /robot1/clicked_point, and the segmenter there listens on its relative clicked_point."""
    cfg = yaml.safe_load(RVIZ.read_text())["Visualization Manager"]
    topics = list(_topics(cfg))
    assert len(topics) == 5 and all(t and not t.startswith(("/", "~")) for t in topics), topics
    seg = (RVIZ.parents[1] / "seal_ros" / "nodes" / "seal_segmenter.py").read_text()
    # the segmenter's private topics (~/x of node seal_segmenter) and its relative click topic
    for t in topics:
        node, _, name = t.partition("/")
        if name:
            assert node == "seal_segmenter" and (f'"~/{name}"' in seg or name.endswith("_updates")), t
    assert 'create_subscription(PointStamped, "clicked_point"' in seg


def test_perception_launch_starts_rviz_in_the_nodes_namespace():
    """RViz2 is appended to the action list that PushRosNamespace opens, like the nodes."""
    src = (RVIZ.parents[1] / "launch" / "perception.launch.py").read_text()
    fn = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name == "_nodes")
    body = ast.get_source_segment(src, fn)
    assert re.search(r'actions = \[PushRosNamespace\(arg\["namespace"\]\)\] if arg\["namespace"\] else \[\]', body)
    assert re.search(r'actions\.append\(Node\(package="rviz2"', body)
    # nothing between the namespace and RViz2 resets it (no GroupAction, no second PushRosNamespace)
    assert body.count("PushRosNamespace") == 1 and "GroupAction" not in body
