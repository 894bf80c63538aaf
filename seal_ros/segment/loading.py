"""The segmenter's model by name, on a backend by name: what ``seal_segmenter`` and ``seal-ros segment`` load.

``model`` is ``vit_b`` (``seal.pt`` + CLIP from the models directory,
:meth:`SealPredictor.from_model_dir`), ``tiny`` (a RANDOM toy model of the
same classes, for tests: its masks and classes mean nothing; built from a
fixed seed, so two runs give the same output) or the path of a ``seal.pt``
(the published layout or a ``seal-ros train seal`` export,
:func:`seal_ros.seal.export.load_seal_export`: its size and text encoder come
with it).

``backend`` is ``torch`` (any device), ``onnx`` (ONNX Runtime on the CPU,
:class:`~seal_ros.seal.onnx.runtime.OnnxSealPredictor`: the same interface) or
``auto``: torch on CUDA; on the CPU :data:`CPU_AUTO_BACKEND`, the faster of the
two in ``bench/bench_seal.py --onnx`` (README, Benchmarks): ONNX Runtime, 1.1-2.6x
torch's speed on a full-size window on 2 cores. Auto stays on torch on the CPU
for the random ``tiny`` test model (unless ``onnx_dir`` is given: nothing to gain
from exporting it at every start), when the pip-only packages it needs are
not installed (said in one line), and for automatic mode (``automatic``: modes
auto and both), which runs in torch only: the ONNX graphs hold the prompted
window (backbone, neck, decoder + head per prompt), not SAM's decoder over many
points and SEAL's head on chosen masks. ``backend: onnx`` with automatic mode is
refused (:data:`AUTOMATIC_NEEDS_TORCH`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

__all__ = ["MODEL_NAMES", "PRECISIONS", "BACKENDS", "CPU_AUTO_BACKEND", "RANDOM_WARNING", "AUTOMATIC_NEEDS_TORCH",
           "load_predictor", "resolve_device", "resolve_backend"]

MODEL_NAMES = ("vit_b", "tiny")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BACKENDS = ("auto", "torch", "onnx")
CPU_AUTO_BACKEND = "onnx"
RANDOM_WARNING = "model=tiny: a RANDOM toy model for tests; its masks and classes are MEANINGLESS"
AUTOMATIC_NEEDS_TORCH = ("automatic mode (mode auto or both) runs on backend torch only (the ONNX graphs hold the "
                         "prompted window); use backend torch or auto")


def _quiet(msg: str) -> None:
    pass


def resolve_device(device: str) -> str:
    import torch

    return device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")


def resolve_backend(backend: str, device: str, model: str = "vit_b", onnx_dir: str = "",
                    log: Callable[[str], None] = _quiet, automatic: bool = False) -> str:
    """The backend ``backend`` means for this device and model, with or without automatic mode (see the
    module docstring); ValueError for backend onnx with automatic mode."""
    import importlib.util

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "onnx" and automatic:
        raise ValueError(f"backend onnx: {AUTOMATIC_NEEDS_TORCH}")
    if backend != "auto":
        return backend
    if device.startswith("cuda") or CPU_AUTO_BACKEND == "torch" or (model == "tiny" and not onnx_dir):
        return "torch"
    if automatic:
        log("backend auto: torch on the CPU (automatic mode runs on torch only)")
        return "torch"
    need = ("onnxruntime",) if onnx_dir else ("onnxruntime", "onnx", "onnxscript")
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if missing:
        log(f"backend auto: torch on the CPU ({', '.join(missing)} not installed; ONNX Runtime is faster there: "
            f"pip install {' '.join(missing)})")
        return "torch"
    return "onnx"


def load_predictor(model: str, models_dir=None, device: str = "auto", precision: str = "auto",
                   compile: bool = False, backend: str = "torch", onnx_dir: str = "", seed: int = 0,
                   log: Callable[[str], None] = _quiet, warn: Optional[Callable[[str], None]] = None,
                   automatic: bool = False):
    """(predictor, info): ``info`` says what was loaded (``model``, ``backend``, ``device``,
    ``precision``, ``random_weights`` for tiny, ``random_teachers`` for an export trained against
    random teachers, and for an export ``size``, ``step``, ``text_encoder``). Raises MissingWeights /
    FileNotFoundError / CheckpointError with one line; ValueError for backend onnx with ``automatic``
    (modes auto and both: :func:`resolve_backend`)."""
    from seal_ros.models.manifest import default_models_dir

    warn = warn or _quiet
    device = resolve_device(device)
    models_dir = str(models_dir) if models_dir else str(default_models_dir())
    backend = resolve_backend(backend, device, model, onnx_dir, log, automatic)
    if backend == "onnx":
        return _load_onnx(model, models_dir, device, onnx_dir, seed, log, warn)
    return _load_torch(model, models_dir, device, precision, compile, seed, log, warn)


def _load_torch(model, models_dir, device, precision, compile, seed, log, warn):
    import torch

    from seal_ros.seal.predictor import SealPredictor

    prec = precision if precision != "auto" else ("bf16" if device.startswith("cuda") else "fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    info = {"model": model, "backend": "torch", "device": device, "precision": prec, "random_weights": False,
            "random_teachers": False}
    if model == "tiny":
        from seal_ros.seal.build import build_seal
        from seal_ros.seal.text import build_tiny_text_encoder

        warn(RANDOM_WARNING)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_seal("tiny")
        info["random_weights"] = True
        return SealPredictor(net, build_tiny_text_encoder(seed=seed), device=device, dtype=dtype), info
    if model == "vit_b":
        log(f"loading SEAL from {models_dir} on {device} ({prec})")
        return SealPredictor.from_model_dir(models_dir, device=device, dtype=dtype, compile=compile), info
    from seal_ros.seal.export import load_seal_export

    export = load_seal_export(Path(model).expanduser(), device=device, dtype=dtype, models_dir=models_dir)
    cfg = export.config
    info.update(size=cfg["size"], step=cfg.get("step"), text_encoder=cfg["text_encoder"].get("kind"),
                random_teachers=export.random_teachers)
    log(f"loaded trained SEAL {model} (size {cfg['size']}, step {cfg.get('step')}, "
        f"text encoder {info['text_encoder']}) on {device} ({prec})")
    if export.random_teachers:
        warn(f"{model} was trained against RANDOM teachers (random_teachers): its classes are not meaningful")
    return export.predictor(compile=compile), info


def _load_onnx(model, models_dir, device, onnx_dir, seed, log, warn):
    """ONNX Runtime on the CPU: the graphs of ``onnx_dir`` (their text encoder as their manifest
    names it), or ``model`` exported now into the cache (:mod:`seal_ros.seal.onnx.cache`)."""
    from seal_ros.deps import require

    require("onnxruntime")
    from seal_ros.seal.onnx.runtime import OnnxSealPredictor, load_onnx_predictor

    if device.startswith("cuda"):
        warn("backend onnx runs on the CPU (onnxruntime); the device parameter is not used")
    info = {"model": model, "backend": "onnx", "device": "cpu", "precision": "fp32",
            "random_weights": model == "tiny", "random_teachers": False}
    if onnx_dir:
        log(f"SEAL on ONNX Runtime from {onnx_dir}")
        return load_onnx_predictor(onnx_dir, models_dir=models_dir), info
    require("onnx"), require("onnxscript")
    from seal_ros.seal.onnx.cache import exported_dir

    torch_pred, tinfo = _load_torch(model, models_dir, "cpu", "fp32", False, seed, log, warn)
    out = exported_dir(torch_pred.model, model, models_dir, log)
    info.update({k: v for k, v in tinfo.items() if k not in info or k.startswith("random")})
    return OnnxSealPredictor(out, torch_pred.text_encoder), info
