"""Names of the local weight files SEAL needs, and a clear error when some are missing.

The file names are those of the models manifest (``models/manifest.yaml``):

- ``seal.pt``: the whole SEAL model (EventSAM included), 443 tensors - required;
- the CLIP ViT-L/14@336px weights: OpenAI's ``ViT-L-14-336px.pt`` or open_clip's
  ``open_clip_model.safetensors`` / ``open_clip_pytorch_model.bin`` - required;
- ``eventsam.pth`` + ``sam_vit_b_01ec64.pth``: EventSAM alone (segment-anything
  without classes, :func:`seal_ros.seal.build.build_eventsam`); not needed when
  ``seal.pt`` is present.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

__all__ = ["MissingWeights", "SEAL_FILE", "EVENTSAM_FILE", "SAM_FILE", "CLIP_FILES",
           "resolve_weights"]

SEAL_FILE = "seal.pt"
EVENTSAM_FILE = "eventsam.pth"
SAM_FILE = "sam_vit_b_01ec64.pth"
CLIP_FILES = ("ViT-L-14-336px.pt", "open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class MissingWeights(FileNotFoundError):
    """Raised when weight files are missing; ``missing`` lists their names."""

    def __init__(self, missing: List[str], models_dir) -> None:
        self.missing = list(missing)
        self.models_dir = str(models_dir)
        super().__init__(
            f"missing model weights in {self.models_dir}: {', '.join(self.missing)} "
            f"(see models/manifest.yaml; `seal-ros models fetch` downloads them)")


def resolve_weights(models_dir) -> Dict[str, Path]:
    """{'seal': path, 'clip': path} in ``models_dir``, or :class:`MissingWeights`."""
    d = Path(models_dir)
    missing: List[str] = []
    out: Dict[str, Path] = {}
    if (d / SEAL_FILE).is_file():
        out["seal"] = d / SEAL_FILE
    else:
        missing.append(SEAL_FILE)
    clip = next((d / f for f in CLIP_FILES if (d / f).is_file()), None)
    if clip is None:
        missing.append(CLIP_FILES[0] + " (or " + " / ".join(CLIP_FILES[1:]) + ")")
    else:
        out["clip"] = clip
    if missing:
        raise MissingWeights(missing, d)
    return out
