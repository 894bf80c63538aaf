"""The whole SEAL model: EventSAM backbone + fusion neck + mask classification head.

Attribute names (``eventsam``, ``neck``, ``in_proj``, ``pe_layer``, ``fuse``,
``out_proj``) and their order are those of the published ``seal.pt``.

Stages (so the predictor can cache what does not change):

1. :meth:`Seal.encode_image` - the ViT once per event window: SAM image
   embeddings (B, 256, 32, 32) and the last block's features before SAM's neck
   (B, 32, 32, 768).
2. :meth:`Seal.fuse_text` - the fusion neck, once per (window, vocabulary).
3. :meth:`Seal.decode` - SAM's prompt encoder + mask decoder, per prompt set:
   three multimask logits, IoU predictions and mask tokens.
4. :meth:`Seal.classify_candidates` - per candidate mask: spatial query (the
   authors' RoI rule, :mod:`.spatial`), masked cross-attention, projection to the
   text space, 100 x (normalised embedding . classifier row), softmax; then the
   kept candidate (empty masks dropped, highest SAM-IoU x class probability).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from torch import nn

from .enhance import MaskedCrossAttention, PositionEmbeddingRandom, mask_to_grid
from .fusion import FusionNeck
from .mask_tokens import predict_masks_with_tokens
from .spatial import masks_to_boxes, spatial_query

__all__ = ["Seal", "LOGIT_SCALE", "choose_candidates"]

LOGIT_SCALE = 100.0


def choose_candidates(nonempty: torch.Tensor, iou: torch.Tensor, class_prob: torch.Tensor) -> torch.Tensor:
    """Index (N,) of the kept multimask output: empty masks dropped, then the highest
    SAM-IoU x class probability; a prompt whose three masks are all empty keeps the
    highest IoU (its result is an empty, unclassified mask)."""
    iou = iou.float()
    score = torch.where(nonempty, iou * class_prob.float(), torch.full_like(iou, -torch.inf))
    return torch.where(nonempty.any(dim=1), score.argmax(dim=1), iou.argmax(dim=1))


class Seal(nn.Module):
    def __init__(self, eventsam: Sam, neck: FusionNeck, fuse: MaskedCrossAttention,
                 text_dim: int = 768, roi_size: int = 7) -> None:
        super().__init__()
        dim = neck.in_proj.out_features
        token_dim = eventsam.mask_decoder.transformer_dim
        self.eventsam = eventsam
        self.neck = neck
        self.in_proj = nn.Linear(dim + token_dim, dim)
        self.pe_layer = PositionEmbeddingRandom(dim // 2)
        self.fuse = fuse
        self.out_proj = nn.Linear(dim, text_dim)
        self.roi_size = roi_size

    # -- geometry ---------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.eventsam.image_encoder.img_size

    @property
    def grid_size(self) -> int:
        return self.eventsam.prompt_encoder.image_embedding_size[0]

    # -- stage 1: backbone ------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, S, S), already normalised -> (SAM embeddings (B, 256, g, g),
        ViT features before SAM's neck (B, g, g, 768))."""
        enc = self.eventsam.image_encoder
        x = enc.patch_embed(images)
        if enc.pos_embed is not None:
            x = x + enc.pos_embed
        for blk in enc.blocks:
            x = blk(x)
        emb = enc.neck(x.permute(0, 3, 1, 2))
        return emb, x

    # -- stage 2: fusion with the vocabulary ----------------------------------
    def fuse_text(self, vit_feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B, g, g, 768), (C, 768) -> fused (B, g, g, 256)."""
        return self.neck(vit_feats, text)

    # -- stage 3: SAM decoder ---------------------------------------------------
    def decode(self, image_embeddings: torch.Tensor, boxes: Optional[torch.Tensor] = None,
               points: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
               embeddings: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One image (1, 256, g, g); N prompts in model pixels (boxes (N, 4); points
        (N, K, 2) with labels (N, K)), or their (sparse, dense) prompt ``embeddings``
        already made (the ONNX graph, :mod:`seal_ros.seal.onnx.graphs`) -> multimask
        (logits (N, 3, 4g, 4g), IoU (N, 3), mask tokens (N, 3, 256))."""
        pe = self.eventsam.prompt_encoder
        pts = (points, labels) if points is not None else None
        sparse, dense = embeddings if embeddings is not None else pe(points=pts, boxes=boxes, masks=None)
        sparse = sparse.to(image_embeddings.dtype)
        dense = dense.to(image_embeddings.dtype)
        masks, iou, tokens = predict_masks_with_tokens(
            self.eventsam.mask_decoder, image_embeddings,
            pe.get_dense_pe().to(image_embeddings.dtype), sparse, dense)
        return masks[:, 1:], iou[:, 1:], tokens[:, 1:]

    def upscale_masks(self, low_res: torch.Tensor) -> torch.Tensor:
        """(..., h, w) logits -> (..., S, S) logits (bilinear, as SAM's postprocess)."""
        shape = low_res.shape
        s = self.image_size
        up = F.interpolate(low_res.reshape(-1, 1, shape[-2], shape[-1]).float(), (s, s),
                           mode="bilinear", align_corners=False)
        return up.reshape(*shape[:-2], s, s)

    # -- stage 4: classification head ------------------------------------------
    def embed_masks(self, fused: torch.Tensor, masks: torch.Tensor, tokens: torch.Tensor,
                    batch_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """fused (B, g, g, D); masks (M, S, S) bool; tokens (M, 256) -> L2-normalised (M, text_dim).

        The mask enters twice, both times max-pooled to the g x g grid: its RoI box
        (:mod:`.spatial`, the authors' rule) and the cells the enhancement may attend to."""
        b, g, _, d = fused.shape
        feats = fused.permute(0, 3, 1, 2)
        grid = mask_to_grid(masks, g)
        q = spatial_query(self.in_proj, feats, grid, tokens.to(fused.dtype), self.roi_size, batch_index)
        pe = self.pe_layer((g, g)).to(fused.dtype).flatten(1).transpose(0, 1)  # (g*g, D)
        values = fused.reshape(b, g * g, d)
        keys = values + pe
        if batch_index is not None and b > 1:
            keys, values = keys[batch_index], values[batch_index]
        x = self.fuse(q.to(fused.dtype), keys, values, grid.flatten(1))
        return F.normalize(self.out_proj(x).float(), dim=-1)

    @staticmethod
    def class_logits(mask_embeddings: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
        """(M, E) L2-normalised mask embeddings against the (C, E) classifier rows *as given*
        (the authors' ``roi_features_norm @ fusion[0].t() * 100``): a vocabulary encoded
        with CLIP is normalised when it is encoded, a classifier file is used unchanged."""
        return (mask_embeddings.float() @ classifier.float().t()) * LOGIT_SCALE

    def classify_candidates(self, fused: torch.Tensor, classifier: torch.Tensor, masks: torch.Tensor,
                            iou: torch.Tensor, tokens: torch.Tensor) -> Dict[str, torch.Tensor]:
        """SAM's candidates of N prompts -> classes and the kept candidate, no host syncs.

        masks (N, K, S, S) bool at the model input size, iou (N, K), tokens (N, K, T).
        Returns ``probs`` (N, K, C) (the authors' costmap), ``class_prob``/``class_index``
        (N, K) (its max and argmax), ``nonempty`` (N, K) and ``choice`` (N,): empty masks
        dropped, then the highest SAM-IoU x class probability (first on ties)."""
        n, k = masks.shape[:2]
        e = self.embed_masks(fused, masks.flatten(0, 1), tokens.flatten(0, 1))
        probs = self.class_logits(e, classifier).softmax(dim=-1).view(n, k, -1)
        pmax, parg = probs.max(dim=-1)
        nonempty = masks.flatten(2).any(dim=2)
        return {"probs": probs, "class_prob": pmax, "class_index": parg, "nonempty": nonempty,
                "choice": choose_candidates(nonempty, iou, pmax)}

    def segment_and_classify(self, image_embeddings: torch.Tensor, fused: Optional[torch.Tensor],
                             text: Optional[torch.Tensor], boxes: Optional[torch.Tensor] = None,
                             points: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                             out_size: Optional[Tuple[int, int]] = None,
                             embeddings: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
                             ) -> Dict[str, torch.Tensor]:
        """Prompts -> chosen mask and class per prompt, all on the device, without host
        syncs (so it can be captured in a CUDA graph).

        ``text`` (the classifier rows) None: no classification (the highest IoU wins).
        Returns, per prompt: ``masks`` (N, H, W) bool at ``out_size`` (default model
        size), ``model_masks`` (N, S, S) the chosen mask at the model size (the one the
        head classified), ``boxes`` (N, 4) of ``masks`` (x1, y1 exclusive; zeros when
        empty), ``choice`` (N,), and per candidate ``iou``/``class_prob`` (N, 3),
        ``class_index`` (N, 3) (-1 unclassified), ``nonempty`` (N, 3).
        """
        low, iou, tokens = self.decode(image_embeddings, boxes=boxes, points=points, labels=labels,
                                       embeddings=embeddings)
        n = low.shape[0]
        up = self.upscale_masks(low)  # (N, 3, S, S) logits
        masks = up > 0
        iou = iou.float()
        if text is not None and fused is not None:
            cls = self.classify_candidates(fused, text, masks, iou, tokens)
            pmax, parg, nonempty, choice = cls["class_prob"], cls["class_index"], cls["nonempty"], cls["choice"]
        else:
            nonempty = masks.flatten(2).any(dim=2)
            pmax = torch.ones_like(iou)
            parg = torch.full_like(iou, -1, dtype=torch.long)
            choice = choose_candidates(nonempty, iou, pmax)
        rows = torch.arange(n, device=up.device)
        chosen = up[rows, choice]
        model_masks = masks[rows, choice]
        if out_size is not None and tuple(out_size) != tuple(chosen.shape[-2:]):
            chosen = F.interpolate(chosen[:, None], tuple(out_size), mode="bilinear",
                                   align_corners=False)[:, 0]
            out_masks = chosen > 0
        else:
            out_masks = model_masks
        boxes_out = masks_to_boxes(out_masks) * out_masks.flatten(1).any(dim=1, keepdim=True)
        return {"masks": out_masks, "model_masks": model_masks, "boxes": boxes_out, "choice": choice,
                "iou": iou, "class_prob": pmax, "class_index": parg, "nonempty": nonempty}

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, text: torch.Tensor) -> dict:
        """Whole pipeline on one image (1, 3, S, S) with N boxes (N, 4) in model pixels.

        Returns ``masks`` (N, 3, S, S) bool, ``iou`` (N, 3), ``probs`` (N, 3, C)."""
        emb, vit = self.encode_image(images)
        fused = self.fuse_text(vit, text)
        low, iou, tokens = self.decode(emb, boxes=boxes)
        masks = self.upscale_masks(low) > 0
        probs = self.classify_candidates(fused, text, masks, iou, tokens)["probs"]
        return {"masks": masks, "iou": iou, "probs": probs}
