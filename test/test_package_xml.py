"""package.xml against what seal_ros really imports, and against ROS 2 Jazzy's rosdep database.

The keys were checked against ros/rosdistro (rosdep/python.yaml, rosdep/base.yaml
and jazzy/distribution.yaml at commit 8468e88ccd52, 2026-08-22): every python3-*
key below resolves on Ubuntu Noble, every ROS package is released for Jazzy.
Packages without a key there are pip-only (seal_ros/deps.py, README).
"""
import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from seal_ros.deps import PIP_EXTRAS, PIP_ONLY

ROOT = Path(__file__).resolve().parents[1]

# rosdep keys of ROS 2 Jazzy (rosdistro 8468e88ccd52) that seal_ros may use, by import name.
ROSDEP_PYTHON = {
    "numpy": "python3-numpy", "yaml": "python3-yaml", "h5py": "python3-h5py", "cv2": "python3-opencv",
    "imageio": "python3-imageio", "skimage": "python3-skimage", "sklearn": "python3-sklearn",
    "tqdm": "python3-tqdm", "matplotlib": "python3-matplotlib", "torch": "python3-torch",
    "torchvision": "python3-torchvision", "numba": "python3-numba", "llvmlite": "python3-numba",
    "scipy": "python3-scipy", "PIL": "python3-pil", "pytest": "python3-pytest",
}
# ROS packages released for Jazzy (jazzy/distribution.yaml) that seal_ros may use.
JAZZY_PACKAGES = {
    "rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs",
    "visualization_msgs", "nav_msgs", "diagnostic_msgs", "event_camera_msgs", "launch", "launch_ros",
    "ament_index_python", "ament_cmake", "ament_cmake_python", "rosidl_default_generators",
    "rosidl_default_runtime", "rviz2", "cv_bridge", "message_filters",
}
# Declared without being imported by Python code: the build, the generated messages' runtime.
NOT_IMPORTED = {"ament_cmake", "ament_cmake_python", "rosidl_default_generators", "rosidl_default_runtime",
                "python3-pytest"}


def _declared() -> dict:
    root = ET.parse(ROOT / "package.xml").getroot()
    return {el.text.strip(): el.tag for el in root if el.tag.endswith("depend")}


def _imports(paths) -> dict:
    """top-level imported module -> files importing it (stdlib and seal_ros itself excluded)."""
    out: dict = {}
    for f in paths:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "seal_ros":
                    out.setdefault(top, set()).add(str(f.relative_to(ROOT)))
    return out


def _key(module: str):
    if module in ROSDEP_PYTHON:
        return ROSDEP_PYTHON[module]
    if module in JAZZY_PACKAGES:
        return module
    return None


def test_every_declared_key_resolves_in_jazzy():
    for key in _declared():
        assert key in set(ROSDEP_PYTHON.values()) | JAZZY_PACKAGES, f"package.xml: {key} has no Jazzy rosdep key"


def test_package_xml_matches_the_imports():
    sources = list((ROOT / "seal_ros").rglob("*.py")) + list((ROOT / "launch").glob("*.py"))
    imports = _imports(sources)
    declared = _declared()
    for module, files in sorted(imports.items()):
        if module in PIP_ONLY or module in PIP_EXTRAS:
            continue
        key = _key(module)
        assert key is not None, f"{module} (imported by {sorted(files)[0]}) has no rosdep key and is not in PIP_ONLY"
        assert key in declared, f"{module} is imported ({sorted(files)[0]}) but {key} is not in package.xml"
    used = {_key(m) for m in imports} - {None}
    for msg in (ROOT / "msg").glob("*.msg"):  # the interfaces' field types (std_msgs/Header, ...)
        used |= set(re.findall(r"^\s*(\w+)/\w+", msg.read_text(), re.M))
    for key in declared:
        if key in NOT_IMPORTED:
            continue
        assert key in used, f"package.xml declares {key}, but nothing in seal_ros/ or launch/ imports it"


def test_optional_tools_are_not_hard_dependencies():
    declared = _declared()
    assert "rviz2" not in declared  # a GUI on headless robots; perception.launch.py runs without it
    text = (ROOT / "package.xml").read_text()
    # every pip-only package is named in package.xml's comment, the README's pip step and requirements
    readme = (ROOT / "README.md").read_text()
    pip_line = next(line for line in readme.splitlines() if line.startswith("pip install") and "rosdep" in line)
    reqs = (ROOT / "requirements" / "env.txt").read_text()
    for module, pip in PIP_ONLY.items():
        assert pip in text, f"package.xml does not name the pip-only {pip}"
        assert re.search(rf"\b{re.escape(pip)}\b", pip_line), f"the README's pip step lacks {pip}"
        assert re.search(rf"^{re.escape(pip)}\b", reqs, re.M), f"requirements/env.txt lacks {pip}"


HIDE = "import sys\nfor m in {mods!r}: sys.modules[m] = None\n"


def _run_hidden(code: str):
    import subprocess

    src = HIDE.format(mods=sorted(PIP_ONLY)) + code
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=180, cwd=ROOT)


def test_pip_only_packages_are_imported_lazily_with_a_one_line_message(data_dir):
    """Without any pip-only package the nodes' modules and the CLI load; a command that needs one
    says which pip command installs it, in one line, exit 2."""
    res = _run_hidden(
        "import seal_ros.nodes.event_reconstructor, seal_ros.nodes.seal_segmenter, seal_ros.nodes.pair_recorder\n"
        "from seal_ros.cli import main\n"
        f"sys.exit(main(['decode-stats', {str(data_dir / 'evt3_640x480')!r}]))\n")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install rosbags" in lines[0], res.stderr
