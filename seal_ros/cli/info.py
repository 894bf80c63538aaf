"""``seal-ros info``: versions, which ROS pieces and model files are present."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform


def _version(module: str):
    if importlib.util.find_spec(module) is None:
        return None
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return f"import failed: {exc.__class__.__name__}"
    return str(getattr(mod, "__version__", "present"))


def _present(module: str) -> bool:
    """A real package, not a same-named folder on sys.path (e.g. this checkout's launch/)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def _models() -> dict:
    from seal_ros.models.manifest import default_models_dir, load_manifest
    from seal_ros.models.verify import verify_entry

    models_dir = default_models_dir()
    files = {}
    for entry in load_manifest():
        status = verify_entry(entry, models_dir, check_sha=False)
        files[entry.file] = {"state": status.state, "required": entry.required}
    return {"dir": str(models_dir), "files": files,
            "seal_ready": all(f["state"] in ("ok", "unverified") for f in files.values() if f["required"])}


def collect() -> dict:
    import seal_ros

    libs = ["numpy", "torch", "torchvision", "segment_anything", "open_clip", "rosbags", "numba", "h5py",
            "aedat", "cv2", "skimage", "sklearn", "pycocotools", "tqdm", "yaml"]
    ros = ["rclpy", "event_camera_msgs", "launch", "launch_ros", "cv_bridge", "message_filters", "rosbag2_py"]
    info = {
        "seal_ros": seal_ros.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {m: _version(m) for m in libs},
        "ros": {
            "distro": os.environ.get("ROS_DISTRO"),
            "rmw": os.environ.get("RMW_IMPLEMENTATION"),
            "domain_id": os.environ.get("ROS_DOMAIN_ID"),
            "packages": {m: _present(m) for m in ros},
            "seal_ros_messages": importlib.util.find_spec("seal_ros.msg") is not None,
        },
    }
    try:
        import torch

        info["torch_devices"] = {"cuda": torch.cuda.is_available(),
                                 "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0}
    except Exception:  # noqa: BLE001
        pass
    try:  # absent pieces are reported, not fatal
        info["models"] = _models()
    except Exception as exc:  # noqa: BLE001
        info["models"] = f"unavailable ({exc.__class__.__name__}: {exc})"
    return info


def run(args) -> int:
    print(json.dumps(collect(), indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("info", help="versions, ROS pieces and model files present (JSON)")
    p.set_defaults(func=run)
