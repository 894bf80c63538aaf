"""Bringup without the launch package: config/perception.yaml matches the nodes'
declared parameters, and the launch files name only things that exist."""
import ast
import re
from pathlib import Path

import pytest
import yaml

from seal_ros.nodes.config_yaml import CONFIG, NODES, node_params, render

ROOT = Path(__file__).resolve().parents[1]


def test_config_file_is_rendered_from_the_specs():
    assert CONFIG.read_text() == render(), (
        "config/perception.yaml drifted from the nodes' PARAMS: "
        "run scripts/with-env python -m seal_ros.nodes.config_yaml --write")


def test_every_yaml_key_is_declared_with_its_type_and_range(ros_context):
    from rclpy.parameter import Parameter

    cfg = yaml.safe_load(CONFIG.read_text())
    assert set(cfg) == {f"/**/{n}" for n in NODES}
    for node_name, module in NODES.items():
        values = cfg[f"/**/{node_name}"]["ros__parameters"]
        node_cls = next(v for k, v in vars(__import__(module, fromlist=["x"])).items()
                        if k.endswith("Node") and isinstance(v, type) and v.__module__ == module)
        overrides = [Parameter(k, value=v) for k, v in values.items()]
        node = node_cls(context=ros_context, parameter_overrides=overrides)
        try:
            declared = set(node._parameters) - {"use_sim_time", "start_type_description_service"}
            assert declared == set(values), f"{node_name}: YAML keys differ from declared parameters"
            for spec in node_params(node_name):
                desc = node.describe_parameter(spec.name)
                assert desc.type == Parameter.Type.from_parameter_value(spec.default).value, spec.name
                assert node.get_parameter(spec.name).value == values[spec.name], spec.name
                if spec.range is not None and not isinstance(spec.default, bool):
                    rng = desc.floating_point_range or desc.integer_range
                    assert rng and (rng[0].from_value, rng[0].to_value) == (spec.range[0], spec.range[1]), spec.name
        finally:
            node.destroy_node()


def _launch_calls(path):
    tree = ast.parse(path.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    return tree, calls


def _kw(call, name):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


@pytest.mark.parametrize("launch_file", sorted((ROOT / "launch").glob("*.launch.py")))
def test_launch_files_name_only_existing_things(launch_file):
    tree, calls = _launch_calls(launch_file)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    cmake = (ROOT / "CMakeLists.txt").read_text()
    nodes = [c for c in calls if getattr(c.func, "id", None) == "Node"]
    assert nodes, "no Node actions"
    for call in nodes:
        pkg = ast.literal_eval(_kw(call, "package"))
        exe = ast.literal_eval(_kw(call, "executable"))
        if pkg == "seal_ros":
            assert (ROOT / "executables" / exe).is_file(), exe
            assert f"executables/{exe}" in cmake, f"{exe} not installed by CMakeLists.txt"
            assert exe in NODES, exe
            name = ast.literal_eval(_kw(call, "name"))
            assert name == exe
        else:
            assert pkg == "rviz2"
    # every share-relative path the file joins must exist in the package
    for call in calls:
        if getattr(call.func, "id", None) == "PathJoinSubstitution":
            parts = call.args[0].elts
            if getattr(parts[0].func, "id", None) == "FindPackageShare":
                rel = [ast.literal_eval(p) for p in parts[1:]]
                assert (ROOT.joinpath(*rel)).is_file(), rel
                assert f"{rel[0]}" in re.search(r"install\(DIRECTORY ([^)]*)DESTINATION share", cmake).group(1)


def test_perception_launch_remaps_to_topics_the_nodes_use():
    src = (ROOT / "launch" / "perception.launch.py").read_text()
    recon = (ROOT / "seal_ros" / "nodes" / "event_reconstructor.py").read_text()
    seg = (ROOT / "seal_ros" / "nodes" / "seal_segmenter.py").read_text()
    assert '"~/frames"' in src and '"~/frames"' in recon
    assert '"~/image_in"' in src and '"~/image_in"' in seg
    assert '"event_reconstructor/image"' in src and '"~/image"' in recon
    args = ast.literal_eval(re.search(r"ARGS = (\{.*?\n\})", src, re.S).group(1))
    assert set(args) == {"events_topic", "image_topic", "namespace", "device", "models_dir", "vocabulary",
                         "rviz", "record"}


def test_readme_parameter_tables_are_current():
    from seal_ros.nodes.config_yaml import README, update_readme

    text = README.read_text()
    for node in NODES:
        assert f"<!-- PARAMS:{node} -->" in text, f"README lacks {node}'s parameter table"
    assert update_readme(text) == text, (
        "README parameter tables drifted: run scripts/with-env python -m seal_ros.nodes.config_yaml --write")
