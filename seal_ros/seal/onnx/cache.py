"""Which model an export is of, and the export cache of ``backend: onnx`` without ``onnx_dir``.

A model named ``vit_b`` (``seal.pt`` in the models directory) or by a ``seal.pt`` path is
exported once into ``$SEAL_ROS_ONNX_CACHE`` (default ``~/.cache/seal_ros/onnx``), in a folder
keyed by the file (path, size, modification time) and the torch version, and reused after
that; ``tiny`` (random weights, different at every start) goes to a temporary folder.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional, Tuple

import torch

from .export import FORMAT, export_onnx, read_manifest

__all__ = ["export_config", "model_file", "model_for_export", "exported_dir", "cache_root"]


def export_config(name: str, path: Optional[Path] = None) -> dict:
    """The ``seal_ros`` configuration recorded in an export of ``name`` (tiny / vit_b / a file)."""
    from ..export import PUBLISHED_CONFIG, read_export_config

    if name == "tiny":
        return dict(PUBLISHED_CONFIG, size="tiny", text_encoder={"kind": "tiny", "dim": 16, "seed": 0},
                    random_teachers=True)
    return read_export_config(path) if path is not None else dict(PUBLISHED_CONFIG)


def model_file(name: str, models_dir=None) -> Path:
    """The seal.pt behind ``vit_b`` (in ``models_dir``) or a path; FileNotFoundError naming it."""
    from seal_ros.io.paths import expand_path

    if name == "vit_b":
        from seal_ros.models.manifest import default_models_dir

        path = Path(models_dir or default_models_dir()) / "seal.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: `seal-ros models fetch --name seal` (or a seal.pt path)")
        return path
    path = Path(expand_path(name))
    if not path.is_file():
        raise FileNotFoundError(f"model {name}: no such file (use vit_b, tiny or the path of a seal.pt)")
    return path


def model_for_export(name: str, models_dir=None, seed: int = 0) -> Tuple[torch.nn.Module, dict]:
    """(Seal model on the CPU, its export configuration); ``tiny`` is random, seeded with ``seed``."""
    from ..build import build_seal
    from ..export import load_seal_export

    if name == "tiny":
        torch.manual_seed(seed)
        return build_seal("tiny"), export_config("tiny")
    export = load_seal_export(model_file(name, models_dir), text=False)
    return export.model, export.config


def cache_root() -> Path:
    return Path(os.environ.get("SEAL_ROS_ONNX_CACHE") or Path.home() / ".cache" / "seal_ros" / "onnx")


def _key(path: Path) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{FORMAT}|{torch.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def exported_dir(model: torch.nn.Module, name: str, models_dir=None,
                 info: Callable[[str], None] = lambda s: None) -> Path:
    """An export directory of ``model`` (named ``name``): the cached one, or written now."""
    if name == "tiny":
        out = Path(tempfile.mkdtemp(prefix="seal_ros_onnx_"))
        info(f"exporting the RANDOM tiny model to ONNX in {out}")
        export_onnx(model, out, config=export_config("tiny"), check=False, log=info)
        return out
    path = model_file(name, models_dir)
    out = cache_root() / _key(path)
    try:
        read_manifest(out)
        info(f"ONNX export of {path} from the cache: {out}")
        return out
    except (FileNotFoundError, RuntimeError):
        pass
    info(f"exporting {path} to ONNX into {out} (once; a few minutes on a small CPU)")
    tmp = Path(tempfile.mkdtemp(prefix=".export_", dir=_mkdir(out.parent)))
    try:
        export_onnx(model, tmp, config=export_config(name, path), check=False, log=info)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
