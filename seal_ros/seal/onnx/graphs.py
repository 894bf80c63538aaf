"""The three exported graphs: torch modules over a :class:`~seal_ros.seal.modeling.seal.Seal`, the
same stages the torch predictor runs (:class:`~seal_ros.seal.predictor.SealPredictor`).

* :class:`BackboneGraph` - ``image`` uint8 (H, W, 3), any size -> ``embeddings`` (1, 256, g, g),
  ``vit`` (1, g, g, 768): the input convention (:mod:`seal_ros.seal.preprocess`) and the ViT.
* :class:`NeckGraph` - ``vit``, ``text`` (C, 768) classifier rows -> ``fused`` (1, g, g, 256).
* :class:`DecoderHeadGraph` - ``embeddings``, ``fused``, ``text``, ``coords`` (N, K, 2) model
  pixels, ``labels`` (N, K), ``image`` (only its size is read) -> ``masks`` (N, H, W) bool at the
  image size, ``model_masks`` (N, S, S) bool, ``small`` (N, 17) float: the predictor's packed
  per-prompt numbers (its ``_SMALL_FIELDS``, in that order). SAM's prompt encoder + mask decoder and SEAL's head,
  with the authors' RoI rule (``torchvision.ops.roi_align``, exported as ONNX ``RoiAlign`` with
  ``coordinate_transformation_mode="half_pixel"``, i.e. ``aligned=True``, adaptive sampling).

Prompts enter the decoder as points, as in segment-anything's own ONNX model: a box is its two
corners with labels 2 and 3, a point prompt has labels 1 (foreground) / 0 (background), and a
point set without a box ends with a padding point (label -1) - exactly the embeddings SAM's
``PromptEncoder`` makes (:func:`prompt_points` builds them, :func:`embed_prompt_points` embeds
them; tested equal).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from ..modeling.seal import Seal
from ..predictor import _SMALL_FIELDS as SMALL_FIELDS
from ..preprocess import normalize_event_tensor

__all__ = ["BackboneGraph", "NeckGraph", "DecoderHeadGraph", "prompt_points", "embed_prompt_points",
           "SMALL_FIELDS", "small_slices"]


def small_slices() -> dict:
    """Name -> column slice of the packed per-prompt numbers (``small``)."""
    out, at = {}, 0
    for name, width in SMALL_FIELDS:
        out[name] = slice(at, at + width)
        at += width
    return out


def prompt_points(boxes: Optional[torch.Tensor], points: Optional[torch.Tensor],
                  labels: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """The predictor's prompt tensors (model pixels) -> (coords (N, K, 2) float32, labels (N, K)
    int64), in the order SAM's prompt encoder embeds them: points first, then the box corners;
    a padding point (label -1) after points when there is no box."""
    parts_xy, parts_lab = [], []
    n = boxes.shape[0] if boxes is not None else points.shape[0]
    if points is not None:
        parts_xy.append(points.float())
        parts_lab.append(labels.to(torch.int64))
        if boxes is None:
            parts_xy.append(torch.zeros(n, 1, 2, device=points.device))
            parts_lab.append(torch.full((n, 1), -1, dtype=torch.int64, device=points.device))
    if boxes is not None:
        parts_xy.append(boxes.float().reshape(n, 2, 2))
        parts_lab.append(torch.tensor([[2, 3]], dtype=torch.int64, device=boxes.device).expand(n, 2))
    return torch.cat(parts_xy, dim=1), torch.cat(parts_lab, dim=1)


def embed_prompt_points(prompt_encoder, coords: torch.Tensor, labels: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(sparse (N, K, C), dense (N, C, g, g)) of SAM's ``PromptEncoder`` for (coords, labels) of
    :func:`prompt_points`: one add per point of its label's embedding, as SAM's in-place adds."""
    pe = prompt_encoder
    emb = pe.pe_layer.forward_with_coords(coords + 0.5, pe.input_image_size)
    table = torch.cat([pe.not_a_point_embed.weight] + [e.weight for e in pe.point_embeddings])  # (5, C)
    pad = (labels == -1)[..., None]
    sparse = torch.where(pad, torch.zeros_like(emb), emb) + table[labels + 1]
    g_h, g_w = pe.image_embedding_size
    dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(coords.shape[0], -1, g_h, g_w)
    return sparse, dense


class BackboneGraph(nn.Module):
    def __init__(self, model: Seal) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        x = normalize_event_tensor(image, self.model.image_size, torch.float32)
        return self.model.encode_image(x)


class NeckGraph(nn.Module):
    def __init__(self, model: Seal) -> None:
        super().__init__()
        self.model = model

    def forward(self, vit: torch.Tensor, text: torch.Tensor):
        return self.model.fuse_text(vit, text)


class DecoderHeadGraph(nn.Module):
    def __init__(self, model: Seal) -> None:
        super().__init__()
        self.model = model

    def forward(self, embeddings, fused, text, coords, labels, image):
        sparse, dense = embed_prompt_points(self.model.eventsam.prompt_encoder, coords, labels)
        out = self.model.segment_and_classify(embeddings, fused, text, embeddings=(sparse, dense),
                                              out_size=(image.shape[0], image.shape[1]))
        n = out["masks"].shape[0]
        small = torch.cat([out[k].reshape(n, w).float() for k, w in SMALL_FIELDS], dim=1)
        return out["masks"], out["model_masks"], small
