"""Registry of SEAL builders: full ViT-B size and tiny configurations for tests.

``build_seal("vit_b")`` is the published architecture (99.1M parameters);
``build_seal("tiny")`` has the same classes and structure at toy sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Dict, Optional, Tuple

import torch
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)

from .modeling.enhance import MaskedCrossAttention
from .modeling.fusion import FusionNeck
from .modeling.seal import Seal

__all__ = ["SealConfig", "CONFIGS", "build_eventsam", "build_seal", "count_parameters"]


@dataclass(frozen=True)
class SealConfig:
    image_size: int = 512
    patch_size: int = 16
    encoder_dim: int = 768
    encoder_depth: int = 12
    encoder_heads: int = 12
    encoder_global: Tuple[int, ...] = (2, 5, 8, 11)
    window_size: int = 14
    prompt_dim: int = 256
    decoder_depth: int = 2
    decoder_heads: int = 8
    decoder_mlp: int = 2048
    mask_in_chans: int = 16
    # SEAL head
    neck_dim: int = 256
    neck_depth: int = 6
    neck_heads: int = 16
    neck_mlp: int = 1024
    neck_window: int = 14
    neck_global: Tuple[int, ...] = (5,)
    fuse_heads: int = 16
    fuse_mlp: int = 1024
    text_dim: int = 768
    roi_size: int = 7

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size


CONFIGS: Dict[str, SealConfig] = {
    "vit_b": SealConfig(),
    # Same structure at toy sizes: 128 px input, 8x8 tokens, windows of 4.
    "tiny": SealConfig(image_size=128, encoder_dim=32, encoder_depth=2, encoder_heads=2,
                       encoder_global=(1,), window_size=4, prompt_dim=32, decoder_heads=2,
                       decoder_mlp=64, mask_in_chans=4, neck_dim=32, neck_depth=2, neck_heads=2,
                       neck_mlp=64, neck_window=4, neck_global=(1,), fuse_heads=2, fuse_mlp=64,
                       text_dim=16),
}


def _config(name_or_cfg, **overrides) -> SealConfig:
    cfg = CONFIGS[name_or_cfg] if isinstance(name_or_cfg, str) else name_or_cfg
    return replace(cfg, **overrides) if overrides else cfg


def build_eventsam(config="vit_b", checkpoint: Optional[str] = None,
                   sam_checkpoint: Optional[str] = None, **overrides) -> Sam:
    """A segment-anything ``Sam`` at the configured input size (512 for ``vit_b``).

    ``checkpoint``: ``eventsam.pth`` (student encoder) and ``sam_checkpoint``:
    ``sam_vit_b_01ec64.pth`` (prompt encoder and mask decoder; also the
    image encoder, resized to 512, when ``checkpoint`` is None)."""
    cfg = _config(config, **overrides)
    g = cfg.grid_size
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=cfg.image_size, patch_size=cfg.patch_size, embed_dim=cfg.encoder_dim,
            depth=cfg.encoder_depth, num_heads=cfg.encoder_heads, mlp_ratio=4,
            out_chans=cfg.prompt_dim, qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            global_attn_indexes=tuple(cfg.encoder_global), window_size=cfg.window_size),
        prompt_encoder=PromptEncoder(
            embed_dim=cfg.prompt_dim, image_embedding_size=(g, g),
            input_image_size=(cfg.image_size, cfg.image_size), mask_in_chans=cfg.mask_in_chans),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=cfg.decoder_depth, embedding_dim=cfg.prompt_dim,
                                          mlp_dim=cfg.decoder_mlp, num_heads=cfg.decoder_heads),
            transformer_dim=cfg.prompt_dim, iou_head_depth=3, iou_head_hidden_dim=cfg.prompt_dim),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    sam.eval()
    if checkpoint is not None or sam_checkpoint is not None:
        from .checkpoint import load_eventsam
        load_eventsam(sam, eventsam_path=checkpoint, sam_path=sam_checkpoint)
    return sam


def build_seal(config="vit_b", checkpoint: Optional[str] = None, **overrides) -> Seal:
    """The whole SEAL model; ``checkpoint`` is ``seal.pt`` (loaded strictly)."""
    cfg = _config(config, **overrides)
    neck = FusionNeck(in_dim=cfg.encoder_dim, text_dim=cfg.text_dim, dim=cfg.neck_dim,
                      depth=cfg.neck_depth, num_heads=cfg.neck_heads, mlp_dim=cfg.neck_mlp,
                      window_size=cfg.neck_window, grid_size=cfg.grid_size,
                      global_blocks=cfg.neck_global)
    fuse = MaskedCrossAttention(cfg.neck_dim, cfg.fuse_heads, cfg.fuse_mlp)
    model = Seal(build_eventsam(cfg), neck, fuse, text_dim=cfg.text_dim, roi_size=cfg.roi_size)
    model.eval()
    if checkpoint is not None:
        from .checkpoint import load_seal
        load_seal(model, checkpoint)
    return model


def count_parameters(module: torch.nn.Module) -> int:
    """Number of parameters (buffers such as the Fourier matrix not counted)."""
    return sum(p.numel() for p in module.parameters())
