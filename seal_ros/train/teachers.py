"""Teachers are real files or the command refuses; random teachers only on request.

Every frozen model a stage learns from (SAM, EventSAM, CLIP) comes from a local
file. A missing one is a :class:`TeacherMissing` naming the config key, the
path and how to get the file. Random teachers (tiny toy models or random
weights) exist only behind the top-level config flag ``random_teachers: true``,
meant for tests and timing: a run with it says so on stderr and stamps every
output (``metrics.jsonl`` records, ``config.json``, the exports, the final
JSON line, evaluation reports of its exports) with ``random_teachers: true``.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Optional

from seal_ros.train.config import ConfigError

SOURCES = {
    "sam": ("sam_vit_b", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"),
    "eventsam": ("eventsam", "https://huggingface.co/datasets/onandon/SEAL/resolve/main/cache/eventsam.pth"
                 " or stage 1 of this package (seal-ros train eventsam)"),
    "clip": ("clip_vit_l14_336", "https://openaipublic.azureedge.net/clip/models/3035c92b350959924f9f00213499"
             "208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt"),
}
RANDOM_WARNING = ("random_teachers: true - training against RANDOM teachers (tests and timing only); "
                  "every output of this run is stamped random_teachers")


class TeacherMissing(ConfigError):
    """A teacher's weight file is not configured or not there."""


def require_file(path, key: str, kind: str) -> Path:
    """``path`` as an existing file, or :class:`TeacherMissing` naming ``key`` and where to get it."""
    name, url = SOURCES[kind]
    how = f"get it with `seal-ros models fetch --name {name} --dir DIR` or from {url}"
    if not path:
        raise TeacherMissing(f"{key} is required ({how}); random teachers only with random_teachers: true")
    p = Path(path)
    if not p.is_file():
        raise TeacherMissing(f"{key}: {p} not found ({how})")
    return p


def allow_random(random_teachers: bool, key: str, value) -> None:
    if not random_teachers:
        raise TeacherMissing(f"{key}: {value!r} is a random toy teacher; give the real weights, or set "
                             f"random_teachers: true (tests and timing only: every output is stamped)")


def file_fingerprint(path) -> Optional[str]:
    """Size + SHA-256 of the first and last MiB: cheap, and changes when the weights do."""
    if not path or not Path(path).is_file():
        return None
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), 2)
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def warn_random(random_teachers: bool) -> None:
    if random_teachers:
        print(f"seal-ros train: WARNING: {RANDOM_WARNING}", file=sys.stderr)
