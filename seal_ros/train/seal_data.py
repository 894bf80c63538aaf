"""Stage-2 samples: the event image and, per granularity, the guidance masks and embeddings.

As the authors' loader does, each guidance mask (kept at the paired image's
resolution) is resized with nearest-neighbour sampling to two square frames:
the model input (``S``, 512 at full size: box prompts for SAM's decoder) and
half of it (``S/2``, 256: the RoI and the attention mask of the mask
feature); masks empty at ``S/2`` are dropped. With ``flip`` the event image
and the masks are mirrored horizontally for half of the samples of an epoch
(the draw depends only on seed, epoch and index).

The same samples come from this package's own pairs + guidance cache and from
the authors' released training set (:mod:`seal_ros.datasets.seal_mhsg`).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from seal_ros.datasets.pairs import flip_coin
from seal_ros.train.mhsg import GRANULARITIES, GranularityGuidance


def level_tensors(g: GranularityGuidance, size: int, flip: bool = False,
                  max_masks: Optional[int] = None) -> dict:
    """One granularity -> masks (K, S, S), masks_lo (K, S/2, S/2) bool; visual/short/long (K, D) float."""
    m = torch.from_numpy(g.unpack_masks())
    if m.shape[0] == 0:
        z = torch.zeros(0, g.visual.shape[-1] if g.visual.ndim == 2 else 1)
        return {"masks": torch.zeros(0, size, size, dtype=torch.bool),
                "masks_lo": torch.zeros(0, size // 2, size // 2, dtype=torch.bool),
                "visual": z, "short": z, "long": z}
    mf = m[None].float()
    hi = F.interpolate(mf, size=(size, size), mode="nearest")[0].bool()
    lo = F.interpolate(mf, size=(size // 2, size // 2), mode="nearest")[0].bool()
    keep = torch.nonzero(lo.flatten(1).any(dim=1)).flatten()
    if max_masks:
        keep = keep[: int(max_masks)]
    hi, lo = hi[keep], lo[keep]
    if flip:
        hi, lo = hi.flip(-1), lo.flip(-1)
    take = lambda a: torch.from_numpy(a.astype("float32"))[keep]  # noqa: E731
    return {"masks": hi, "masks_lo": lo, "visual": take(g.visual), "short": take(g.short), "long": take(g.long)}


class GuidedPairs(torch.utils.data.Dataset):
    """``event_fn(i)`` -> model-ready event image (3, S, S); ``guidance_fn(i)`` -> {granularity: guidance}."""

    def __init__(self, n: int, event_fn: Callable, guidance_fn: Callable, size: int,
                 max_masks: Optional[int] = None, flip: bool = False, seed: int = 0):
        self.n, self.event_fn, self.guidance_fn = int(n), event_fn, guidance_fn
        self.size, self.max_masks, self.flip, self.seed = int(size), max_masks, bool(flip), int(seed)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.item(i, 0)

    def item(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(i)
        flip = self.flip and flip_coin(self.seed, epoch, i)
        ev = self.event_fn(i)
        g = self.guidance_fn(i)
        return {"event": ev.flip(-1) if flip else ev, "index": i, "flipped": flip,
                "levels": [level_tensors(g[name], self.size, flip, self.max_masks) for name, _ in GRANULARITIES]}


def collate_guided(items: list) -> dict:
    return {"event": torch.stack([it["event"] for it in items]),
            "index": torch.tensor([it["index"] for it in items]),
            "flipped": torch.tensor([bool(it["flipped"]) for it in items]),
            "levels": [it["levels"] for it in items]}
