"""MHSG: multi-granularity guidance from the paired image (no labels).

For each paired image, at three granularities (``semantic``, ``instance``,
``part``; the authors' released files call them ``l``, ``m``, ``s``):

1. Masks: segment-anything's ``SamAutomaticMaskGenerator``, one per
   granularity, each seeing one multimask output of SAM's decoder (semantic =
   whole, index 2; instance = part, 1; part = sub-part, 0); the image is
   encoded once for the three. Masks are kept at the image's own resolution.
2. Visual guidance, ``visual: roi`` (the paper's): the CLIP image tower's dense
   per-patch embeddings of the whole image, RoI-pooled per mask (RoIAlign 7x7
   over the mask's box, each bin weighted by the fraction of the mask in it),
   L2-normalised. ``visual: crop`` (a seal_ros option, labelled as such): the
   CLIP embedding of a crop of the mask's box with the pixels outside the mask
   grey.
3. Textual guidance: a describer (:mod:`seal_ros.train.describers`) writes a
   short and a long description of each mask; CLIP's text tower encodes both.
   As in the authors' training, the short description's embedding is a loss
   target (with the visual one) and the long one is what the fusion network
   attends to. Each mask also gets the index of the nearest vocabulary name
   (Semantic-E2VID's class labels).

:class:`GranularityGuidance` is the one in-memory form; the on-disk caches
(:mod:`seal_ros.train.guidance_cache`) and the authors' released files
(:mod:`seal_ros.datasets.seal_mhsg`) both read into it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor

GRANULARITIES = (("semantic", 2), ("instance", 1), ("part", 0))
AUTHORS_LEVELS = {"semantic": "l", "instance": "m", "part": "s"}
VISUAL_MODES = ("roi", "crop")


@dataclass
class GranularityGuidance:
    """K masks of one granularity with their guidance embeddings (all numpy)."""
    masks: np.ndarray  # uint8 (K, H, ceil(W/8)): np.packbits of (K, H, W) bool on the last axis
    height: int
    width: int
    visual: np.ndarray  # float16 (K, D), L2-normalised
    short: np.ndarray  # float16 (K, D): text embedding of the short description (loss target)
    long: np.ndarray  # float16 (K, D): text embedding of the long description (fusion keys/values)
    names: list = field(default_factory=list)  # short descriptions
    long_names: list = field(default_factory=list)
    vocab_index: np.ndarray = None  # int64 (K,): nearest vocabulary name, -1 if none
    scores: np.ndarray = None  # float32 (K,): SAM predicted IoU (1 when unknown)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def unpack_masks(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros((0, self.height, self.width), bool)
        return np.unpackbits(self.masks, axis=-1, count=self.width).astype(bool)

    @classmethod
    def from_masks(cls, masks: np.ndarray, visual, short, long, names=(), long_names=(), vocab_index=None,
                   scores=None) -> "GranularityGuidance":
        masks = np.asarray(masks, bool)
        k, h, w = masks.shape
        as16 = lambda a: np.asarray(torch.as_tensor(a).float().numpy(), np.float16)  # noqa: E731
        return cls(np.packbits(masks, axis=-1) if k else np.zeros((0, h, (w + 7) // 8), np.uint8), h, w,
                   as16(visual), as16(short), as16(long), list(names), list(long_names),
                   np.full(k, -1, np.int64) if vocab_index is None else np.asarray(vocab_index, np.int64),
                   np.ones(k, np.float32) if scores is None else np.asarray(scores, np.float32))


class _SharedFeatures:
    def __init__(self):
        self.key = None
        self.state = None


class LevelPredictor(SamPredictor):
    """A ``SamPredictor`` that returns one multimask level and shares image features."""

    def __init__(self, model, level: int, shared: _SharedFeatures):
        super().__init__(model)
        self.level = int(level)
        self.shared = shared
        self.image_key = None

    def set_image(self, image, image_format="RGB"):
        if self.image_key is not None and self.shared.key == self.image_key and self.shared.state:
            (self.features, self.original_size, self.input_size) = self.shared.state
            self.is_image_set = True
            return
        super().set_image(image, image_format)
        self.shared.key = self.image_key
        self.shared.state = (self.features, self.original_size, self.input_size)

    def predict_torch(self, point_coords, point_labels, boxes=None, mask_input=None,
                      multimask_output=True, return_logits=False):
        masks, iou, low = super().predict_torch(point_coords, point_labels, boxes, mask_input,
                                                True, return_logits)
        sl = slice(self.level, self.level + 1)
        return masks[:, sl], iou[:, sl], low[:, sl]


def masked_crop(image: np.ndarray, mask: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The mask's box (``margin`` added), pixels outside the mask grey, padded square."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = int((x1 - x0) * margin), int((y1 - y0) * margin)
    x0, y0, x1, y1 = max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)
    crop = image[y0:y1, x0:x1].copy()
    crop[~mask[y0:y1, x0:x1]] = 127
    side = max(crop.shape[0], crop.shape[1])  # pad to square: CLIP sees the true aspect ratio
    sq = np.full((side, side, 3), 127, np.uint8)
    oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    sq[oy:oy + crop.shape[0], ox:ox + crop.shape[1]] = crop
    return sq


def roi_pool_masks(dense: torch.Tensor, masks: np.ndarray, output_size: int = 7) -> torch.Tensor:
    """dense (D, g, g) features of the whole image; masks (K, H, W) bool -> (K, D) L2-normalised.

    RoIAlign (``aligned``) of each mask's box mapped onto the feature grid; the
    bins are averaged with weights = the mask's share of each bin (RoIAlign of
    the mask itself at the same bins), so pixels of the box outside the mask
    count less; a mask too thin to weigh falls back to the plain bin mean."""
    import torch.nn.functional as F
    from torchvision.ops import roi_align

    k = masks.shape[0]
    if k == 0:
        return torch.zeros(0, dense.shape[0])
    d, gh, gw = dense.shape
    h, w = masks.shape[1:]
    m = torch.from_numpy(np.ascontiguousarray(masks)).float()
    boxes = torch.zeros(k, 5)
    for i, mk in enumerate(masks):
        ys, xs = np.nonzero(mk)
        boxes[i, 1:] = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
    boxes[:, 0] = torch.arange(k)
    grid = boxes.clone()
    grid[:, 0] = 0
    grid[:, (1, 3)] *= gw / w
    grid[:, (2, 4)] *= gh / h
    feats = roi_align(dense[None].float(), grid, output_size, 1.0, -1, True)  # (K, D, o, o)
    share = roi_align(m[:, None], boxes, output_size, 1.0, -1, True)  # (K, 1, o, o)
    wsum = share.sum(dim=(2, 3))
    pooled = torch.where(wsum > 1e-6, (feats * share).sum(dim=(2, 3)) / wsum.clamp_min(1e-6),
                         feats.mean(dim=(2, 3)))
    return F.normalize(pooled, dim=-1)


class GuidanceGenerator:
    """Computes the three granularities' guidance for one RGB uint8 image."""

    def __init__(self, sam, clip, describer, points_per_side: int = 32, pred_iou_thresh: float = 0.88,
                 stability_score_thresh: float = 0.95, min_mask_region_area: int = 0, max_masks: int = 64,
                 visual: str = "roi", crop_margin: float = 0.1, points_per_batch: int = 64):
        if visual not in VISUAL_MODES:
            raise ValueError(f"visual guidance must be one of {VISUAL_MODES}, got {visual!r}")
        self.clip, self.describer, self.visual = clip, describer, visual
        self.max_masks, self.crop_margin = int(max_masks), float(crop_margin)
        self._shared = _SharedFeatures()
        self.generators = []
        for name, level in GRANULARITIES:
            gen = SamAutomaticMaskGenerator(
                sam, points_per_side=points_per_side, points_per_batch=points_per_batch,
                pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh,
                min_mask_region_area=min_mask_region_area, output_mode="binary_mask")
            gen.predictor = LevelPredictor(sam, level, self._shared)
            self.generators.append((name, gen))
        self._counter = 0

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> dict:
        image = np.ascontiguousarray(image if image.ndim == 3 else np.repeat(image[:, :, None], 3, 2))
        self._counter += 1
        dense = self.clip.dense_features(image) if self.visual == "roi" else None
        out = {}
        for name, gen in self.generators:
            gen.predictor.image_key = self._counter
            anns = sorted(gen.generate(image), key=lambda a: -a["predicted_iou"])[: self.max_masks]
            anns = [a for a in anns if a["segmentation"].any()]
            out[name] = self._describe(image, anns, dense)
        self._shared.state = None
        return out

    def _describe(self, image, anns, dense) -> GranularityGuidance:
        h, w = image.shape[:2]
        masks = np.stack([a["segmentation"] for a in anns]) if anns else np.zeros((0, h, w), bool)
        crops = [masked_crop(image, m, self.crop_margin) for m in masks]
        visual = roi_pool_masks(dense, masks) if self.visual == "roi" else self.clip.encode_crops(crops)
        d = self.describer.describe(crops, visual)
        return GranularityGuidance.from_masks(masks, visual, d.short, d.long, d.names, d.long_names,
                                              d.vocab_index, [a["predicted_iou"] for a in anns])


def semantic_labels(guidance: dict, ignore_index: int = 255) -> np.ndarray:
    """A per-pixel label map at the image's resolution from the ``semantic`` granularity:
    each mask painted with its vocabulary index, larger masks first so smaller ones stay on top."""
    g: GranularityGuidance = guidance["semantic"]
    lab = np.full((g.height, g.width), ignore_index, np.int64)
    masks = g.unpack_masks()
    for k in np.argsort([-m.sum() for m in masks], kind="stable"):
        if g.vocab_index[k] >= 0:
            lab[masks[k]] = g.vocab_index[k]
    return lab
