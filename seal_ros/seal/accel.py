"""Inference speed-ups that keep the weights and the maths: fused attention
(``scaled_dot_product_attention`` with the relative-position bias) in SAM's
encoder and SEAL's neck, and optional ``torch.compile`` of the stages.

Mixed precision is the predictor's ``dtype`` (autocast), not a weight cast.
"""
from __future__ import annotations

from typing import Optional

import torch

from .modeling.attention import use_fused_attention
from .modeling.seal import Seal

__all__ = ["optimize_model"]

_STAGES = ("encode_image", "fuse_text", "decode", "embed_masks")


def optimize_model(model: Seal, fused_attention: bool = True, compile: bool = False,
                   compile_mode: Optional[str] = None) -> Seal:
    """In place: switch attention to SDPA and, optionally, compile each stage.

    ``compile_mode`` is passed to ``torch.compile`` (e.g. ``"max-autotune-no-cudagraphs"``);
    CUDA-graph modes are not used because cached stage outputs outlive a replay.
    """
    use_fused_attention(model, fused_attention)
    if compile:
        for name in _STAGES:
            fn = getattr(type(model), name).__get__(model)
            setattr(model, name, torch.compile(fn, mode=compile_mode, dynamic=None))
    return model
