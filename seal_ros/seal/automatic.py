"""SealPredictor's additive methods for prompt-free segmentation (:mod:`seal_ros.segment.auto`).

Everything here works on the window cached by ``set_image`` (the backbone is
not run again):

- :meth:`AutomaticMasks.decode_points`: SAM's prompt encoder and mask decoder
  for N single foreground points at once, all three multimask outputs, as
  segment-anything's automatic mask generator asks for them
  (``multimask_output=True``, ``return_logits=True``);
- :meth:`AutomaticMasks.upscale_logits` / :meth:`AutomaticMasks.masks_to_sensor`:
  the logits at the model input size (the masks SEAL's head classifies) and
  bool masks at the sensor size, as the prompted path makes them;
- :meth:`AutomaticMasks.classify_masks`: SEAL's head on given masks against the
  *automatic* classifier: the vocabulary's rows followed by background rows
  (:meth:`AutomaticMasks.set_auto_vocabulary`), fused by the neck like any
  vocabulary (cached per window).

Prompted results (``predict``) do not use the automatic classifier.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = ["AutomaticMasks", "AutoVocab", "CPU_DECODE_CHUNK"]

# Points decoded at a time on the CPU (a batch is cut into these): SAM's decoder is memory-bound there,
# and the activations of 8 prompts stay in the caches. 100 points on the 2-core development machine:
# about 2.5x faster than in one batch of 100, equal results (bench/bench_auto.py).
CPU_DECODE_CHUNK = 8


@dataclass(frozen=True)
class AutoVocab:
    names: Tuple[str, ...]  # classes a result may be named (the vocabulary, then query-only names)
    background: Tuple[str, ...]  # classes that only absorb probability (never a result)
    rows: torch.Tensor  # (len(names) + len(background), D) on the model device, as given
    version: int

    @property
    def all_names(self) -> Tuple[str, ...]:
        return self.names + self.background


class AutomaticMasks:
    """Mixed into :class:`seal_ros.seal.predictor.SealPredictor` (uses its model, locks and caches)."""

    _auto_vocab: Optional[AutoVocab] = None

    # -- the automatic classifier ------------------------------------------------------------
    def set_auto_vocabulary(self, names: Sequence[str], background: Sequence[str] = (),
                            templates: Optional[Sequence[str]] = None) -> None:
        """Encodes ``names`` then ``background`` with the text encoder (one classifier) and swaps
        it in atomically; the caller has removed background names that are also ``names``."""
        if self.text_encoder is None:
            raise ValueError("this predictor has no text encoder: give classifier rows (set_auto_classifier)")
        names, background = tuple(str(n) for n in names), tuple(str(n) for n in background)
        self._check_names(names + background, "instance")
        rows = self.text_encoder.encode(list(names + background), templates)
        self.set_auto_classifier(names, background, rows)

    def set_auto_classifier(self, names: Sequence[str], background: Sequence[str], rows) -> None:
        """The automatic classifier from given (C, D) rows: ``names`` then ``background``."""
        names, background = tuple(str(n) for n in names), tuple(str(n) for n in background)
        if not names:
            raise ValueError("the automatic vocabulary is empty")
        self._check_names(names + background, "instance")
        rows = torch.as_tensor(rows).detach().to(self.device, torch.float32)
        dim = self.model.out_proj.out_features
        if rows.shape != (len(names) + len(background), dim) or not bool(torch.isfinite(rows).all()):
            raise ValueError(f"automatic classifier must be finite ({len(names) + len(background)}, {dim}), "
                             f"got {tuple(rows.shape)}")
        with self._vocab_lock:
            self._version += 1
            self._auto_vocab = AutoVocab(names, background, rows, self._version)

    def auto_vocabulary(self) -> Optional[AutoVocab]:
        return self._auto_vocab

    # -- decoder over many points ------------------------------------------------------------
    @torch.no_grad()
    def decode_points(self, points: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 2) foreground points in sensor pixels -> on the device: low-resolution logits
        (N, 3, 4g, 4g) float32, SAM's IoU predictions (N, 3) float32, mask tokens (N, 3, T)."""
        with self._run_lock:
            img = self._require_image()
            xy = img["tf"].points(np.asarray(points, np.float64).reshape(-1, 1, 2))
            pts = self._tensor(xy, torch.float32)
            labels = torch.ones(pts.shape[:2], dtype=torch.int64, device=self.device)
            step = CPU_DECODE_CHUNK if self.device.type == "cpu" else len(pts)
            with self._autocast():
                parts = [self.model.decode(img["emb"], points=pts[s:s + step], labels=labels[s:s + step])
                         for s in range(0, max(1, len(pts)), max(1, step))]
            low, iou, tokens = (torch.cat(t) for t in zip(*parts)) if len(parts) > 1 else parts[0]
            return low.float(), iou.float(), tokens

    @torch.no_grad()
    def upscale_logits(self, low: torch.Tensor) -> torch.Tensor:
        """(M, h, w) low-resolution logits -> (M, S, S) float32 logits at the model input size."""
        return self.model.upscale_masks(low.float())

    @torch.no_grad()
    def masks_to_sensor(self, logits: torch.Tensor) -> torch.Tensor:
        """(M, S, S) logits -> (M, H, W) bool at the sensor size (bilinear, as the prompted path)."""
        with self._run_lock:
            return self._require_image()["tf"].masks_to_sensor(logits)

    @torch.no_grad()
    def classify_masks(self, masks: torch.Tensor, tokens: torch.Tensor) -> Tuple[torch.Tensor, AutoVocab]:
        """SEAL's head on (M, S, S) bool masks at the model input size with their (M, T) mask tokens,
        against the automatic classifier -> (class probabilities (M, C) float32, that classifier)."""
        vocab = self._auto_vocab
        if vocab is None:
            raise RuntimeError("no automatic vocabulary set (set_auto_vocabulary)")
        with self._run_lock:
            self._require_image()
            fused = self._fused(vocab)
            with self._autocast():
                emb = self.model.embed_masks(fused, masks, tokens)
                probs = self.model.class_logits(emb, vocab.rows).softmax(dim=-1)
            return probs.float(), vocab

    def _require_image(self) -> dict:
        if self._image is None:
            raise RuntimeError("automatic masks before set_image()")
        return self._image
