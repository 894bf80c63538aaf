"""The segmenter's model by name: the published SEAL, a trained export, or the tiny random one.

``model`` is ``vit_b`` (``seal.pt`` + CLIP from the models directory,
:meth:`SealPredictor.from_model_dir`), ``tiny`` (a RANDOM toy model of the
same classes, for tests: its masks and classes mean nothing; built from a
fixed seed, so two runs give the same output) or the path of a ``seal.pt``
(the published layout or a ``seal-ros train seal`` export,
:func:`seal_ros.seal.export.load_seal_export`: its size and text encoder come
with it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

__all__ = ["MODEL_NAMES", "PRECISIONS", "load_predictor", "resolve_device"]

MODEL_NAMES = ("vit_b", "tiny")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
RANDOM_WARNING = "model=tiny: a RANDOM toy model for tests; its masks and classes are MEANINGLESS"


def resolve_device(device: str) -> str:
    import torch

    return device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")


def load_predictor(model: str, models_dir, device: str = "auto", precision: str = "auto", compile: bool = False,
                   seed: int = 0, warn: Optional[Callable[[str], None]] = None):
    """(SealPredictor, info): ``info`` says what was loaded (``model``, ``device``, ``precision``,
    ``random_weights`` for tiny, ``random_teachers`` for an export trained against random teachers).
    Raises MissingWeights / FileNotFoundError / CheckpointError with one line."""
    import torch

    from seal_ros.seal.predictor import SealPredictor

    device = resolve_device(device)
    prec = precision if precision != "auto" else ("bf16" if device.startswith("cuda") else "fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    info = {"model": model, "device": device, "precision": prec, "random_weights": False, "random_teachers": False}
    if model == "tiny":
        from seal_ros.seal.build import build_seal
        from seal_ros.seal.text import build_tiny_text_encoder

        if warn is not None:
            warn(RANDOM_WARNING)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_seal("tiny")
        info["random_weights"] = True
        return SealPredictor(net, build_tiny_text_encoder(seed=seed), device=device, dtype=dtype), info
    if model == "vit_b":
        return SealPredictor.from_model_dir(models_dir, device=device, dtype=dtype, compile=compile), info
    from seal_ros.seal.export import load_seal_export

    export = load_seal_export(Path(model).expanduser(), device=device, dtype=dtype, models_dir=models_dir)
    cfg = export.config
    info.update(size=cfg["size"], step=cfg.get("step"), text_encoder=cfg["text_encoder"].get("kind"),
                random_teachers=export.random_teachers)
    if export.random_teachers and warn is not None:
        warn(f"{model} was trained against RANDOM teachers (random_teachers): its classes are not meaningful")
    return export.predictor(compile=compile), info
