"""Describers: a short and a long description of each guidance mask, as CLIP text embeddings.

- :class:`VlmDescriber` (``describer: vlm``, the paper's): a Hugging Face
  vision-language captioning model loaded from a local folder
  (``transformers`` ``AutoProcessor`` + image-text-to-text model,
  ``local_files_only``) describes each masked crop twice, with a short and a
  long prompt; digits are removed (as the authors' loader does) and CLIP's text
  tower encodes both captions. Each mask's vocabulary index is the vocabulary
  name nearest to its short caption (CLIP text similarity), so
  Semantic-E2VID's class labels exist with this describer too.
- :class:`ClipZeroShotDescriber` (``describer: clip_zero_shot``, a seal_ros
  option that needs no captioning model): names each mask by CLIP zero-shot
  classification of its visual embedding against a vocabulary with prompt
  templates (CLIP's prompt ensembling); that name is both the short and the
  long description.

``transformers`` is an optional dependency (``pip install transformers``;
pinned in requirements/env.txt), imported only by the VLM describer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from seal_ros.seal.text import DEFAULT_TEMPLATES
from seal_ros.train.vocabulary import BUILTIN_VOCABULARY

DESCRIBERS = ("clip_zero_shot", "vlm")
VLM_SHORT_PROMPT = "a photo of"
VLM_LONG_PROMPT = "a detailed description of this object, its parts and its surroundings:"
VLM_SHORT_TOKENS, VLM_LONG_TOKENS = 12, 48  # most new tokens of the short and the long caption


@dataclass
class Descriptions:
    names: list  # short descriptions
    short: torch.Tensor  # (M, D) L2-normalised
    long_names: list
    long: torch.Tensor  # (M, D) L2-normalised
    vocab_index: torch.Tensor  # (M,) int64, -1 none


def clean_caption(text: str, prompt: str = "") -> str:
    """Drop an echoed prompt, digits (as the authors' loader does) and extra spaces."""
    t = text.strip()
    if prompt and t.lower().startswith(prompt.strip().lower()):
        t = t[len(prompt.strip()):]
    t = re.sub(r"\d+", "", t)
    t = " ".join(t.split()).strip(" ,.:;")
    return t or "object"


class ClipZeroShotDescriber:
    name = "clip_zero_shot"

    def __init__(self, clip, vocabulary: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None):
        self.clip = clip
        self.vocabulary = list(vocabulary or BUILTIN_VOCABULARY)
        self.templates = list(templates or DEFAULT_TEMPLATES)
        self.text = clip.text.encode(self.vocabulary, self.templates).float().cpu()  # (V, D)

    def describe(self, crops: list, visual: torch.Tensor) -> Descriptions:
        if visual.shape[0] == 0:
            z = torch.zeros(0, self.text.shape[1])
            return Descriptions([], z, [], z, torch.zeros(0, dtype=torch.long))
        idx = (visual.float() @ self.text.t()).argmax(dim=1)
        names = [self.vocabulary[i] for i in idx.tolist()]
        return Descriptions(names, self.text[idx], list(names), self.text[idx], idx)


class VlmDescriber:
    name = "vlm"

    def __init__(self, clip, model_path: str, vocabulary: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None, short_prompt: str = VLM_SHORT_PROMPT,
                 long_prompt: str = VLM_LONG_PROMPT, short_tokens: int = VLM_SHORT_TOKENS,
                 long_tokens: int = VLM_LONG_TOKENS,
                 device="cpu", batch: int = 16):
        model_cls, processor_cls = _transformers()
        self.clip = clip
        try:
            self.processor = processor_cls.from_pretrained(str(model_path), local_files_only=True)
            self.model = model_cls.from_pretrained(str(model_path), local_files_only=True).to(device).eval()
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(f"cannot load the captioning model from {model_path}: "
                                    f"{str(exc).splitlines()[0][:200]}") from exc
        self.short_prompt, self.long_prompt = short_prompt, long_prompt
        self.short_tokens, self.long_tokens = int(short_tokens), int(long_tokens)
        self.device, self.batch = device, int(batch)
        self.vocabulary = list(vocabulary or BUILTIN_VOCABULARY)
        self.vocab_text = clip.text.encode(self.vocabulary, list(templates or DEFAULT_TEMPLATES)).float().cpu()

    @torch.no_grad()
    def caption(self, crops: list, prompt: str, max_new_tokens: int) -> list:
        out = []
        for i in range(0, len(crops), self.batch):
            part = [np.ascontiguousarray(c) for c in crops[i:i + self.batch]]
            inputs = self.processor(images=part, text=[prompt] * len(part), return_tensors="pt").to(self.device)
            ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
            out += [clean_caption(s, prompt) for s in self.processor.batch_decode(ids, skip_special_tokens=True)]
        return out

    def describe(self, crops: list, visual: torch.Tensor) -> Descriptions:
        if not crops:
            z = torch.zeros(0, self.vocab_text.shape[1])
            return Descriptions([], z, [], z, torch.zeros(0, dtype=torch.long))
        short = self.caption(crops, self.short_prompt, self.short_tokens)
        long = self.caption(crops, self.long_prompt, self.long_tokens)
        s = self.clip.text.encode(short, ["{}"]).float().cpu()
        lg = self.clip.text.encode(long, ["{}"]).float().cpu()
        idx = (s @ self.vocab_text.t()).argmax(dim=1)
        return Descriptions(short, s, long, lg, idx)


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise RuntimeError("guidance.describer 'vlm' needs Hugging Face transformers: "
                           "pip install transformers (see requirements/env.txt for the tested version)") from exc
    model_cls = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
    return model_cls, transformers.AutoProcessor


def make_describer(g: dict, clip, device="cpu"):
    """The describer of a guidance config (see :mod:`seal_ros.train.guidance`)."""
    kind = g["describer"]
    if kind == "clip_zero_shot":
        return ClipZeroShotDescriber(clip, g["vocabulary"], g["templates"])
    if kind == "vlm":
        if not g.get("vlm_path"):
            raise ValueError("guidance.describer 'vlm' needs guidance.vlm_path (a local model folder)")
        return VlmDescriber(clip, g["vlm_path"], g["vocabulary"], g["templates"], g["vlm_short_prompt"],
                            g["vlm_long_prompt"], g["vlm_short_tokens"], g["vlm_long_tokens"], device)
    raise ValueError(f"guidance.describer must be one of {DESCRIBERS}, got {kind!r}")
