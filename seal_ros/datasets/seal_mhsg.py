"""The SEAL authors' released training set (Hugging Face ``onandon/SEAL``), read as it is.

Layout (their README and ``event_encoder/data_utils/seal_loader.py``)::

    dataset/
      metadata/train.txt                 one sample a line: "IMAGE EVIMG LABEL" (paths)
      data/ddd17/dirN/{imgs,voxel_image,segmentation_masks,mhsg,recons_image}/...
      data/DSEC/train/<seq>/{rgb_image,voxel_image,semantic_gt,mhsg,...}/...

- EVIMG: the precomputed 3-channel event image (PNG), the model's input;
- ``mhsg/<IMAGE stem>.pt`` beside IMAGE's folder: the precomputed MHSG guidance,
  ``{level: {"mask": (H, W) int label map (-1: no mask), "feat": {"short": (K, D),
  "long": (K, D), "img": (K, D)}}}`` for levels ``l``, ``m``, ``s``; feature row
  i belongs to the i-th mask id in increasing order. ``l``/``m``/``s`` are read
  as this package's ``semantic``/``instance``/``part``.

Paths in ``train.txt`` may be absolute or relative; relative ones are resolved
against the first of (the folder above ``dataset/``, ``dataset/``, ROOT, ROOT's
parent) where the first sample's files exist. The ``.pt`` files are read with
``torch.load(weights_only=True)`` plus NumPy's array types only: a file that
holds any other Python object is refused, never unpickled.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import torch

from seal_ros.datasets.seal_layout import NUMPY_ARRAY_GLOBALS

LEVELS = {"l": "semantic", "m": "instance", "s": "part"}


class SealDatasetError(ValueError):
    """The folder is not the authors' training layout (one line saying why)."""


def load_weights_only(path):
    """``torch.load(weights_only=True)`` that also accepts NumPy arrays (no other objects)."""
    try:
        with torch.serialization.safe_globals(NUMPY_ARRAY_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - one line naming the file
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SealDatasetError(f"cannot read {path} with weights-only loading (tensors and arrays only): "
                               f"{msg}") from exc


def find_list(root: Path, name: str = "train.txt") -> Path:
    for cand in (root / "metadata" / name, root / "dataset" / "metadata" / name, root / name):
        if cand.is_file():
            return cand
    raise SealDatasetError(f"{root}: no metadata/{name} (the SEAL training layout: dataset/metadata/{name})")


def read_sample_list(root, name: str = "train.txt") -> tuple:
    """(list file, [(IMAGE, EVIMG, LABEL) absolute paths]) of one of the authors' metadata
    lists (train.txt, dsec19_eval.txt, ...); the part of the layout every reader shares."""
    root = Path(root)
    list_path = find_list(root, name)
    lines = [ln.split() for ln in list_path.read_text().splitlines() if ln.strip()]
    bad = [i for i, parts in enumerate(lines) if len(parts) != 3]
    if bad:
        raise SealDatasetError(f"{list_path}: line {bad[0] + 1} is not 'IMAGE EVIMG LABEL'")
    if not lines:
        raise SealDatasetError(f"{list_path} lists no samples")
    meta = list_path.parent
    bases = [meta.parent.parent, meta.parent, root, root.parent]
    base = next((b for b in bases if (b / lines[0][1]).is_file()), None)
    if base is None:
        raise SealDatasetError(f"{list_path}: the first event image {lines[0][1]} is not under any of "
                               f"{', '.join(str(b) for b in bases)}")
    return list_path, [tuple(base / x for x in parts) for parts in lines]


class SealMhsgPairs:
    """The samples of ``train.txt``: event images and their MHSG guidance."""

    def __init__(self, root, list_name: str = "train.txt"):
        self.root = Path(root)
        self.list_path, self.items = read_sample_list(self.root, list_name)
        self.width = self.height = 0

    def __len__(self):
        return len(self.items)

    def mhsg_path(self, i: int) -> Path:
        image = self.items[i][0]
        return image.parent.parent / "mhsg" / (image.stem + ".pt")

    def event_image(self, i: int) -> np.ndarray:
        path = self.items[i][1]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SealDatasetError(f"cannot read the event image {path}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def guidance(self, i: int) -> dict:
        """{granularity: {"masks": (K, H, W) bool, "visual", "short", "long": (K, D) float tensors}}."""
        path = self.mhsg_path(i)
        obj = load_weights_only(path)
        out = {}
        for lvl, name in LEVELS.items():
            if not isinstance(obj, dict) or lvl not in obj:
                raise SealDatasetError(f"{path}: no level {lvl!r}")
            label = np.asarray(torch.as_tensor(obj[lvl]["mask"]).numpy())
            ids = [v for v in np.unique(label) if v != -1]
            feat = obj[lvl]["feat"]
            rows = lambda key: torch.stack([torch.as_tensor(feat[key][k]).float().cpu()  # noqa: E731
                                            for k in range(len(ids))]) if ids else torch.zeros(0, 1)
            masks = label[None] == np.asarray(ids).reshape(-1, 1, 1) if ids else np.zeros((0,) + label.shape, bool)
            out[name] = {"masks": masks, "visual": rows("img"), "short": rows("short"), "long": rows("long")}
        return out

    def fingerprint(self) -> dict:
        h = hashlib.sha256(self.list_path.read_bytes()).hexdigest()[:16]
        return {"kind": "seal_mhsg", "list": str(self.list_path.resolve()), "sha256": h, "pairs": len(self)}
