"""Node parameters: descriptors with ranges, and refusals with reasons through the real service."""
from rclpy.node import Node

from conftest import set_parameters
from seal_ros.nodes.params import Param, ParamSet

SPECS = [
    Param("rate_hz", 30.0, "Output rate.", range=(0.1, 1000.0)),
    Param("queue", 10, "Queue depth.", range=(1, 100)),
    Param("method", "hpf", "Method.", choices=("hpf", "firenet")),
    Param("names", ["a"], "Names.", validate=lambda v: None if len(set(v)) == len(v) else "names must be unique"),
]


def test_param_set_validates_and_applies(ros_executor, ros_context):
    changes = []
    node = Node("param_probe", context=ros_context)
    params = ParamSet(node, SPECS, on_change=lambda n, v: changes.append((n, v)))
    client_node = Node("param_client", context=ros_context)
    ros_executor.add_node(node)
    ros_executor.add_node(client_node)

    d = node.describe_parameter("rate_hz")
    assert d.floating_point_range[0].from_value == 0.1 and d.floating_point_range[0].to_value == 1000.0
    assert node.describe_parameter("queue").integer_range[0].to_value == 100
    assert "hpf" in node.describe_parameter("method").description

    ok = set_parameters(ros_executor, "/param_probe", client_node, {"rate_hz": 12.5})
    assert ok[0].successful and params["rate_hz"] == 12.5 and ("rate_hz", 12.5) in changes

    res = set_parameters(ros_executor, "/param_probe", client_node, {"method": "magic"})
    assert not res[0].successful and "not one of" in res[0].reason
    assert params["method"] == "hpf"
    res = set_parameters(ros_executor, "/param_probe", client_node, {"queue": 1000})
    assert not res[0].successful and params["queue"] == 10
    assert node.get_parameter("queue").value == 10
    res = set_parameters(ros_executor, "/param_probe", client_node, {"names": ["x", "x"]})
    assert not res[0].successful and res[0].reason == "names must be unique" and params["names"] == ["a"]
    res = set_parameters(ros_executor, "/param_probe", client_node, {"names": ["x", "y"]})
    assert res[0].successful and params["names"] == ["x", "y"]
