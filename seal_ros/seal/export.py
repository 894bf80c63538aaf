"""Trained SEAL exports: the weights plus the configuration they need to run.

A ``seal.pt`` written by ``seal-ros train seal`` is::

    {"model": <the whole SEAL state dict, the published layout>,
     "seal_ros": {"format": 1, "size": "vit_b" | "tiny", "overrides": {...SealConfig fields...},
                  "text_encoder": {"kind": "clip", "model_name": ..., "file": ...}
                                  | {"kind": "tiny", "dim": 16, "seed": 0},
                  "templates": [...], "vocabulary": [...names the guidance used...],
                  "random_teachers": bool, "stage": "seal", "step": int}}

``torch.load(weights_only=True)`` reads it (tensors and plain containers only);
:func:`seal_ros.seal.checkpoint.load_seal` still loads its ``model`` strictly.
The published ``seal.pt`` (a flat state dict, no ``seal_ros`` entry) is read as
``vit_b`` with the CLIP ViT-L/14@336px text encoder.

:func:`load_seal_export` gives the node and ``seal-ros eval`` the model and the
same text encoder the model was trained against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from .checkpoint import CheckpointError, load_state
from .text import CLIP_MODEL_NAME, DEFAULT_TEMPLATES

__all__ = ["SealExport", "EXPORT_KEY", "load_seal_export", "read_export_config", "text_encoder_from_spec",
           "PUBLISHED_CONFIG"]

EXPORT_KEY = "seal_ros"
PUBLISHED_CONFIG = {"format": 1, "size": "vit_b", "overrides": {},
                    "text_encoder": {"kind": "clip", "model_name": CLIP_MODEL_NAME, "file": None},
                    "templates": list(DEFAULT_TEMPLATES), "vocabulary": [], "random_teachers": False}


@dataclass
class SealExport:
    model: torch.nn.Module
    text_encoder: object
    config: dict = field(default_factory=dict)
    device: str = "cpu"
    dtype: Optional[torch.dtype] = None

    @property
    def random_teachers(self) -> bool:
        return bool(self.config.get("random_teachers"))

    def predictor(self, compile: bool = False):
        """The node's fast path (:meth:`SealPredictor.for_deployment`) on these parts."""
        from .predictor import SealPredictor

        return SealPredictor.for_deployment(self.model, self.text_encoder, self.device, self.dtype,
                                            compile=compile)


def read_export_config(path, size: Optional[str] = None) -> dict:
    """The ``seal_ros`` configuration of an export. A bare state dict (the published
    layout) is read as ``size`` (default vit_b) with CLIP ViT-L/14@336px, or, at a size
    other than vit_b, with the random tiny text encoder (stamped ``random_teachers``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"SEAL checkpoint not found: {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - one line naming the file
        raise CheckpointError(f"cannot read {p}: {str(e).splitlines()[0][:200]}") from e
    cfg = dict(PUBLISHED_CONFIG)
    if isinstance(obj, dict) and isinstance(obj.get(EXPORT_KEY), dict):
        cfg.update(obj[EXPORT_KEY])
    elif size not in (None, "vit_b"):
        from .build import CONFIGS

        dim = CONFIGS[size].text_dim if size in CONFIGS else 16
        cfg.update(size=size, text_encoder={"kind": "tiny", "dim": dim, "seed": 0}, random_teachers=True)
    return cfg


def text_encoder_from_spec(spec: dict, device="cpu", clip_file: Optional[str] = None, models_dir=None):
    """The text encoder an export names. ``clip_file`` overrides the recorded CLIP path;
    else the recorded path, else the CLIP file in ``models_dir``; none: FileNotFoundError."""
    from .text import build_clip_text_encoder, build_tiny_text_encoder

    kind = spec.get("kind")
    if kind == "tiny":
        return build_tiny_text_encoder(int(spec["dim"]), int(spec.get("seed", 0))).to(device)
    if kind != "clip":
        raise CheckpointError(f"unknown text encoder {spec!r} in the export")
    candidates = [clip_file, spec.get("file")]
    if models_dir is not None:
        from .weights import CLIP_FILES
        candidates += [Path(models_dir) / f for f in CLIP_FILES]
    path = next((c for c in candidates if c and Path(c).is_file()), None)
    if path is None:
        from .text import CLIP_SOURCES
        tried = ", ".join(str(c) for c in candidates if c) or "no path recorded"
        raise FileNotFoundError(f"CLIP weights for this SEAL model not found (tried {tried}): {CLIP_SOURCES}")
    return build_clip_text_encoder(path, device=device, model_name=spec.get("model_name", CLIP_MODEL_NAME))


def load_seal_export(path, device="cpu", dtype: Optional[torch.dtype] = None, clip_file: Optional[str] = None,
                     models_dir=None, size: Optional[str] = None, text: bool = True) -> SealExport:
    """Model (strictly loaded, eval, on ``device``), its text encoder (None with ``text=False``, e.g. when a
    classifier file gives the class rows) and its configuration; ``dtype`` (autocast / stored weights
    dtype) is kept for :meth:`SealExport.predictor`."""
    from .build import CONFIGS, build_seal
    from .checkpoint import load_seal

    cfg = read_export_config(path, size)
    if cfg["size"] not in CONFIGS:
        raise CheckpointError(f"{path}: unknown model size {cfg['size']!r}")
    model = build_seal(cfg["size"], **dict(cfg.get("overrides") or {}))
    load_seal(model, load_state(path))
    model = model.to(device).eval()
    encoder = text_encoder_from_spec(cfg["text_encoder"], device, clip_file=clip_file, models_dir=models_dir) \
        if text else None
    return SealExport(model, encoder, cfg, str(device), dtype)
