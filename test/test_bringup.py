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


def _executables(calls):
    """(package, executable) of every Node(...) and of the launch file's own node("exe", ...) helper."""
    out = []
    for call in calls:
        fn = getattr(call.func, "id", None)
        if fn == "Node":
            exe = _kw(call, "executable")
            if isinstance(exe, ast.Constant):
                out.append((ast.literal_eval(_kw(call, "package")), exe.value, call))
        elif fn == "node" and call.args and isinstance(call.args[0], ast.Constant):
            out.append(("seal_ros", call.args[0].value, call))
    return out


LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_name_only_existing_things(launch_file):
    tree, calls = _launch_calls(launch_file)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    assert len(launch_file.read_text().splitlines()) <= 90, "launch files stay thin"
    cmake = (ROOT / "CMakeLists.txt").read_text()
    exes = _executables(calls)
    assert exes, "no Node actions"
    for pkg, exe, call in exes:
        if pkg == "seal_ros":
            assert (ROOT / "executables" / exe).is_file(), exe
            assert f"executables/{exe}" in cmake, f"{exe} not installed by CMakeLists.txt"
            assert exe in NODES, exe
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


def _args(launch_file):
    return ast.literal_eval(re.search(r"ARGS = (\{.*?\n\})", launch_file.read_text(), re.S).group(1))


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_arguments_users_expect(launch_file):
    args = _args(launch_file)
    src = launch_file.read_text()
    assert {"namespace", "events_topic", "image_topic", "params_file", "use_sim_time", "log_level"} <= set(args)
    # a user's YAML goes over the package's, the non-empty arguments over both
    assert 'files += [expand_path(given["params_file"])]' in src and "parameters=files + [" in src
    assert '["--log-level", arg["log_level"]]' in src or 'ros_args = ["--log-level", arg["log_level"]]' in src
    assert '"use_sim_time": arg["use_sim_time"].lower() == "true"' in src
    assert args["use_sim_time"][0] == "false" and args["log_level"][0] == "info"
    # an empty argument means "the config's value": every other argument names a real parameter
    params = {spec.name for node in NODES for spec in node_params(node)}
    for name, (default, _) in args.items():
        if name in ("namespace", "params_file", "use_sim_time", "log_level", "rviz", "record"):
            continue
        assert name in params, f"{launch_file.name}: argument {name} is no node parameter"
        assert default == "", f"{launch_file.name}: {name} overrides the config by default"


def test_perception_launch_arguments_and_optional_rviz():
    path = ROOT / "launch" / "perception.launch.py"
    args = _args(path)
    assert {"model", "device", "models_dir", "vocabulary", "image_reliability", "rviz", "record"} <= set(args)
    src = path.read_text()
    tree, calls = _launch_calls(path)
    # RViz2 is optional: its Node only after looking the package up, a warning when it is absent
    rviz = [c for pkg, _, c in _executables(calls) if pkg == "rviz2"]
    assert len(rviz) == 1
    assert 'get_package_share_directory("rviz2")' in src and "except PackageNotFoundError" in src
    assert src.index("except PackageNotFoundError") < src.index('package="rviz2"')
    assert "LogInfo(msg=\"WARNING: rviz:=true but rviz2 is not installed" in src


def test_default_topics_are_relative_so_a_namespace_moves_the_graph():
    cfg = yaml.safe_load(CONFIG.read_text())
    for node in NODES:
        values = cfg[f"/**/{node}"]["ros__parameters"]
        assert values["events_topic"] == "event_camera/events", node
    assert cfg["/**/pair_recorder"]["ros__parameters"]["image_topic"] == "camera/image_raw"


def test_perception_launch_remaps_to_topics_the_nodes_use():
    src = (ROOT / "launch" / "perception.launch.py").read_text()
    recon = (ROOT / "seal_ros" / "nodes" / "event_reconstructor.py").read_text()
    seg = (ROOT / "seal_ros" / "nodes" / "seal_segmenter.py").read_text()
    assert '"~/frames"' in src and '"~/frames"' in recon
    assert '"~/image_in"' in src and '"~/image_in"' in seg
    assert '"event_reconstructor/image"' in src and '"~/image"' in recon


def test_the_cli_is_installed_as_a_ros2_run_executable():
    import os
    import subprocess
    import sys

    cmake = (ROOT / "CMakeLists.txt").read_text()
    exe = ROOT / "executables" / "seal-ros"
    assert os.access(exe, os.X_OK) and "executables/seal-ros" in cmake
    assert "install(PROGRAMS executables/seal-ros DESTINATION bin)" in cmake
    # colcon's copy (scripts/setup-env builds the package with colcon) runs
    installed = ROOT / ".build" / "install" / "seal_ros" / "lib" / "seal_ros" / "seal-ros"
    assert installed.read_bytes() == exe.read_bytes()
    res = subprocess.run([sys.executable, str(installed), "models", "list", "--dir", "/nonexistent"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "seal.pt" in res.stdout, res.stderr


def test_readme_parameter_tables_are_current():
    from seal_ros.nodes.config_yaml import README, update_readme

    text = README.read_text()
    for node in NODES:
        assert f"<!-- PARAMS:{node} -->" in text, f"README lacks {node}'s parameter table"
    assert update_readme(text) == text, (
        "README parameter tables drifted: run scripts/with-env python -m seal_ros.nodes.config_yaml --write")
