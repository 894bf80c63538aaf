"""Semantic-E2VID: an E2VID-style recurrent UNet whose bottleneck features are
aligned to SAM image-encoder features and fused back before decoding.

Modules (each usable on its own by a trainer):

* :class:`CrossModalAlignment` - projects event features into a semantic
  space (``semantic``, computed from events only) and predicts SAM features
  from it (``sam_pred``); at training time the projected event features also
  attend over SAM tokens (multi-head cross-attention, ``attended``).
  :func:`alignment_loss` = cosine distance of ``sam_pred`` and of
  ``to_sam(attended)`` to the SAM features, plus MSE ``semantic`` vs
  ``attended``: the event-only semantic features are pulled toward SAM's,
  rearranged by attention at the event features' positions (the second term
  keeps the attended features informative, so they cannot collapse).
* :class:`SemanticFusion` - residual, gated fusion of the semantic features
  into the event features: ``x + sigmoid(g([x, s])) * f(s)``.
* :class:`SemanticHead` - per-pixel class logits from the semantic features,
  trained with cross-entropy against SAM-derived class labels
  (:func:`semantic_loss`); not used at inference.

Inference needs only events: ``forward(voxel, states)`` -> ``(image, states)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .e2vid import UNetRecurrent


class CrossModalAlignment(nn.Module):
    def __init__(self, event_channels, sam_channels=256, dim=128, num_heads=4):
        super().__init__()
        self.event_proj = nn.Sequential(nn.Conv2d(event_channels, dim, 1), nn.ReLU(),
                                        nn.Conv2d(dim, dim, 3, padding=1))
        self.sam_proj = nn.Conv2d(sam_channels, dim, 1)
        self.attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.to_sam = nn.Conv2d(dim, sam_channels, 1)

    def forward(self, event_features, sam_features=None):
        semantic = self.event_proj(event_features)
        out = {"semantic": semantic, "sam_pred": self.to_sam(semantic)}
        if sam_features is not None:
            n, d, h, w = semantic.shape
            sam = self.sam_proj(sam_features)
            q = semantic.flatten(2).transpose(1, 2)  # (N, h*w, d)
            kv = sam.flatten(2).transpose(1, 2)
            att, _ = self.attention(q, kv, kv, need_weights=False)
            out["attended"] = att.transpose(1, 2).reshape(n, d, h, w)
            out["attended_sam"] = self.to_sam(out["attended"])
        return out


def alignment_loss(aligned: dict, sam_features: torch.Tensor) -> torch.Tensor:
    """Cosine distances of the predicted SAM features (from event-only and from
    attended semantics) to the real ones, resized to the prediction's grid,
    plus MSE between event-only and attended semantics."""
    pred = aligned["sam_pred"]
    target = F.interpolate(sam_features, size=pred.shape[-2:], mode="bilinear", align_corners=False)
    loss = (1.0 - F.cosine_similarity(pred, target, dim=1)).mean()
    if "attended" in aligned:
        loss = loss + (1.0 - F.cosine_similarity(aligned["attended_sam"], target, dim=1)).mean()
        loss = loss + F.mse_loss(aligned["semantic"], aligned["attended"])
    return loss


class SemanticFusion(nn.Module):
    def __init__(self, event_channels, semantic_channels):
        super().__init__()
        self.gate = nn.Conv2d(event_channels + semantic_channels, event_channels, 1)
        self.value = nn.Sequential(nn.Conv2d(semantic_channels, event_channels, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(event_channels, event_channels, 1))
        nn.init.zeros_(self.value[2].weight)  # starts as the identity: plain E2VID
        nn.init.zeros_(self.value[2].bias)

    def forward(self, x, semantic):
        g = torch.sigmoid(self.gate(torch.cat([x, semantic], dim=1)))
        return x + g * self.value(semantic)


class SemanticHead(nn.Module):
    def __init__(self, semantic_channels, num_classes):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(semantic_channels, semantic_channels, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(semantic_channels, num_classes, 1)

    def forward(self, semantic, size=None):
        logits = self.classifier(self.conv(semantic))
        if size is not None:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits


def semantic_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -1) -> torch.Tensor:
    """Cross-entropy of ``logits`` (N, C, h, w) against SAM-derived labels (N, H, W), at the labels' size."""
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, labels.long(), ignore_index=ignore_index)


class SemanticE2VID(nn.Module):
    """E2VID + cross-modal alignment + semantic fusion (+ semantic head for training)."""

    def __init__(self, num_bins=5, base_num_channels=32, num_encoders=3, num_residual_blocks=2, skip_type="sum",
                 recurrent_block_type="convlstm", norm=None, use_upsample_conv=True, kernel_size=5,
                 sam_channels=256, semantic_channels=128, num_heads=4, num_classes=0,
                 final_activation="sigmoid", **_unused):
        super().__init__()
        self.num_bins = int(num_bins)
        self.num_encoders = int(num_encoders)
        self.config = dict(num_bins=self.num_bins, base_num_channels=int(base_num_channels),
                           num_encoders=self.num_encoders, num_residual_blocks=int(num_residual_blocks),
                           skip_type=skip_type, recurrent_block_type=recurrent_block_type, norm=norm,
                           use_upsample_conv=bool(use_upsample_conv), kernel_size=int(kernel_size),
                           sam_channels=int(sam_channels), semantic_channels=int(semantic_channels),
                           num_heads=int(num_heads), num_classes=int(num_classes), final_activation=final_activation)
        self.unet = UNetRecurrent(num_bins=num_bins, base_num_channels=base_num_channels, num_encoders=num_encoders,
                                  num_residual_blocks=num_residual_blocks, skip_type=skip_type,
                                  recurrent_block_type=recurrent_block_type, norm=norm,
                                  use_upsample_conv=use_upsample_conv, kernel_size=kernel_size,
                                  final_activation=final_activation)
        bottleneck = self.unet.encoder_channels[-1]
        self.alignment = CrossModalAlignment(bottleneck, int(sam_channels), int(semantic_channels), int(num_heads))
        self.fusion = SemanticFusion(bottleneck, int(semantic_channels))
        self.semantic_head = SemanticHead(int(semantic_channels), int(num_classes)) if int(num_classes) > 0 else None

    def forward(self, x, states=None, sam_features=None, return_features=False):
        head, blocks, states = self.unet.encode(x, states)
        aligned = self.alignment(blocks[-1], sam_features)
        fused = self.fusion(blocks[-1], aligned["semantic"])
        img = self.unet.decode(fused, head, blocks)
        if not return_features:
            return img, states
        feats = dict(aligned, event_features=blocks[-1], fused=fused)
        if self.semantic_head is not None:
            feats["logits"] = self.semantic_head(aligned["semantic"])
        return img, states, feats
