"""SEAL on ONNX Runtime: :class:`OnnxSealPredictor`, the torch predictor's interface over the
exported graphs (:mod:`.export`), for the node (``backend: onnx``) and offline commands.

It *is* a :class:`~seal_ros.seal.predictor.SealPredictor` whose three stages (backbone, neck,
decoder + head) run as ONNX Runtime sessions instead of torch modules: vocabularies (encoded
by the same torch text encoder), prompt grouping, sensor/model coordinates, the window cache,
``mask_format`` (run lengths) and the results are the torch predictor's own code. Only
:meth:`set_image`/:meth:`predict` and the vocabulary methods are served (no CUDA graphs, no
``torch.compile``; the model's torch modules are not loaded).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..cuda_graph import GraphCache
from ..predictor import SealPredictor
from .export import FILES, read_manifest
from .graphs import prompt_points

__all__ = ["OnnxSessions", "OnnxSealPredictor", "load_onnx_predictor"]


class OnnxSessions:
    """The three sessions of an export directory (CPU by default; ``providers`` as ONNX Runtime
    takes them, e.g. ``["CUDAExecutionProvider", "CPUExecutionProvider"]``)."""

    def __init__(self, export_dir, threads: Optional[int] = None, providers: Optional[Sequence[str]] = None):
        from seal_ros.deps import require

        ort = require("onnxruntime")
        self.dir = Path(export_dir)
        self.manifest = read_manifest(self.dir)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads) if threads else torch.get_num_threads()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: constant-folding notes are not the user's business
        self.threads = opts.intra_op_num_threads
        self.sessions = {name: ort.InferenceSession(str(self.dir / f), opts,
                                                    providers=list(providers or ["CPUExecutionProvider"]))
                         for name, f in FILES.items()}

    def run(self, name: str, **inputs) -> list:
        return self.sessions[name].run(None, {k: np.ascontiguousarray(v) for k, v in inputs.items()})

    def run_all(self, image: np.ndarray, text: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> Dict:
        emb, vit = self.run("backbone", image=image)
        (fused,) = self.run("neck", vit=vit, text=text)
        masks, model_masks, small = self.run("decoder_head", embeddings=emb, fused=fused, text=text,
                                             coords=coords, labels=labels, image=image)
        return {"embeddings": emb, "vit": vit, "fused": fused, "masks": masks, "model_masks": model_masks,
                "small": small}


class _Geometry(torch.nn.Module):
    """What the predictor reads of its model, when the model is a set of ONNX graphs."""

    def __init__(self, image_size: int, text_dim: int) -> None:
        super().__init__()
        self._size = int(image_size)
        self.out_proj = torch.nn.Linear(1, int(text_dim), bias=False)  # .out_features: the text dimension

    @property
    def image_size(self) -> int:
        return self._size


class OnnxSealPredictor(SealPredictor):
    """:class:`SealPredictor` on ONNX Runtime (see the module docstring). ``text_encoder`` as the
    torch predictor's (None: classifier rows only, :meth:`set_classifier`)."""

    def __init__(self, export_dir, text_encoder, threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None):
        self.onnx = OnnxSessions(export_dir, threads, providers)
        m = self.onnx.manifest
        super().__init__(_Geometry(m["image_size"], m["text_dim"]), text_encoder, device="cpu", cuda_graphs=False)
        self.backend = "onnx"
        self._graphs = {"encode": GraphCache(self._encode_ort), "neck": GraphCache(self._neck_ort),
                        "head": GraphCache(self._head_ort)}
        self._shape_of: Dict[tuple, np.ndarray] = {}
        self._no_text: Optional[np.ndarray] = None

    def decode_points(self, points):
        """Automatic mode is not in the ONNX graphs (they hold the prompted window): a clear error, not a
        missing torch module (the loaders choose backend torch for automatic mode)."""
        raise RuntimeError("automatic mode needs backend torch: the ONNX graphs hold the prompted window only")

    def _encode_ort(self, image: torch.Tensor):
        emb, vit = self.onnx.run("backbone", image=image.cpu().numpy())
        return torch.from_numpy(emb), torch.from_numpy(vit)

    def _neck_ort(self, vit: torch.Tensor, text: torch.Tensor):
        (fused,) = self.onnx.run("neck", vit=vit.numpy(), text=text.float().numpy())
        return torch.from_numpy(fused)

    def _head_ort(self, emb, fused, text, boxes, points, labels, out_h, out_w):
        coords, labs = prompt_points(boxes, points, labels)
        if text is None:
            # No vocabulary: one zero row, whose softmax is exactly 1 - the choice is then SAM's
            # highest IoU among non-empty masks, as the torch path without classes (the predictor
            # reports such results unclassified).
            text = torch.zeros(1, self.model.out_proj.out_features)
            fused = self._fused_without_text(text)
        key = (int(out_h), int(out_w))
        if key not in self._shape_of:  # the graph reads only the image's size from this input
            self._shape_of = {key: np.zeros((key[0], key[1], 3), np.uint8)}
        masks, model_masks, small = self.onnx.run(
            "decoder_head", embeddings=emb.numpy(), fused=fused.numpy(), text=text.float().numpy(),
            coords=coords.numpy(), labels=labs.numpy(), image=self._shape_of[key])
        return {"masks": torch.from_numpy(masks), "model_masks": torch.from_numpy(model_masks),
                "small": torch.from_numpy(small)}

    def _fused_without_text(self, text: torch.Tensor) -> torch.Tensor:
        img = self._image
        if "no_text" not in img:
            img["no_text"] = self._neck_ort(img["vit"], text)
        return img["no_text"]


def load_onnx_predictor(export_dir, text_encoder=None, models_dir=None, clip_file: Optional[str] = None,
                        threads: Optional[int] = None, providers: Optional[Sequence[str]] = None,
                        text: bool = True) -> OnnxSealPredictor:
    """An :class:`OnnxSealPredictor` on an export directory; without ``text_encoder``, the one its
    manifest names (the model's configuration, :func:`seal_ros.seal.export.text_encoder_from_spec`;
    ``text=False``: none, classifier rows only)."""
    from ..export import PUBLISHED_CONFIG, text_encoder_from_spec

    if text_encoder is None and text:
        spec = (read_manifest(export_dir).get("config") or PUBLISHED_CONFIG).get("text_encoder") \
            or PUBLISHED_CONFIG["text_encoder"]
        text_encoder = text_encoder_from_spec(spec, "cpu", clip_file=clip_file, models_dir=models_dir)
    return OnnxSealPredictor(export_dir, text_encoder, threads=threads, providers=providers)
