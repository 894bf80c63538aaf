"""Which predictor runs SEAL: torch (any device) or ONNX Runtime (CPU), chosen by name.

:func:`load_predictor` is what ``seal_segmenter`` loads at start (its parameters ``model``,
``models_dir``, ``device``, ``precision``, ``compile``, ``backend``, ``onnx_dir``) and what an
offline command can call with the same names. Both backends give the same interface
(:class:`~seal_ros.seal.predictor.SealPredictor`; the ONNX one is
:class:`~seal_ros.seal.onnx.runtime.OnnxSealPredictor`).

``backend="auto"``: torch on CUDA; on the CPU :data:`CPU_AUTO_BACKEND`, the faster of the two
in ``bench/bench_seal.py --onnx`` (README, Benchmarks): ONNX Runtime, 1.6-2.6x torch's speed on a
full-size window on 2 cores. Auto stays on torch on the CPU for the random ``tiny`` test model
(unless ``onnx_dir`` is given: nothing to gain from exporting it at every start) and when the
pip-only packages it needs are not installed (said in one line).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Tuple

BACKENDS = ("auto", "torch", "onnx")
CPU_AUTO_BACKEND = "onnx"


def _quiet(msg: str) -> None:
    pass


def resolve_device(device: str) -> str:
    import torch

    return device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")


def resolve_backend(backend: str, device: str, model: str = "vit_b", onnx_dir: str = "",
                    info: Callable[[str], None] = _quiet) -> str:
    """The backend ``backend`` means for this device and model (see the module docstring)."""
    import importlib.util

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    if device.startswith("cuda") or CPU_AUTO_BACKEND == "torch" or (model == "tiny" and not onnx_dir):
        return "torch"
    need = ("onnxruntime",) if onnx_dir else ("onnxruntime", "onnx", "onnxscript")
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if missing:
        info(f"backend auto: torch on the CPU ({', '.join(missing)} not installed; ONNX Runtime is faster there: "
             f"pip install {' '.join(missing)})")
        return "torch"
    return "onnx"


def load_predictor(model: str = "vit_b", models_dir: str = "", device: str = "auto", precision: str = "auto",
                   compile: bool = False, backend: str = "auto", onnx_dir: str = "",
                   info: Callable[[str], None] = _quiet, warn: Callable[[str], None] = _quiet) -> Tuple[object, str]:
    """(predictor, backend run). ``model``: vit_b (seal.pt + CLIP in ``models_dir``), tiny (RANDOM, tests)
    or the path of a seal.pt; raises :class:`~seal_ros.seal.weights.MissingWeights` (a FileNotFoundError)
    without the files."""
    device = resolve_device(device)
    backend = resolve_backend(backend, device, model, onnx_dir, info)
    if backend == "onnx":
        return load_onnx(model, models_dir, device, onnx_dir, info, warn), "onnx"
    return load_torch(model, models_dir, device, precision, compile, info, warn), "torch"


def load_torch(model: str, models_dir: str, device: str, precision: str = "auto", compile: bool = False,
               info: Callable[[str], None] = _quiet, warn: Callable[[str], None] = _quiet):
    import torch

    from seal_ros.models.manifest import default_models_dir
    from seal_ros.seal.predictor import SealPredictor

    prec = precision if precision != "auto" else ("bf16" if device.startswith("cuda") else "fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    if model == "tiny":
        from seal_ros.seal.build import build_seal
        from seal_ros.seal.text import build_tiny_text_encoder

        warn("model=tiny: a RANDOM toy model for tests; its masks and classes are MEANINGLESS. "
             "Use model=vit_b with the real weights.")
        return SealPredictor(build_seal("tiny"), build_tiny_text_encoder(), device=device, dtype=dtype)
    models_dir = models_dir or str(default_models_dir())
    if model != "vit_b":
        from seal_ros.seal.export import load_seal_export

        export = load_seal_export(Path(model).expanduser(), device=device, dtype=dtype, models_dir=models_dir)
        cfg = export.config
        info(f"loaded trained SEAL {model} (size {cfg['size']}, step {cfg.get('step')}, "
             f"text encoder {cfg['text_encoder'].get('kind')}) on {device} ({prec})")
        if export.random_teachers:
            warn(f"{model} was trained against RANDOM teachers (random_teachers): its classes are not meaningful")
        return export.predictor(compile=compile)
    info(f"loading SEAL from {models_dir} on {device} ({prec})")
    return SealPredictor.from_model_dir(models_dir, device=device, dtype=dtype, compile=compile)


def load_onnx(model: str, models_dir: str, device: str, onnx_dir: str = "",
              info: Callable[[str], None] = _quiet, warn: Callable[[str], None] = _quiet):
    """ONNX Runtime on the CPU: the graphs of ``onnx_dir`` (their text encoder as their manifest
    names it), or ``model`` exported now into the cache (:mod:`seal_ros.seal.onnx.cache`)."""
    from seal_ros.deps import require
    from seal_ros.models.manifest import default_models_dir

    require("onnxruntime")
    from seal_ros.seal.onnx.runtime import OnnxSealPredictor, load_onnx_predictor

    if device.startswith("cuda"):
        warn("backend onnx runs on the CPU (onnxruntime); the device parameter is not used")
    if onnx_dir:
        info(f"SEAL on ONNX Runtime from {onnx_dir}")
        return load_onnx_predictor(onnx_dir, models_dir=models_dir or str(default_models_dir()))
    require("onnx"), require("onnxscript")
    from seal_ros.seal.onnx.cache import exported_dir

    torch_pred = load_torch(model, models_dir, "cpu", "fp32", False, info, warn)
    out = exported_dir(torch_pred.model, model, models_dir or str(default_models_dir()), info)
    return OnnxSealPredictor(out, torch_pred.text_encoder)
