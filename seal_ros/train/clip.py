"""CLIP image + text towers for MHSG guidance (open_clip, weights from a local file).

SEAL's guidance space is OpenAI CLIP ViT-L/14@336px (768-d), the same space as
the segmenter's text classifier; ``build_clip`` loads it from a local file
(``pretrained=None`` gives random weights, for timing only). ``build_tiny_clip``
is a random toy CLIP of the same classes for tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from seal_ros.seal.text import CLIP_MODEL_NAME, TextEncoder

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class ClipBundle:
    model: torch.nn.Module  # has encode_image / encode_text
    text: TextEncoder
    image_size: int
    dim: int

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode_crops(self, crops: list[np.ndarray], batch: int = 64) -> torch.Tensor:
        """uint8 (h, w, 3) crops (any size) -> (M, dim) L2-normalised embeddings (float32, cpu)."""
        if not crops:
            return torch.zeros(0, self.dim)
        mean = torch.tensor(OPENAI_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_STD, device=self.device).view(1, 3, 1, 1)
        out = []
        for i in range(0, len(crops), batch):
            xs = []
            for c in crops[i:i + batch]:
                t = torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)[None].float() / 255.0
                xs.append(F.interpolate(t, (self.image_size, self.image_size), mode="bicubic",
                                        align_corners=False).clamp(0, 1))
            x = (torch.cat(xs).to(self.device) - mean) / std
            out.append(F.normalize(self.model.encode_image(x).float(), dim=-1).cpu())
        return torch.cat(out)


class _Text(torch.nn.Module):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def encode_text(self, tokens):
        return self.clip.encode_text(tokens)


def build_clip(pretrained: Optional[str], device="cpu", model_name: str = CLIP_MODEL_NAME) -> ClipBundle:
    import open_clip

    if pretrained is not None and not Path(pretrained).is_file():
        raise FileNotFoundError(f"CLIP weights not found: {pretrained}")
    clip = open_clip.create_model(model_name, pretrained=str(pretrained) if pretrained else None,
                                  device="cpu").eval().to(device)
    size = clip.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    dim = int(clip.text_projection.shape[1])
    text = TextEncoder(_Text(clip), open_clip.get_tokenizer(model_name), dim, name=model_name)
    return ClipBundle(clip, text, size, dim)


def build_tiny_clip(dim: int = 16, seed: int = 0, image_size: int = 32) -> ClipBundle:
    """A random CLIP with one-layer towers (tests): real tokenizer, ``dim``-d embeddings."""
    import open_clip
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        clip = CLIP(embed_dim=dim,
                    vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8,
                                             image_size=image_size),
                    text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2,
                                         layers=1)).eval()
    text = TextEncoder(_Text(clip), open_clip.get_tokenizer("ViT-B-32"), dim, name="tiny")
    return ClipBundle(clip, text, image_size, dim)
