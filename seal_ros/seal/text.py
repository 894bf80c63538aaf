"""CLIP text embeddings of a vocabulary (SEAL's classifier rows).

SEAL uses OpenAI's CLIP ViT-L/14@336px text tower (768-d).  open_clip builds
it as ``ViT-L-14-336-quickgelu`` (OpenAI weights use QuickGELU) and loads a
local file with ``pretrained='/path/file'`` (OpenAI's ``ViT-L-14-336px.pt`` or
the open_clip/HF ``open_clip_model.safetensors``); the tokenizer ships inside
the open_clip wheel and works offline.  Each class name is put in every
prompt template, encoded, L2-normalised, averaged over templates and
normalised again (CLIP's prompt ensembling); one row per class.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DEFAULT_TEMPLATES", "PART_TEMPLATES", "TextEncoder", "build_clip_text_encoder",
           "build_tiny_text_encoder", "CLIP_MODEL_NAME"]

CLIP_MODEL_NAME = "ViT-L-14-336-quickgelu"

DEFAULT_TEMPLATES = (
    "a photo of a {}.",
    "a photo of the {}.",
    "a photo of a small {}.",
    "a photo of a large {}.",
    "a blurry photo of a {}.",
    "a black and white photo of a {}.",
)
PART_TEMPLATES = (
    "a photo of a {}.",
    "a photo of the {}, a part of an object.",
    "a close-up photo of a {}.",
)


class TextEncoder(nn.Module):
    """Wraps any module with ``encode_text(tokens)`` and a tokenizer."""

    def __init__(self, model: nn.Module, tokenizer: Callable, dim: int, name: str = "") -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.dim = int(dim)
        self.name = name
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode(self, names: Sequence[str], templates: Optional[Sequence[str]] = None) -> torch.Tensor:
        """names -> (C, dim) float32, rows L2-normalised, on the encoder's device."""
        names = [str(n) for n in names]
        if not names:
            raise ValueError("vocabulary is empty")
        templates = list(templates) if templates else list(DEFAULT_TEMPLATES)
        for t in templates:
            if "{}" not in t:
                raise ValueError(f"prompt template {t!r} has no '{{}}' placeholder")
        texts = [t.format(n) for n in names for t in templates]
        with self._lock:
            tokens = self.tokenizer(texts).to(self.device)
            feats = self.model.encode_text(tokens).float()
        feats = F.normalize(feats, dim=-1).view(len(names), len(templates), -1).mean(dim=1)
        return F.normalize(feats, dim=-1)


class _TextOnly(nn.Module):
    """open_clip model reduced to its text tower (the vision tower is dropped)."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(tokens)


def build_clip_text_encoder(pretrained: Optional[str | Path], device="cpu",
                            model_name: str = CLIP_MODEL_NAME) -> TextEncoder:
    """CLIP ViT-L/14@336px text encoder from a local file (``pretrained=None``: random)."""
    import open_clip

    if pretrained is not None and not Path(pretrained).is_file():
        raise FileNotFoundError(f"CLIP weights not found: {pretrained}")
    if pretrained is not None and _is_torchscript(pretrained):
        # OpenAI's own file is a TorchScript archive: torch.load(weights_only=True)
        # refuses it; torch.jit.load reads its tensors without unpickling Python objects.
        from open_clip.model import build_model_from_openai_state_dict

        state = dict(torch.jit.load(str(pretrained), map_location="cpu").state_dict())
        # derived constants, not weights (a scripted open_clip model carries its causal mask)
        state = {k: v for k, v in state.items() if not k.endswith("attn_mask")}
        clip = build_model_from_openai_state_dict(state, quick_gelu=True, cast_dtype=None).float()
    else:
        clip = open_clip.create_model(model_name, pretrained=str(pretrained) if pretrained else None,
                                      device="cpu")
    clip.visual = nn.Identity()  # text tower only: frees ~300M parameters
    clip.eval().to(device)
    tok = open_clip.get_tokenizer(model_name)
    dim = clip.text_projection.shape[1] if clip.text_projection is not None else clip.ln_final.weight.shape[0]
    return TextEncoder(_TextOnly(clip), tok, dim, name=model_name)


def _is_torchscript(path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 2)[1:2] == ["code"] for n in z.namelist())


def build_tiny_text_encoder(dim: int = 16, width: int = 32, seed: int = 0) -> TextEncoder:
    """A one-layer random open_clip text transformer with the real tokenizer (tests)."""
    import open_clip
    from open_clip.transformer import TextTransformer

    g = torch.random.fork_rng()
    with g:
        torch.manual_seed(seed)
        tower = TextTransformer(context_length=77, vocab_size=49408, width=width, heads=2,
                                layers=1, output_dim=dim)

    class _Tower(nn.Module):
        def __init__(self, t):
            super().__init__()
            self.text = t

        def encode_text(self, tokens):
            return self.text(tokens)

    tok = open_clip.get_tokenizer("ViT-B-32")
    return TextEncoder(_Tower(tower).eval(), tok, dim, name="tiny")
