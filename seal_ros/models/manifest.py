"""Reading ``models/manifest.yaml``: one :class:`ModelEntry` per checkpoint."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

MANIFEST_ENV = "SEAL_ROS_MANIFEST"
MODELS_DIR_ENV = "SEAL_ROS_MODELS"
_SHA = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(Exception):
    """The manifest is missing or malformed; the message says where."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    url: str
    size: Optional[int] = None
    sha256: Optional[str] = None
    license: str = ""
    feeds: str = ""
    required: bool = False
    notes: str = ""

    def path(self, models_dir) -> Path:
        return Path(models_dir) / self.file


def default_models_dir() -> Path:
    """``$SEAL_ROS_MODELS``, else ``~/.cache/seal_ros/models``."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        from seal_ros.io.paths import expand_path

        return Path(expand_path(env))
    return Path.home() / ".cache" / "seal_ros" / "models"


def manifest_candidates() -> list[Path]:
    """Where the manifest is looked for, in order."""
    out = []
    if os.environ.get(MANIFEST_ENV):
        out.append(Path(os.environ[MANIFEST_ENV]))
    out.append(Path(__file__).resolve().parents[2] / "models" / "manifest.yaml")  # source checkout
    prefixes = [sys.prefix] + [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    out += [Path(p) / "share" / "seal_ros" / "models" / "manifest.yaml" for p in prefixes]  # installed
    return out


def find_manifest() -> Path:
    for p in manifest_candidates():
        if p.is_file():
            return p
    raise ManifestError("models/manifest.yaml not found; looked in: " + ", ".join(map(str, manifest_candidates())))


def load_manifest(path=None) -> list[ModelEntry]:
    """The entries of the manifest at ``path`` (default: :func:`find_manifest`)."""
    import yaml

    path = Path(path) if path is not None else find_manifest()
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{path}: unreadable ({exc})") from None
    items = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ManifestError(f"{path}: expected a non-empty 'models' list")
    entries, names, files = [], set(), set()
    for i, it in enumerate(items):
        where = f"{path}: models[{i}]"
        if not isinstance(it, dict):
            raise ManifestError(f"{where} is not a mapping")
        for key in ("name", "file", "url"):
            if not isinstance(it.get(key), str) or not it[key]:
                raise ManifestError(f"{where}: '{key}' must be a non-empty string")
        if "/" in it["file"] or it["file"] in (".", ".."):
            raise ManifestError(f"{where}: file {it['file']!r} must be a plain file name")
        size = it.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            raise ManifestError(f"{where}: size must be a positive integer or null")
        sha = it.get("sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA.match(sha.lower())):
            raise ManifestError(f"{where}: sha256 must be 64 hex digits or null")
        if it["name"] in names or it["file"] in files:
            raise ManifestError(f"{where}: duplicate name {it['name']!r} or file {it['file']!r}")
        names.add(it["name"])
        files.add(it["file"])
        entries.append(ModelEntry(
            name=it["name"], file=it["file"], url=it["url"], size=size, sha256=sha.lower() if sha else None,
            license=str(it.get("license") or ""), feeds=str(it.get("feeds") or ""),
            required=bool(it.get("required", False)), notes=str(it.get("notes") or "")))
    return entries


def select(entries: list[ModelEntry], names=None) -> list[ModelEntry]:
    """The entries named in ``names`` (all when empty); unknown names raise :class:`ManifestError`."""
    if not names:
        return list(entries)
    by_name = {e.name: e for e in entries}
    unknown = [n for n in names if n not in by_name and not any(e.file == n for e in entries)]
    if unknown:
        raise ManifestError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [e for e in entries if e.name in names or e.file in names]


def missing_message(missing_files, models_dir) -> str:
    """One line telling exactly which files are missing and how to get them."""
    names = ", ".join(str(m) for m in missing_files)
    return (f"model files missing in {models_dir}: {names}; get them with"
            f" `ros2 run seal_ros seal-ros models fetch --dir {models_dir}` (`seal-ros models fetch ...` where"
            " the package is pip-installed or install/setup.bash is sourced; or copy them there;"
            " `seal-ros models list` shows their URLs), then restart the node")
