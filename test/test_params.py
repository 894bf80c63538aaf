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


def test_invalid_start_up_values_stop_the_node_with_one_line(ros_context):
    import pytest
    from rclpy.parameter import Parameter

    from seal_ros.nodes.params import ParameterError

    cases = [
        ({"queue": 1.5}, "invalid start-up value queue=1.5: queue=1.5 is a number; it must be an integer in [1, 100]"),
        ({"rate_hz": "abc"}, "rate_hz='abc' is a string; it must be a number in [0.1, 1000.0]"),
        ({"rate_hz": 5000.0}, "rate_hz=5000.0"),
        ({"method": "bogus"}, "method='bogus' is not one of ['hpf', 'firenet']"),  # no silent fallback
        ({"names": ["x", "x"]}, "names must be unique"),
    ]
    for k, (given, needle) in enumerate(cases):
        node = Node(f"param_start_{k}", context=ros_context,
                    parameter_overrides=[Parameter(n, value=v) for n, v in given.items()])
        try:
            with pytest.raises(ParameterError) as info:
                ParamSet(node, SPECS)
            line = str(info.value)
            assert "\n" not in line and line.startswith(f"param_start_{k}: invalid start-up value ")
            assert needle in line and "(rule: " in line, line
        finally:
            node.destroy_node()
    # an integer for a floating-point parameter is that number
    node = Node("param_start_int", context=ros_context, parameter_overrides=[Parameter("rate_hz", value=50)])
    try:
        params = ParamSet(node, SPECS)
        assert params["rate_hz"] == 50.0 and isinstance(params["rate_hz"], float)
        assert node.get_parameter("rate_hz").value == 50.0
    finally:
        node.destroy_node()


def test_path_parameters_are_expanded_when_read(ros_context, monkeypatch, tmp_path):
    from rclpy.parameter import Parameter

    monkeypatch.setenv("HOME", str(tmp_path))
    node = Node("param_paths", context=ros_context, parameter_overrides=[Parameter("models_dir", value="~/m")])
    try:
        params = ParamSet(node, [Param("models_dir", "", "d", path=True)])
        assert params["models_dir"] == f"{tmp_path}/m"
        assert node.get_parameter("models_dir").value == "~/m"  # what was given, as ros2 param get shows
    finally:
        node.destroy_node()
