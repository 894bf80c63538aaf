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
           "build_tiny_text_encoder", "build_tiny_clip_model", "load_clip_model", "text_encoder_of",
           "CLIP_MODEL_NAME", "CLIP_SOURCES"]

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


CLIP_SOURCES = ("OpenAI's ViT-L-14-336px.pt (https://openaipublic.azureedge.net/clip/models/"
                "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt) "
                "or open_clip's open_clip_model.safetensors; `seal-ros models fetch` downloads it")


def load_clip_model(pretrained: str | Path, model_name: str = CLIP_MODEL_NAME, device="cpu") -> nn.Module:
    """The whole open_clip CLIP (image and text towers, fp32, eval) from a local file.

    The one CLIP loader of the package (the segmenter's text encoder and the training's
    MHSG guidance both come from here). OpenAI's own file is a TorchScript archive:
    ``torch.load(weights_only=True)`` refuses it, so its tensors are read with
    ``torch.jit.load`` (no Python objects are unpickled) and put into open_clip's model;
    open_clip's files (``.safetensors`` / ``.bin``) go through ``open_clip.create_model``.
    A missing file is a ``FileNotFoundError`` naming it and where to get it."""
    import open_clip

    if pretrained is None or not Path(pretrained).is_file():
        raise FileNotFoundError(f"CLIP weights not found: {pretrained} ({CLIP_SOURCES})")
    if _is_torchscript(pretrained):
        from open_clip.model import build_model_from_openai_state_dict

        state = dict(torch.jit.load(str(pretrained), map_location="cpu").state_dict())
        # derived constants, not weights (a scripted open_clip model carries its causal mask)
        state = {k: v for k, v in state.items() if not k.endswith("attn_mask")}
        clip = build_model_from_openai_state_dict(state, quick_gelu=True, cast_dtype=None).float()
    else:
        clip = open_clip.create_model(model_name, pretrained=str(pretrained), device="cpu")
    return clip.eval().to(device)


def text_encoder_of(clip: nn.Module, tokenizer: Callable, name: str, drop_visual: bool = False) -> TextEncoder:
    """A :class:`TextEncoder` on ``clip``'s text tower (``drop_visual``: free the image tower)."""
    if drop_visual:
        clip.visual = nn.Identity()  # text tower only: frees ~300M parameters at ViT-L
    dim = clip.text_projection.shape[1] if clip.text_projection is not None else clip.ln_final.weight.shape[0]
    return TextEncoder(_TextOnly(clip), tokenizer, dim, name=name)


def build_clip_text_encoder(pretrained: Optional[str | Path], device="cpu",
                            model_name: str = CLIP_MODEL_NAME) -> TextEncoder:
    """CLIP ViT-L/14@336px text encoder from a local file (``pretrained=None``: random
    weights, for timing benchmarks only)."""
    import open_clip

    if pretrained is None:
        clip = open_clip.create_model(model_name, pretrained=None, device="cpu").eval()
    else:
        clip = load_clip_model(pretrained, model_name)
    te = text_encoder_of(clip, open_clip.get_tokenizer(model_name), model_name, drop_visual=True)
    return te.to(device)


def _is_torchscript(path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 2)[1:2] == ["code"] for n in z.namelist())


TINY_CLIP_TOKENIZER = "ViT-B-32"


def build_tiny_clip_model(dim: int = 16, seed: int = 0, image_size: int = 32, width: int = 32) -> nn.Module:
    """A random open_clip CLIP with one-layer towers (tests): ``dim``-d embeddings,
    ``image_size`` input, 8-pixel patches. Same seed and sizes, same weights."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        clip = CLIP(embed_dim=int(dim),
                    vision_cfg=CLIPVisionCfg(layers=1, width=width, head_width=16, patch_size=8,
                                             image_size=int(image_size)),
                    text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=width, heads=2,
                                         layers=1))
    return clip.eval()


def build_tiny_text_encoder(dim: int = 16, seed: int = 0) -> TextEncoder:
    """The text tower of :func:`build_tiny_clip_model` with the real tokenizer (tests):
    a model trained against tiny guidance classifies with exactly this encoder."""
    import open_clip

    return text_encoder_of(build_tiny_clip_model(dim, seed), open_clip.get_tokenizer(TINY_CLIP_TOKENIZER),
                           "tiny", drop_visual=True)
