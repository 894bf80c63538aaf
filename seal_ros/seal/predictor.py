"""SealPredictor: event window + prompts -> instance masks with open-vocabulary classes.

The backbone runs once per event window (:meth:`SealPredictor.set_image`, cached
by ``key``); the fusion neck once per (window, vocabulary); :meth:`predict`
runs only SAM's prompt encoder + mask decoder (all prompts of the window in one
call when they have the same shape) and SEAL's classification head.

Classification, as the authors' ``SEAL.predict``: softmax(100 x normalised mask
embedding . classifier row) against the vocabulary's rows *as given* (a CLIP
vocabulary is L2-normalised when it is encoded; a classifier file is used
unchanged); among SAM's three multimask outputs, empty masks are dropped and
the one with the highest SAM-IoU x class probability is kept. The RoI feature
of each mask follows the authors' rule (:mod:`seal_ros.seal.modeling.spatial`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .automatic import AutomaticMasks
from .cuda_graph import GraphCache
from .modeling.seal import Seal, choose_candidates
from .preprocess import ResizeTransform, event_image_tensor, normalize_event_tensor
from .prompt import VOCABULARY_GRANULARITIES, Granularity, Prompt, PromptError
from .rle import decode_rle, encode_rle, rle_is_empty
from .weights import MissingWeights, resolve_weights

__all__ = ["SealPredictor", "InstanceResult", "MissingWeights", "choose_candidates", "FRAMES", "MASK_FORMATS",
           "Prompt", "PromptError", "Granularity"]

FRAMES = ("sensor", "model")  # coordinates of the prompts handed to predict()
# How predict() returns the sensor-size masks: bool arrays ("dense"), run lengths ("rle", COCO order,
# seal_ros.seal.rle; encoded on the device, only the run boundaries come to the host), or both.
MASK_FORMATS = ("dense", "rle", "both")

# The per-prompt numbers of one decoder call, by name and width: packed into one tensor on
# the device (one device->host copy) and unpacked by these names on the host.
_SMALL_FIELDS = (("boxes", 4), ("choice", 1), ("iou", 3), ("class_prob", 3), ("class_index", 3),
                 ("nonempty", 3))


@dataclass
class InstanceResult:
    prompt_id: int
    mask: Optional[np.ndarray]  # bool (H, W), sensor size; None with mask_format "rle" (see mask_array())
    class_index: int  # into ``vocabulary``; -1 when unclassified (empty mask / no vocabulary)
    class_name: str
    class_score: float  # class probability (softmax of 100 x normalised embedding . classifier row)
    mask_score: float  # SAM's IoU prediction
    score: float  # mask_score * class_score
    granularity: Granularity  # INSTANCE or PART: the vocabulary that won
    bbox: Tuple[float, float, float, float]  # x0, y0, x1, y1 of the mask (x1, y1 exclusive)
    vocabulary: Tuple[str, ...] = field(default_factory=tuple)
    num_kept: int = 0  # SAM candidates with a non-empty mask (0: the authors' code skips the prompt)
    candidate: int = 0  # which of SAM's three multimask outputs was kept
    model_mask: Optional[np.ndarray] = None  # bool (S, S) at the model input size, when asked for
    rle: Optional[np.ndarray] = None  # uint32 run lengths of ``mask`` (COCO order), with mask_format rle/both
    sensor_size: Tuple[int, int] = (0, 0)  # (H, W) of ``mask``

    def mask_array(self) -> np.ndarray:
        """The bool (H, W) mask: ``mask``, or decoded from ``rle`` (mask_format "rle": ``mask`` is None)."""
        if self.mask is not None:
            return self.mask
        self.mask = decode_rle(self.rle, *self.sensor_size)
        return self.mask

    @property
    def is_empty(self) -> bool:
        return not self.mask.any() if self.mask is not None else rle_is_empty(self.rle)


@dataclass(frozen=True)
class _Vocab:
    names: Tuple[str, ...]
    rows: torch.Tensor  # (C, D) classifier rows on the model device, used as given
    version: int


class SealPredictor(AutomaticMasks):
    """See the module docstring.  ``dtype``: autocast dtype (``torch.bfloat16`` /
    ``torch.float16``) or None (fp32).  ``cuda_graphs``: capture each stage in a
    CUDA graph (default: on for CUDA devices when every attention module is on the
    fused path, see :func:`seal_ros.seal.accel.optimize_model`)."""

    def __init__(self, model: Seal, text_encoder, device="cpu", dtype: Optional[torch.dtype] = None,
                 cuda_graphs: Optional[bool] = None, cast_weights: bool = False):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if cast_weights and dtype is not None:
            # Weights stored in ``dtype`` and no autocast: no per-call weight casts.  The
            # prompt encoder and the head's Fourier position encoding stay fp32.
            self.model.to(dtype)
            self.model.eventsam.prompt_encoder.float()
            self.model.pe_layer.float()
        self.cast_weights = bool(cast_weights and dtype is not None)
        self.text_encoder = text_encoder
        if text_encoder is not None and hasattr(text_encoder, "to"):
            text_encoder.to(self.device)
        self.dtype = dtype
        if cuda_graphs is None:
            cuda_graphs = self.device.type == "cuda" and _all_fused(model)
        self.cuda_graphs = bool(cuda_graphs) and self.device.type == "cuda"
        self.graph_error: Optional[str] = None  # why graphs were turned off, if they were
        self._graphs = {name: GraphCache(fn) for name, fn in (
            ("encode", self._encode_fn), ("neck", self._neck_fn), ("head", self._head_fn))}
        self._vocabs: Dict[Granularity, _Vocab] = {}
        self._version = 0
        self._vocab_lock = threading.Lock()
        self._run_lock = threading.RLock()
        self._image: Optional[dict] = None

    # -- construction from real weights -----------------------------------
    @classmethod
    def from_model_dir(cls, models_dir, device="cpu", dtype: Optional[torch.dtype] = None,
                       config: str = "vit_b", cast_weights: Optional[bool] = None,
                       compile: bool = False) -> "SealPredictor":
        """Loads ``seal.pt`` (the whole model, EventSAM included) and the CLIP
        ViT-L/14@336px file from ``models_dir``; raises :class:`MissingWeights`
        listing exactly the missing files (before building anything).

        Attention runs on the fused path (same weights and maths); on CUDA the
        stages are graph-captured.  ``dtype`` (e.g. ``torch.bfloat16``) on CUDA
        stores the weights in that dtype unless ``cast_weights=False`` (then
        autocast); ``compile=True`` adds ``torch.compile`` (slow first calls)."""
        from .build import build_seal
        from .checkpoint import load_seal
        from .text import build_clip_text_encoder

        files = resolve_weights(models_dir)
        model = build_seal(config)
        load_seal(model, files["seal"])
        text = build_clip_text_encoder(files["clip"], device=device)
        return cls.for_deployment(model, text, device, dtype, cast_weights, compile)

    @classmethod
    def for_deployment(cls, model: Seal, text_encoder, device="cpu", dtype: Optional[torch.dtype] = None,
                       cast_weights: Optional[bool] = None, compile: bool = False) -> "SealPredictor":
        """The fast path the node uses: fused attention, weights stored in ``dtype`` on
        CUDA (unless ``cast_weights=False``), CUDA graphs, optional ``torch.compile``."""
        from .accel import optimize_model

        optimize_model(model, fused_attention=True, compile=compile)
        if cast_weights is None:
            cast_weights = dtype is not None and torch.device(device).type == "cuda"
        return cls(model, text_encoder, device=device, dtype=dtype, cast_weights=cast_weights)

    # -- vocabulary ------------------------------------------------------------
    def set_vocabulary(self, names: Sequence[str], granularity="instance",
                       templates: Optional[Sequence[str]] = None) -> None:
        """Encodes ``names`` with the text encoder (CLIP prompt ensembling, rows
        L2-normalised there) off the lock and swaps the vocabulary atomically."""
        names = self._check_names(names, granularity)
        if self.text_encoder is None:
            raise ValueError("this predictor has no text encoder: give classifier rows (set_classifier)")
        rows = self.text_encoder.encode(list(names), templates)
        self.set_classifier(names, rows, granularity)

    def set_classifier(self, names: Sequence[str], rows, granularity="instance") -> None:
        """Uses the (C, D) classifier ``rows`` *as given* for ``names`` (the authors'
        precomputed ``classifier/*.pt`` rows are not re-normalised)."""
        gran = self._check_gran(granularity)
        names = self._check_names(names, gran)
        rows = torch.as_tensor(rows).detach().to(self.device, torch.float32)
        dim = self.model.out_proj.out_features
        if rows.ndim != 2 or rows.shape != (len(names), dim) or not bool(torch.isfinite(rows).all()):
            raise ValueError(f"classifier must be finite ({len(names)}, {dim}) for {len(names)} names, "
                             f"got {tuple(rows.shape)}")
        with self._vocab_lock:
            self._version += 1
            self._vocabs[gran] = _Vocab(names, rows, self._version)

    @staticmethod
    def _check_gran(granularity) -> Granularity:
        gran = Granularity.parse(granularity)
        if gran not in VOCABULARY_GRANULARITIES:
            raise ValueError(f"a vocabulary is instance or part, got {granularity!r}")
        return gran

    def _check_names(self, names, granularity) -> Tuple[str, ...]:
        self._check_gran(granularity)
        names = tuple(str(n) for n in names)
        if not names:
            raise ValueError("vocabulary is empty")
        if len(set(names)) != len(names):
            raise ValueError("vocabulary has duplicate names")
        return names

    def vocabulary(self, granularity="instance") -> Tuple[str, ...]:
        v = self._vocabs.get(Granularity.parse(granularity))
        return v.names if v is not None else ()

    def _vocab_for(self, gran: Granularity, vocabs: Dict[Granularity, _Vocab]) -> Optional[_Vocab]:
        if gran != Granularity.ANY:
            return vocabs.get(gran)
        parts = [vocabs[g] for g in VOCABULARY_GRANULARITIES if g in vocabs]
        if len(parts) <= 1:
            return parts[0] if parts else None
        return _Vocab(sum((p.names for p in parts), ()), torch.cat([p.rows for p in parts]),
                      -sum(p.version << (20 * i) for i, p in enumerate(parts)))

    # -- stages (plain functions of tensors; graph-captured on CUDA) ----------
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                              enabled=self.dtype is not None and not self.cast_weights,
                              cache_enabled=not self.cuda_graphs)

    def _encode_fn(self, image):
        dtype = self.model.eventsam.image_encoder.patch_embed.proj.weight.dtype
        x = normalize_event_tensor(image, self.model.image_size, dtype)
        return self.model.encode_image(x)

    def _neck_fn(self, vit, text):
        return self.model.fuse_text(vit, text)

    def _head_fn(self, emb, fused, text, boxes, points, labels, out_h, out_w):
        out = self.model.segment_and_classify(emb, fused, text, boxes=boxes, points=points,
                                              labels=labels, out_size=(out_h, out_w))
        n = out["masks"].shape[0]
        out["small"] = torch.cat([out[k].reshape(n, w).float() for k, w in _SMALL_FIELDS], dim=1)
        return out

    def _run(self, stage: str, **inputs):
        if self.cuda_graphs:
            try:
                return self._graphs[stage](context=self._autocast, **inputs)
            except Exception as e:  # noqa: BLE001 - fall back to eager, keep the reason
                self.cuda_graphs = False
                self.graph_error = f"{type(e).__name__}: {e}"
                for g in self._graphs.values():
                    g.clear()
                torch.cuda.synchronize(self.device)
        with self._autocast():
            return self._graphs[stage].fn(**inputs)

    # -- image -------------------------------------------------------------------
    @torch.no_grad()
    def set_image(self, event_image, key=None) -> None:
        """Runs the backbone on a uint8 (H, W, 3) event image, a NumPy array or a tensor on any
        device (skipped if ``key`` is the cached one)."""
        h, w = tuple(event_image.shape[:2]) if isinstance(event_image, (np.ndarray, torch.Tensor)) else (0, 0)
        with self._run_lock:
            img = self._image
            if key is not None and img is not None and img["key"] == key and img["hw"] == (h, w):
                return
            x = event_image_tensor(event_image, self.device)
            emb, vit = self._run("encode", image=x)
            if self.cuda_graphs:  # graph outputs are overwritten by the next replay
                emb, vit = emb.clone(), vit.clone()
            self._image = {"key": key, "hw": (h, w), "emb": emb, "vit": vit, "fused": {},
                           "tf": ResizeTransform(h, w, self.model.image_size)}

    def clear_image(self) -> None:
        with self._run_lock:
            self._image = None

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def _fused(self, vocab: _Vocab) -> torch.Tensor:
        cache = self._image["fused"]
        if vocab.version not in cache:
            if len(cache) > 4:
                cache.clear()
            fused = self._run("neck", vit=self._image["vit"], text=vocab.rows)
            cache[vocab.version] = fused.clone() if self.cuda_graphs else fused
        return cache[vocab.version]

    # -- prompts -----------------------------------------------------------------
    @torch.no_grad()
    def predict(self, prompts: Sequence[Prompt], frame: str = "sensor",
                model_masks: bool = False, mask_format: str = "dense") -> List[InstanceResult]:
        """One :class:`InstanceResult` per prompt, in order (needs :meth:`set_image`).

        ``frame``: the prompts' coordinates, ``"sensor"`` (event-image pixels) or
        ``"model"`` (the square model input, e.g. the evaluation's 512 x 512 frame,
        used unchanged). ``model_masks``: also return each kept mask at the model size
        (``InstanceResult.model_mask``, the mask the head classified). Prompts of the
        same granularity and shape (box or not, number of points) go through one
        decoder call; a window's usual prompt set is one call, and any number of
        prompts share the cached image embedding. ``mask_format`` (:data:`MASK_FORMATS`):
        ``"rle"`` returns ``InstanceResult.rle`` (run lengths encoded on the device) and no
        ``mask`` (``mask_array()`` decodes it), ``"both"`` both."""
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
        if mask_format not in MASK_FORMATS:
            raise ValueError(f"mask_format must be one of {MASK_FORMATS}, got {mask_format!r}")
        prompts = [p.validated() for p in prompts]  # raises PromptError (a ValueError)
        if not prompts:
            return []
        with self._vocab_lock:
            vocabs = dict(self._vocabs)
        with self._run_lock:
            if self._image is None:
                raise RuntimeError("predict() before set_image()")
            groups: Dict[Tuple[Granularity, bool, int], List[int]] = {}
            for i, p in enumerate(prompts):
                npts = 0 if p.points is None else len(p.points)
                groups.setdefault((p.granularity, p.box is not None, npts), []).append(i)
            results: List[Optional[InstanceResult]] = [None] * len(prompts)
            for (gran, _, _), idx in groups.items():
                sub = [prompts[i] for i in idx]
                for i, r in zip(idx, self._predict_group(sub, gran, vocabs, frame, model_masks, mask_format)):
                    results[i] = r
            return results  # type: ignore[return-value]

    def _predict_group(self, prompts: List[Prompt], gran: Granularity, vocabs: Dict[Granularity, _Vocab],
                       frame: str, want_model_masks: bool, mask_format: str = "dense") -> List[InstanceResult]:
        img = self._image
        tf: ResizeTransform = img["tf"]
        n = len(prompts)
        # Graphs are captured per prompt count: pad to a power of two (repeat the last prompt).
        m = 1 << (n - 1).bit_length() if self.cuda_graphs else n
        padded = prompts + [prompts[-1]] * (m - n)
        boxes = pts = labels = None
        if prompts[0].box is not None:
            b = np.array([p.box for p in padded], np.float64)
            boxes = self._tensor(tf.boxes(b) if frame == "sensor" else b, torch.float32)
        if prompts[0].points is not None:
            xy = np.stack([p.points.astype(np.float64) for p in padded])
            pts = self._tensor(tf.points(xy) if frame == "sensor" else xy, torch.float32)
            labels = self._tensor(np.stack([p.point_labels for p in padded]), torch.int64)
        vocab = self._vocab_for(gran, vocabs)
        fused = self._fused(vocab) if vocab is not None else None
        out = self._run("head", emb=img["emb"], fused=fused, text=vocab.rows if vocab else None,
                        boxes=boxes, points=pts, labels=labels, out_h=tf.height, out_w=tf.width)
        # Device->host: the masks, and every small per-prompt number at once (unpacked by name).
        masks = self._to_host(out["masks"][:n]) if mask_format != "rle" else [None] * n
        rles = encode_rle(out["masks"][:n]) if mask_format != "dense" else [None] * n
        model = self._to_host(out["model_masks"][:n]) if want_model_masks else None
        small = out["small"][:n].cpu().numpy()
        f, at = {}, 0
        for name, width in _SMALL_FIELDS:
            f[name] = small[:, at:at + width]
            at += width
        names = vocab.names if vocab is not None else ()
        n_inst = len(vocabs[Granularity.INSTANCE].names) if Granularity.INSTANCE in vocabs else 0
        results = []
        for i, p in enumerate(prompts):
            k = int(f["choice"][i, 0])
            ok = vocab is not None and f["nonempty"][i, k] > 0.5
            c = int(f["class_index"][i, k]) if ok else -1
            cp = float(f["class_prob"][i, k]) if ok else 0.0
            ms = float(f["iou"][i, k])
            g = gran if gran != Granularity.ANY else \
                (Granularity.PART if c >= n_inst else Granularity.INSTANCE)
            results.append(InstanceResult(
                prompt_id=int(p.id), mask=masks[i], class_index=c,
                class_name=names[c] if c >= 0 else "", class_score=cp, mask_score=ms,
                score=ms * cp, granularity=g, bbox=tuple(float(v) for v in f["boxes"][i]),
                vocabulary=names, num_kept=int(f["nonempty"][i].sum()), candidate=k,
                model_mask=model[i] if model is not None else None, rle=rles[i],
                sensor_size=(tf.height, tf.width)))
        return results

    def _to_host(self, t: torch.Tensor) -> np.ndarray:
        if self.device.type != "cuda":
            return t.cpu().numpy()
        # page-locked memory from torch's caching host allocator: a faster copy, and the
        # block stays with the returned arrays until they are dropped
        host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
        host.copy_(t, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return host.numpy()

    def _tensor(self, a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a)).to(self.device, dtype, non_blocking=True)


def _all_fused(model: torch.nn.Module) -> bool:
    from segment_anything.modeling.image_encoder import Attention as SamAttention

    from .modeling.attention import RelPosAttention
    attn = [m for m in model.modules() if isinstance(m, SamAttention)]
    return bool(attn) and all(isinstance(m, RelPosAttention) and m.fused for m in attn)
