"""Describers: a text description for each guidance mask, turned into a CLIP text embedding.

- :class:`ClipZeroShotDescriber` (default): names each mask by CLIP zero-shot
  classification of its visual embedding against a vocabulary (built-in or the
  user's), each name put into prompt templates and averaged (CLIP's prompt
  ensembling); the textual guidance is that name's text embedding.
- :class:`VlmDescriber`: a local vision-language captioning model through
  ``transformers`` (``AutoProcessor`` + ``AutoModelForVision2Seq`` from a local
  directory, ``local_files_only``), whose caption is encoded by the CLIP text
  tower. ``transformers`` is not a dependency: install it to use this.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from seal_ros.seal.text import DEFAULT_TEMPLATES
from seal_ros.train.vocabulary import BUILTIN_VOCABULARY


class ClipZeroShotDescriber:
    name = "clip_zero_shot"

    def __init__(self, clip, vocabulary: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None):
        self.clip = clip
        self.vocabulary = list(vocabulary or BUILTIN_VOCABULARY)
        self.templates = list(templates or DEFAULT_TEMPLATES)
        self.text = clip.text.encode(self.vocabulary, self.templates).float().cpu()  # (V, D)

    def describe(self, crops: list[np.ndarray], visual: torch.Tensor):
        """-> (names, text embeddings (M, D), vocabulary indices (M,))."""
        if visual.shape[0] == 0:
            return [], torch.zeros(0, self.text.shape[1]), torch.zeros(0, dtype=torch.long)
        idx = (visual.float() @ self.text.t()).argmax(dim=1)
        return [self.vocabulary[i] for i in idx.tolist()], self.text[idx], idx


class VlmDescriber:
    name = "vlm"

    def __init__(self, clip, model_path: str, prompt: str = "A short description of the object:",
                 max_new_tokens: int = 16, device: str = "cpu"):
        try:
            from transformers import AutoModelForVision2Seq, AutoProcessor
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise RuntimeError("the VLM describer needs 'pip install transformers'") from exc
        self.clip = clip
        self.processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModelForVision2Seq.from_pretrained(model_path, local_files_only=True).to(device).eval()
        self.prompt, self.max_new_tokens, self.device = prompt, max_new_tokens, device
        self.vocabulary: list[str] = []

    @torch.no_grad()
    def describe(self, crops: list[np.ndarray], visual: torch.Tensor):  # pragma: no cover - needs a VLM
        if not crops:
            return [], torch.zeros(0, self.clip.dim), torch.zeros(0, dtype=torch.long)
        inputs = self.processor(images=list(crops), text=[self.prompt] * len(crops),
                                return_tensors="pt").to(self.device)
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        names = [s.strip() or "object" for s in self.processor.batch_decode(out, skip_special_tokens=True)]
        text = self.clip.text.encode(names, ["{}"]).float().cpu()
        return names, text, torch.full((len(names),), -1, dtype=torch.long)


def make_describer(kind: str, clip, vocabulary=None, templates=None, vlm_path: Optional[str] = None):
    if kind == "clip_zero_shot":
        return ClipZeroShotDescriber(clip, vocabulary, templates)
    if kind == "vlm":
        if not vlm_path:
            raise ValueError("describer 'vlm' needs guidance.vlm_path (a local model directory)")
        return VlmDescriber(clip, vlm_path)
    raise ValueError(f"unknown describer {kind!r} (clip_zero_shot, vlm)")
