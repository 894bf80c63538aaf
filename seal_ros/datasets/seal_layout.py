"""The SEAL authors' released dataset layout, read as published (evaluation and training lists).

The dataset repository (Hugging Face ``onandon/SEAL``; the authors'
``download_data.py`` restores it into ``dataset/``)::

    dataset/
      metadata/
        ddd17_eval.txt  dsec11_eval.txt  dsec19_eval.txt     evaluation lists
        train.txt                                           training list
      data/DSEC/test/<sequence>/
        rgb_image/<name>.png       the frame (a list line's first path)
        voxel_image/<name>.png     the event image the model sees: 3-channel 8-bit PNG,
                                   precomputed by the authors (the code is not released)
        recons_image/<name>.png    a reconstruction (unused by the evaluation)
        semantic_gt/<name>.png     class id per pixel (the line's third path)
        instance_gt/<name>.pt      ground-truth instances: a tensor or array (K, H, W) (or a list
                                   of (H, W) ones), -1 outside the instance
        mhsg/<name>.pt             training guidance, next to the training images
      data/ddd17/dir*/...          the same folders

What each file holds is read off the authors' loaders (0nandon/SEAL
``event_encoder/data_utils/seal_loader.py`` ``SEALData``, ``eventsam_loader.py``
``RGBEData``, ``test_seal.py``):

- a list line is ``"<rgb_image> <voxel_image> <semantic_gt>"`` separated by single
  spaces (``line.rstrip().split(" ")``); training lines may have only the first two;
- the instance file of an image is ``dirname(image)/../<gt>/<basename[:-4]>.pt``
  (``gt`` = ``instance_gt``), its guidance ``dirname(image)/../mhsg/<basename[:-4]>.pt``;
- the event image is read with ``cv2.imread`` (BGR) and turned to RGB; the
  semantic map with PIL; an instance is ``mask != -1``, its class the most
  frequent semantic id under it (``np.bincount(...).argmax()``), kept only when
  that class is one of the benchmark's instance classes.

Paths in the lists are as the authors ran (relative to the folder holding
``dataset/``, or absolute on their machine): :meth:`SealDataRoot.resolve` tries
the path as written, then relative to that folder and to ``dataset/``, then
re-rooted at each ``data`` component under ``dataset/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["ListEntry", "SealDataRoot", "SealItem", "SealBenchmarkDataset", "read_event_image",
           "read_semantic", "read_instance_masks", "instance_ground_truth"]


@dataclass(frozen=True)
class ListEntry:
    line: int  # 1-based line in its list
    image: Path  # rgb_image
    event_image: Path  # voxel_image
    label: Optional[Path] = None  # semantic_gt (None on two-path training lines)

    @property
    def stem(self) -> str:
        return self.image.name[:-4]  # the authors' basename[:-4]

    def beside(self, folder: str, suffix: str = ".pt") -> Path:
        """``dirname(image)/../<folder>/<basename[:-4]><suffix>`` (instance_gt, mhsg, ...)."""
        return self.image.parent.parent / folder / (self.stem + suffix)


@dataclass
class SealItem:
    """One evaluation image: what the predictor sees and the instances it is asked about."""

    event_image: np.ndarray  # uint8 (H, W, 3) RGB
    masks: np.ndarray  # bool (K, h, w) ground-truth instances at their own resolution
    labels: np.ndarray  # (K,) dataset class ids
    name: str = ""
    extra: dict = field(default_factory=dict)


class SealDataRoot:
    """``root``: the ``dataset`` folder (holding ``metadata/``) or the folder above it."""

    def __init__(self, root) -> None:
        root = Path(root).expanduser()
        if (root / "metadata").is_dir():
            self.root = root
        elif (root / "dataset" / "metadata").is_dir():
            self.root = root / "dataset"
        else:
            raise FileNotFoundError(f"{root}: not the SEAL dataset layout (no metadata/ or dataset/metadata/)")
        self.metadata = self.root / "metadata"

    def resolve(self, written: str) -> Optional[Path]:
        """The file a list path names on this machine, or None."""
        p = Path(written)
        cands: List[Path] = []
        if p.is_absolute():
            cands.append(p)
        else:
            cands += [self.root.parent / p, self.root / p]
        parts = p.parts
        cands += [self.root.joinpath(*parts[i:]) for i, part in enumerate(parts) if part == "data"]
        return next((c for c in cands if c.is_file()), None)

    def read_list(self, name: str, min_paths: int = 3) -> List[ListEntry]:
        """Entries of ``metadata/<name>``; every path must resolve (FileNotFoundError says which)."""
        path = self.metadata / name
        if not path.is_file():
            have = sorted(p.name for p in self.metadata.glob("*.txt"))
            raise FileNotFoundError(f"{path}: no such list (have: {', '.join(have) or 'none'})")
        entries = []
        for i, raw in enumerate(path.read_text().splitlines(), start=1):
            line = raw.rstrip()
            if not line:
                continue
            fields = line.split(" ")
            if not min_paths <= len(fields) <= 3:
                raise ValueError(f"{path}:{i}: expected {min_paths} to 3 space-separated paths, got {len(fields)}")
            found = [self.resolve(f) for f in fields]
            for f, r in zip(fields, found):
                if r is None:
                    raise FileNotFoundError(f"{path}:{i}: {f} not found under {self.root}")
            entries.append(ListEntry(i, found[0], found[1], found[2] if len(found) == 3 else None))
        if not entries:
            raise ValueError(f"{path}: empty list")
        return entries


def read_event_image(path) -> np.ndarray:
    """The authors' event input: ``cv2.imread`` (8-bit, 3 channels) turned to RGB."""
    import cv2

    img = cv2.imread(str(path))
    if img is None:
        raise ValueError(f"{path}: unreadable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_semantic(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


# A file written with torch.save of NumPy arrays (the authors' torch predates weights_only by
# default) needs these to be rebuilt; they construct arrays and nothing else. NumPy 1.x
# pickles name the reconstructor numpy.core.multiarray, NumPy 2 numpy._core.multiarray.
_RECONSTRUCT = np._core.multiarray._reconstruct
NUMPY_ARRAY_GLOBALS = [np.ndarray, np.dtype, _RECONSTRUCT, (_RECONSTRUCT, "numpy.core.multiarray._reconstruct")] + \
    [type(np.dtype(t)) for t in (bool, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                 np.uint64, np.float16, np.float32, np.float64)]


def read_instance_masks(path) -> np.ndarray:
    """``instance_gt/<name>.pt`` -> bool (K, H, W): ``mask != -1`` for each stored mask
    (a tensor, a NumPy array or a list of either; loaded with ``weights_only=True``)."""
    import torch

    try:
        with torch.serialization.safe_globals(NUMPY_ARRAY_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{path}: unreadable instance file ({exc})") from exc
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        obj = torch.as_tensor(obj)
        obj = obj[None] if obj.ndim == 2 else obj
        items = list(obj)
    elif isinstance(obj, (list, tuple)):
        items = [torch.as_tensor(m) for m in obj]
    else:
        raise ValueError(f"{path}: expected a tensor or a list of masks, got {type(obj).__name__}")
    if not items:
        return np.zeros((0, 0, 0), bool)
    if any(m.ndim != 2 or m.shape != items[0].shape for m in items):
        raise ValueError(f"{path}: masks must all be (H, W) of one size")
    return np.stack([(m != -1).numpy() for m in items])


def instance_ground_truth(masks: np.ndarray, semantic: np.ndarray, instance_ids: Sequence[int]):
    """The authors' ``get_instance_gt``: (masks (K', H, W), labels (K',)) of the instances
    whose most frequent semantic id (smallest on ties) is an instance class."""
    if len(masks) and masks.shape[1:] != semantic.shape[:2]:
        raise ValueError(f"instance masks {masks.shape[1:]} and semantic map {semantic.shape[:2]} differ in size")
    keep, labels = [], []
    for k, m in enumerate(masks):
        under = semantic[m].astype(np.int64).reshape(-1)
        if under.size == 0:
            continue
        label = int(np.bincount(under).argmax())
        if label in instance_ids:
            keep.append(k)
            labels.append(label)
    h, w = semantic.shape[:2]
    return (masks[keep] if keep else np.zeros((0, h, w), bool)), np.asarray(labels, np.int64)


class SealBenchmarkDataset:
    """A benchmark's evaluation list as :class:`SealItem` s (images without any
    instance of an instance class are left out, counted in ``without_instances``)."""

    def __init__(self, root, list_name: str, instance_ids: Sequence[int], gt_dir: str = "instance_gt") -> None:
        self.data = SealDataRoot(root)
        self.entries = self.data.read_list(list_name, min_paths=3)
        self.instance_ids = tuple(int(i) for i in instance_ids)
        self.gt_dir = gt_dir
        self.without_instances = 0
        missing = next((e for e in self.entries if not e.beside(gt_dir).is_file()), None)
        if missing is not None:
            raise FileNotFoundError(f"{self.data.metadata / list_name}:{missing.line}: no "
                                    f"{missing.beside(gt_dir)} (the {gt_dir} of {missing.image.name})")

    def __len__(self) -> int:
        return len(self.entries)

    def item(self, i: int) -> SealItem:
        e = self.entries[i]
        semantic = read_semantic(e.label)
        masks, labels = instance_ground_truth(read_instance_masks(e.beside(self.gt_dir)), semantic,
                                              self.instance_ids)
        return SealItem(read_event_image(e.event_image), masks, labels,
                        name=f"{e.image.parent.parent.name}/{e.stem}")

    def __iter__(self):
        self.without_instances = 0
        for i in range(len(self)):
            it = self.item(i)
            if len(it.labels):
                yield it
            else:
                self.without_instances += 1
