"""``seal-ros export onnx``: SEAL's backbone, fusion neck and decoder + head as ONNX files.

Written with ``torch.onnx.export(dynamo=True)`` (the ``torch.export`` based exporter, opset 18)
from the graphs of :mod:`.graphs`, every size that varies left dynamic: the event image's
height and width, the vocabulary size, the number of prompts and of points per prompt. An
export directory holds::

    backbone.onnx  neck.onnx  decoder_head.onnx  seal_onnx.json

``seal_onnx.json`` records the geometry (model input size, text dimension), the model's
configuration (which text encoder classifies with it, :mod:`seal_ros.seal.export`), the
versions that wrote it, and the check made right after the export: ONNX Runtime against
torch on one sample window (largest differences, masks and classes agreement).

ONNX is also the route to TensorRT on embedded GPUs (Jetson): ``trtexec --onnx=backbone.onnx
--fp16 --saveEngine=backbone.plan`` with shapes fixed to the sensor's (docs/seal_model.md).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from ..modeling.seal import Seal
from .graphs import BackboneGraph, DecoderHeadGraph, NeckGraph, prompt_points, small_slices

__all__ = ["export_onnx", "read_manifest", "MANIFEST", "FILES", "OPSET", "FORMAT"]

MANIFEST = "seal_onnx.json"
FILES = {"backbone": "backbone.onnx", "neck": "neck.onnx", "decoder_head": "decoder_head.onnx"}
INPUTS = {"backbone": ("image",), "neck": ("vit", "text"),
          "decoder_head": ("embeddings", "fused", "text", "coords", "labels", "image")}
OUTPUTS = {"backbone": ("embeddings", "vit"), "neck": ("fused",), "decoder_head": ("masks", "model_masks", "small")}
OPSET = 18
FORMAT = 1


class OnnxExportError(RuntimeError):
    pass


def _dims():
    from torch.export import Dim

    h, w = Dim("height", min=2, max=16384), Dim("width", min=2, max=16384)
    c, n, k = Dim("classes", min=1, max=4096), Dim("prompts", min=1, max=4096), Dim("points", min=1, max=256)
    return {"backbone": ({0: h, 1: w},), "neck": (None, {0: c}),
            "decoder_head": (None, None, {0: c}, {0: n, 1: k}, {0: n, 1: k}, {0: h, 1: w})}


def sample_inputs(model: Seal, height: int = 480, width: int = 640, classes: int = 5, seed: int = 0):
    """A sample window: a random event image, ``classes`` random unit rows and three box prompts
    (model pixels); the inputs of each graph as tuples."""
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=g)
    text = torch.nn.functional.normalize(torch.randn(classes, model.out_proj.out_features, generator=g), dim=-1)
    s = float(model.image_size)
    boxes = torch.tensor([[0.1, 0.2, 0.5, 0.7], [0.3, 0.05, 0.8, 0.8], [0.0, 0.0, 1.0, 1.0]]) * (s - 1)
    return image, text, prompt_points(boxes, None, None)


@contextlib.contextmanager
def _quiet():
    """torch.export and onnxscript print progress and warnings; keep the command's output to its own lines."""
    loggers = [logging.getLogger(n) for n in ("torch", "onnxscript", "onnx_ir", "torch.onnx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _export(module, args, path: Path, name: str, dims) -> None:
    with _quiet():
        torch.onnx.export(module, args, str(path), dynamo=True, opset_version=OPSET,
                          input_names=list(INPUTS[name]), output_names=list(OUTPUTS[name]),
                          dynamic_shapes=dims[name], external_data=False)


def export_onnx(model: Seal, out_dir, config: Optional[dict] = None, height: int = 480, width: int = 640,
                check: bool = True, log: Callable[[str], None] = lambda s: None) -> dict:
    """Write the three graphs of ``model`` (fp32, on the CPU) and ``seal_onnx.json`` into ``out_dir``.

    ``config``: the model's ``seal_ros`` export configuration (its text encoder), recorded.
    ``height``/``width``: the sample window traced (every size stays dynamic). ``check``: run
    ONNX Runtime on the sample and record its differences from torch. Returns the manifest."""
    from seal_ros.deps import require

    require("onnx"), require("onnxscript")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").float().eval()
    dims = _dims()
    image, text, (coords, labels) = sample_inputs(model, height, width)
    seconds: Dict[str, float] = {}
    with torch.no_grad():
        emb, vit = BackboneGraph(model)(image)
        fused = NeckGraph(model)(vit, text)
        for name, module, args in (("backbone", BackboneGraph(model), (image,)),
                                   ("neck", NeckGraph(model), (vit, text)),
                                   ("decoder_head", DecoderHeadGraph(model),
                                    (emb, fused, text, coords, labels, image))):
            t = time.perf_counter()
            _export(module, args, out / FILES[name], name, dims)
            seconds[name] = round(time.perf_counter() - t, 2)
            log(f"exported {FILES[name]} in {seconds[name]:.1f} s")
    import onnx

    manifest = {"format": FORMAT, "opset": OPSET, "image_size": int(model.image_size),
                "grid_size": int(model.grid_size), "text_dim": int(model.out_proj.out_features),
                "files": dict(FILES), "config": config or {}, "export_seconds": seconds,
                "versions": {"torch": torch.__version__, "onnx": onnx.__version__}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if check:
        manifest["check"] = check_export(model, out, height, width)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(export_dir) -> dict:
    """``seal_onnx.json`` of an export directory, checked for the files it names."""
    d = Path(export_dir)
    path = d / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{d} is not an ONNX export of SEAL (no {MANIFEST}; write one with "
                                "`seal-ros export onnx`)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OnnxExportError(f"{path}: unreadable ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise OnnxExportError(f"{path}: format {manifest.get('format')!r}, this seal_ros reads {FORMAT}")
    missing = [f for f in FILES.values() if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)}")
    return manifest


def torch_reference(model: Seal, image, text, coords, labels) -> Tuple[Dict[str, np.ndarray], ...]:
    """The torch graphs' outputs on one input (the ground truth of an export's check)."""
    with torch.no_grad():
        emb, vit = BackboneGraph(model)(image)
        fused = NeckGraph(model)(vit, text)
        masks, model_masks, small = DecoderHeadGraph(model)(emb, fused, text, coords, labels, image)
    return {"embeddings": emb.numpy(), "vit": vit.numpy(), "fused": fused.numpy(), "masks": masks.numpy(),
            "model_masks": model_masks.numpy(), "small": small.numpy()}


def check_export(model: Seal, export_dir, height: int, width: int) -> dict:
    """ONNX Runtime on a sample window (another seed and vocabulary size than the traced one)
    against torch: largest absolute differences, share of equal mask pixels, same choices/classes."""
    from .runtime import OnnxSessions

    image, text, (coords, labels) = sample_inputs(model, height, width, classes=7, seed=1)
    ref = torch_reference(model, image, text, coords, labels)
    got = OnnxSessions(export_dir).run_all(image.numpy(), text.numpy(), coords.numpy(), labels.numpy())
    return compare_outputs(ref, got)


def compare_outputs(ref: Dict[str, np.ndarray], got: Dict[str, np.ndarray]) -> dict:
    """What the check records (and the tests assert on): max |diff| of the float outputs, the
    share of equal mask pixels, and whether every prompt kept the same candidate and classes."""
    f = small_slices()
    r, g = ref["small"], got["small"]
    out = {k: float(np.abs(ref[k].astype(np.float64) - got[k]).max()) for k in ("embeddings", "vit", "fused")}
    out["masks_equal"] = float((ref["masks"] == got["masks"]).mean())
    out["model_masks_equal"] = float((ref["model_masks"] == got["model_masks"]).mean())
    out["same_choice"] = bool((r[:, f["choice"]] == g[:, f["choice"]]).all())
    out["same_classes"] = bool((r[:, f["class_index"]] == g[:, f["class_index"]]).all())
    out["scores_max_diff"] = float(max(np.abs(r[:, f[k]] - g[:, f[k]]).max() for k in ("iou", "class_prob")))
    return out
