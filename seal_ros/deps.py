"""Python packages without a rosdep key in ROS 2 Jazzy: a documented pip step, imported lazily.

package.xml declares every dependency that rosdep can install (checked by
test/test_package_xml.py against the imports of seal_ros/); the packages below
have no key in rosdistro's jazzy rosdep database, so on a ROS machine they come
from ``pip install`` (README, "On a ROS 2 Jazzy machine"). Code imports them
only where they are used, and a missing one is reported in one line naming the
pip command (``seal-ros`` and the nodes alike), never a traceback.
"""
from __future__ import annotations

import importlib

# import name -> pip requirement: what the nodes and seal-ros need
PIP_ONLY = {
    "segment_anything": "segment-anything",
    "open_clip": "open-clip-torch",
    "rosbags": "rosbags",
    "aedat": "aedat",
    "pycocotools": "pycocotools",
}
# only for training (seal-ros train) and the benchmarks' peers
PIP_EXTRAS = {
    "tensorboard": "tensorboard",
    "transformers": "transformers",
    "expelliarmus": "expelliarmus",
    "evt3": "evt3",
    "lpips": "lpips",  # seal-ros eval-e2v's LPIPS (EVREAL's table)
    # seal_segmenter backend:=onnx, and `seal-ros export onnx` (onnx + onnxscript: torch's exporter).
    # rosdep has only a pip key (python3-onnxruntime-pip), so these stay a documented pip step.
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "onnxscript": "onnxscript",
}
_ALL = {**PIP_ONLY, **PIP_EXTRAS}


class MissingDependency(ImportError):
    """A pip-only package is not installed; the message is one line with the pip command."""


def missing_message(module: str) -> str:
    top = module.split(".")[0]
    pip = _ALL.get(top, top)
    return (f"the Python package '{pip}' is not installed (it has no rosdep key): "
            f"pip install {pip}  (see the README, 'On a ROS 2 Jazzy machine')")


def require(module: str):
    """``import module``, or :class:`MissingDependency` with the pip command."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == module.split(".")[0]:
            raise MissingDependency(missing_message(module)) from None
        raise


def as_missing(exc: BaseException):
    """The one-line message for an ImportError of a pip-only package, else None."""
    name = getattr(exc, "name", None)
    if isinstance(exc, MissingDependency):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and name and name.split(".")[0] in _ALL:
        return missing_message(name)
    return None
