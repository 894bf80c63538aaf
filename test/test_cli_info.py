"""``seal-ros info``: one JSON object naming versions, ROS pieces and model files."""
import json
import os
import subprocess
import sys


def test_info_reports_versions_ros_pieces_and_models(tmp_path):
    env = {**os.environ, "SEAL_ROS_MODELS": str(tmp_path)}
    (tmp_path / "seal.pt").write_bytes(b"x" * 10)
    res = subprocess.run([sys.executable, "-m", "seal_ros", "info"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["libraries"]["torch"] and info["libraries"]["segment_anything"]
    pk = info["ros"]["packages"]
    assert pk["rclpy"] and pk["event_camera_msgs"] and info["ros"]["seal_ros_messages"]
    # Not installable from PyPI here; the checkout's launch/ folder must not count as the package.
    assert pk["launch"] is False and pk["cv_bridge"] is False
    files = info["models"]["files"]
    assert info["models"]["dir"] == str(tmp_path)
    assert files["seal.pt"]["state"] == "unverified" and files["seal.pt"]["required"]
    assert files["ViT-L-14-336px.pt"]["state"] == "missing"
    assert info["models"]["seal_ready"] is False
