"""Test data for the training tests: a miniature copy of the SEAL authors' released
training layout (several masks and distinct descriptions per image and level)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
H, W, D = 48, 64, 16
LEVELS = ("l", "m", "s")


def label_map(rng, k: int) -> np.ndarray:
    """k disjoint rectangles (ids 0..k-1, shuffled) on -1."""
    lab = np.full((H, W), -1, np.int64)
    ids = rng.permutation(k)
    for n in range(k):
        y0, x0 = int(rng.integers(0, H - 12)), int(rng.integers(0, W - 12))
        lab[y0:y0 + int(rng.integers(6, 12)), x0:x0 + int(rng.integers(6, 12))] = ids[n]
    present = [v for v in np.unique(lab) if v >= 0]
    remap = {v: i for i, v in enumerate(present)}  # every id present, 0..K-1
    out = lab.copy()
    for v, i in remap.items():
        out[lab == v] = i
    return out


def make_seal_layout(root: Path, n: int = 4, seed: int = 0, masks=(3, 4, 5)) -> Path:
    """``root/dataset/{metadata/train.txt, data/ddd17/dir0/{imgs,voxel_image,segmentation_masks,mhsg}}``."""
    rng = np.random.default_rng(seed)
    d = root / "dataset" / "data" / "ddd17" / "dir0"
    for sub in ("imgs", "voxel_image", "segmentation_masks", "mhsg"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        name = f"{i:06d}"
        cv2.imwrite(str(d / "imgs" / f"{name}.png"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        cv2.imwrite(str(d / "voxel_image" / f"{name}.png"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        cv2.imwrite(str(d / "segmentation_masks" / f"{name}.png"), np.zeros((H, W), np.uint8))
        cache = {}
        for lvl, k in zip(LEVELS, masks):
            lab = label_map(rng, k)
            kk = int(lab.max()) + 1
            feat = {key: torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(kk, D))).float(), dim=-1)
                    for key in ("short", "long", "img")}
            cache[lvl] = {"mask": lab, "feat": feat}
        torch.save(cache, d / "mhsg" / f"{name}.pt")
        rel = lambda sub, ext="png": f"dataset/data/ddd17/dir0/{sub}/{name}.{ext}"  # noqa: E731
        lines.append(f"{rel('imgs')} {rel('voxel_image')} {rel('segmentation_masks')}")
    (root / "dataset" / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "dataset" / "metadata" / "train.txt").write_text("\n".join(lines) + "\n")
    return root / "dataset"


SEAL_TINY = ROOT / "config" / "train" / "seal_tiny.yaml"


def seal_layout_overrides(data, out, *extra) -> list:
    """Overrides of seal_tiny.yaml for the miniature layout: 64 px model, tiny text encoder."""
    return [f"out_dir={out}", f"data.path={data}", "model.overrides={image_size: 64}", "model.max_masks=null",
            "train.log_every=1", *extra]


def make_dsec11(root: Path, n: int = 2) -> Path:
    """A tiny DSEC-Semantic test split (11 classes): a car and a person with events over them."""
    import h5py

    rng = np.random.default_rng(3)
    seq = root / "test" / "zurich_city_00_a"
    (seq / "semantic" / "11classes" / "data").mkdir(parents=True)
    (seq / "events" / "left").mkdir(parents=True)
    lab = np.zeros((H, W), np.uint8)
    lab[5:20, 5:25] = 8  # car
    lab[25:45, 40:60] = 3  # person
    t_offset = 1_000_000
    stamps = [t_offset + 100_000 * (k + 1) for k in range(n)]
    for k in range(n):
        cv2.imwrite(str(seq / "semantic" / "11classes" / "data" / f"{k:06d}.png"), lab)
    np.savetxt(seq / "semantic" / "timestamps.txt", np.array(stamps), fmt="%d")
    m = 2000 * n
    t = np.sort(rng.integers(0, 100_000 * n, m)).astype(np.int64)
    x, y = rng.integers(0, W, m), rng.integers(0, H, m)
    with h5py.File(seq / "events" / "left" / "events.h5", "w") as f:
        f["events/x"] = x.astype(np.uint16)
        f["events/y"] = y.astype(np.uint16)
        f["events/t"] = t
        f["events/p"] = rng.integers(0, 2, m).astype(np.uint8)
        f["ms_to_idx"] = np.searchsorted(t, np.arange(0, 100 * n + 2) * 1000).astype(np.uint64)
        f["t_offset"] = np.int64(t_offset)
    return root
