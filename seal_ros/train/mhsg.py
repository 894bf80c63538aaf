"""MHSG: multi-granularity guidance from the paired image (no labels).

For each paired image:

1. SAM's automatic mask generation (segment-anything's
   ``SamAutomaticMaskGenerator``) at three granularities, one per multimask
   output of SAM's decoder: ``semantic`` = whole (index 2), ``instance`` = part
   (index 1), ``part`` = sub-part (index 0). The image is encoded once; each
   granularity's generator sees only its own multimask level.
2. Visual guidance: a CLIP image embedding per mask, from a crop of the mask's
   box (margin ``crop_margin``) with the pixels outside the mask set to grey.
3. Textual guidance: a describer names the mask (default: CLIP zero-shot over
   a vocabulary with templates) and the name's CLIP text embedding is kept.

Masks are stored at ``mask_size`` x ``mask_size`` (the event model's input
frame: the image is resized there without keeping its aspect ratio), with
their boxes in that frame. See :mod:`seal_ros.train.guidance_cache` for the
on-disk shards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor

GRANULARITIES = (("semantic", 2), ("instance", 1), ("part", 0))


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


@dataclass
class GranularityGuidance:
    masks: np.ndarray  # uint8 packed bits of (K, S, S) bool (np.packbits on the last axis)
    boxes: np.ndarray  # float32 (K, 4) x0, y0, x1, y1 in the S x S frame
    visual: torch.Tensor  # float16 (K, D)
    textual: torch.Tensor  # float16 (K, D)
    names: list = field(default_factory=list)
    vocab_index: np.ndarray = None  # int64 (K,), -1 when the describer has no vocabulary
    scores: np.ndarray = None  # float32 (K,) SAM predicted IoU

    def unpack_masks(self, size: int) -> np.ndarray:
        if self.masks.shape[0] == 0:
            return np.zeros((0, size, size), bool)
        return np.unpackbits(self.masks, axis=-1, count=size).astype(bool)


def _crop(image: np.ndarray, mask: np.ndarray, margin: float) -> np.ndarray:
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


class GuidanceGenerator:
    """Computes the three granularities' guidance for one RGB uint8 image."""

    def __init__(self, sam, clip, describer, mask_size: int, points_per_side: int = 32,
                 pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95,
                 min_mask_region_area: int = 0, max_masks: int = 64, crop_margin: float = 0.1,
                 points_per_batch: int = 64):
        self.clip, self.describer = clip, describer
        self.mask_size = int(mask_size)
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
        out = {}
        for name, gen in self.generators:
            gen.predictor.image_key = self._counter
            anns = sorted(gen.generate(image), key=lambda a: -a["predicted_iou"])[: self.max_masks]
            out[name] = self._describe(image, anns)
        self._shared.state = None
        return out

    def _describe(self, image, anns) -> GranularityGuidance:
        s = self.mask_size
        masks = [a["segmentation"] for a in anns if a["segmentation"].any()]
        scores = np.array([a["predicted_iou"] for a in anns if a["segmentation"].any()], np.float32)
        crops = [_crop(image, m, self.crop_margin) for m in masks]
        visual = self.clip.encode_crops(crops)
        names, textual, vidx = self.describer.describe(crops, visual)
        small = [cv2.resize(m.astype(np.uint8), (s, s), interpolation=cv2.INTER_NEAREST) > 0 for m in masks]
        keep = [i for i, m in enumerate(small) if m.any()]
        small = [small[i] for i in keep]
        boxes = np.zeros((len(keep), 4), np.float32)
        for k, m in enumerate(small):
            ys, xs = np.nonzero(m)
            boxes[k] = (xs.min(), ys.min(), xs.max(), ys.max())
        packed = np.packbits(np.stack(small), axis=-1) if small else np.zeros((0, s, (s + 7) // 8), np.uint8)
        return GranularityGuidance(
            masks=packed, boxes=boxes, visual=visual[keep].half(), textual=textual[keep].half(),
            names=[names[i] for i in keep], vocab_index=np.asarray(vidx, np.int64)[keep],
            scores=scores[keep] if len(scores) else np.zeros(0, np.float32))


def semantic_labels(guidance: dict, size: int, ignore_index: int = 255) -> np.ndarray:
    """A per-pixel label map (size x size) from the ``semantic`` granularity: each mask
    painted with its vocabulary index, larger masks first so smaller ones stay on top."""
    g: GranularityGuidance = guidance["semantic"]
    lab = np.full((size, size), ignore_index, np.int64)
    masks = g.unpack_masks(size)
    for k in np.argsort([-m.sum() for m in masks]):
        if g.vocab_index[k] >= 0:
            lab[masks[k]] = g.vocab_index[k]
    return lab
