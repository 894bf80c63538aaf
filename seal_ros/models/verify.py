"""Checking a checkpoint on disk against its manifest entry (size, then sha256)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seal_ros.models.manifest import ModelEntry

# state: ok (size and sha256 match), unverified (present, size matches or is
# unknown, no sha256 to compare), missing, partial (a .part download is there),
# size_mismatch, sha_mismatch.
STATES = ("ok", "unverified", "missing", "partial", "size_mismatch", "sha_mismatch")


@dataclass
class FileStatus:
    entry: ModelEntry
    path: Path
    state: str
    size: Optional[int] = None
    sha256: Optional[str] = None
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state in ("ok", "unverified")


def sha256_file(path, chunk: int = 1 << 20, progress=None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
            if progress is not None:
                progress(len(block))
    return h.hexdigest()


def verify_entry(entry: ModelEntry, models_dir, check_sha: bool = True, progress=None) -> FileStatus:
    path = entry.path(models_dir)
    if not path.is_file():
        part = path.with_name(path.name + ".part")
        if part.is_file():
            return FileStatus(entry, path, "partial", part.stat().st_size,
                              detail=f"{part.stat().st_size} bytes downloaded; `seal-ros models fetch` resumes")
        return FileStatus(entry, path, "missing", detail=f"not found; get it from {entry.url}")
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        return FileStatus(entry, path, "size_mismatch", size, detail=f"{size} bytes, expected {entry.size}")
    if entry.sha256 is None or not check_sha:
        why = "no sha256 in the manifest" if entry.sha256 is None else "sha256 not checked"
        return FileStatus(entry, path, "unverified", size, detail=why)
    digest = sha256_file(path, progress=progress)
    if digest != entry.sha256:
        return FileStatus(entry, path, "sha_mismatch", size, digest, f"sha256 {digest}, expected {entry.sha256}")
    return FileStatus(entry, path, "ok", size, digest)
