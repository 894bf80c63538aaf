"""CLIP image + text towers for MHSG guidance.

SEAL's guidance space is OpenAI CLIP ViT-L/14@336px (768-d), the same space as
the segmenter's text classifier. The model comes from the package's one CLIP
loader, :func:`seal_ros.seal.text.load_clip_model` (OpenAI's TorchScript file or
open_clip's files); :func:`build_tiny_clip` is the random toy CLIP of the tests,
whose text tower is exactly :func:`seal_ros.seal.text.build_tiny_text_encoder`
(so a tiny model trained here classifies with the same encoder in the node).

Visual guidance (see :mod:`seal_ros.train.mhsg`):

- :meth:`ClipBundle.dense_features`: the image tower's patch tokens after its
  final LayerNorm and projection, i.e. per-patch embeddings in the joint space,
  on the whole image resized to the tower's square input;
- :meth:`ClipBundle.encode_crops`: global embeddings of image crops (the
  labelled ``crop`` option).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F

from seal_ros.seal.text import CLIP_MODEL_NAME, TINY_CLIP_TOKENIZER, TextEncoder, text_encoder_of

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class ClipBundle:
    model: torch.nn.Module  # open_clip CLIP: encode_image / encode_text / visual
    text: TextEncoder
    image_size: int
    dim: int

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _normalise(self, images: list[np.ndarray]) -> torch.Tensor:
        mean = torch.tensor(OPENAI_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_STD, device=self.device).view(1, 3, 1, 1)
        xs = []
        for c in images:
            t = torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)[None].float() / 255.0
            xs.append(F.interpolate(t, (self.image_size, self.image_size), mode="bicubic",
                                    align_corners=False).clamp(0, 1))
        return (torch.cat(xs).to(self.device) - mean) / std

    @torch.no_grad()
    def encode_crops(self, crops: list[np.ndarray], batch: int = 64) -> torch.Tensor:
        """uint8 (h, w, 3) crops (any size) -> (M, dim) L2-normalised embeddings (float32, cpu)."""
        if not crops:
            return torch.zeros(0, self.dim)
        out = [F.normalize(self.model.encode_image(self._normalise(crops[i:i + batch])).float(), dim=-1).cpu()
               for i in range(0, len(crops), batch)]
        return torch.cat(out)

    @torch.no_grad()
    def dense_features(self, image: np.ndarray) -> torch.Tensor:
        """uint8 (H, W, 3) -> (dim, g, g) float32 per-patch embeddings (cpu), not normalised."""
        visual = self.model.visual
        was = getattr(visual, "output_tokens", False)
        visual.output_tokens = True
        try:
            _, tokens = visual(self._normalise([image]))
        finally:
            visual.output_tokens = was
        # open_clip returns the patch tokens after ln_post, before the projection
        if getattr(visual, "proj", None) is not None:
            tokens = tokens @ visual.proj
        g = int(round(tokens.shape[1] ** 0.5))
        return tokens[0].float().reshape(g, g, -1).permute(2, 0, 1).contiguous().cpu()


def build_clip(pretrained, device="cpu", model_name: str = CLIP_MODEL_NAME) -> ClipBundle:
    """CLIP from a local file (refused with a clear error when missing)."""
    import open_clip

    from seal_ros.seal.text import load_clip_model

    clip = load_clip_model(Path(pretrained) if pretrained else None, model_name, device=device)
    return _bundle(clip, text_encoder_of(clip, open_clip.get_tokenizer(model_name), model_name))


def build_tiny_clip(dim: int = 16, seed: int = 0, image_size: int = 32) -> ClipBundle:
    """The random toy CLIP of :func:`seal_ros.seal.text.build_tiny_clip_model` (tests)."""
    import open_clip

    from seal_ros.seal.text import build_tiny_clip_model

    clip = build_tiny_clip_model(dim, seed, image_size)
    return _bundle(clip, text_encoder_of(clip, open_clip.get_tokenizer(TINY_CLIP_TOKENIZER), "tiny"))


def _bundle(clip, text: TextEncoder) -> ClipBundle:
    size = clip.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    return ClipBundle(clip, text, int(size), int(text.dim))


def clip_text_spec(g: dict) -> dict:
    """How to rebuild the text encoder of a guidance config (written into exports)."""
    if g["clip"] == "tiny":
        return {"kind": "tiny", "dim": int(g["tiny_dim"]), "seed": int(g["seed"])}
    return {"kind": "clip", "model_name": g["clip_model"], "file": str(g["clip"])}

