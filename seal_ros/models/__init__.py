"""Model checkpoints: the manifest (``models/manifest.yaml``), verification and download.

Core, no ROS. ``seal-ros models list|verify|fetch`` is the command-line face.
"""
__all__ = ["ModelEntry", "ManifestError", "default_models_dir", "load_manifest", "FileStatus", "sha256_file",
           "verify_entry", "FetchError", "fetch"]

from seal_ros.models.manifest import ModelEntry, ManifestError, default_models_dir, load_manifest  # noqa: F401
from seal_ros.models.verify import FileStatus, sha256_file, verify_entry  # noqa: F401
from seal_ros.models.fetch import FetchError, fetch  # noqa: F401
