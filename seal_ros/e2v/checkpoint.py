"""Loading published reconstruction checkpoints safely.

Accepted layouts (``torch.load(path, weights_only=True)``: tensors and plain
containers only, no code from the file runs; the class is looked up by name
in :data:`seal_ros.e2v.networks.ARCHS`, never evaluated):

* rpg_e2vid / FireNet / EVREAL: ``{'arch': 'E2VIDRecurrent' | 'FireNet' | ...,
  'model': {...constructor args...}  or  'config': {'model': {...}},
  'state_dict': {...}}``;
* event_cnn_minimal / EVREAL (E2VID+, FireNet+): ``{'arch': ..., 'config': C, 'state_dict': ...}``
  where ``C`` is a plain dict or, as published, a pickled
  ``parse_config.ConfigParser`` (pytorch-template's), whose ``_config`` holds
  ``{'arch': {'type': ..., 'args': {...} or {'unet_kwargs': {...}}}}``
  (``final_activation`` defaults to none there);
* a bare state dict, when the caller names the method (SSL-E2VID, SPADE-E2VID style).

Weights-only loading allows exactly the types these files contain beyond
torch's defaults: ``parse_config.ConfigParser`` is unpickled as an inert
record (:class:`PickledConfig`: attributes only, no methods run), and
``pathlib.PosixPath`` / ``WindowsPath`` (its ``resume`` / ``_save_dir``
fields) as plain strings. Anything else a file pickles is refused with one
line naming it.

Optional top-level key ``voxel_normalization`` (bool) overrides the method's
default input normalisation. Any mismatch raises :class:`CheckpointError`
with every missing key, unexpected key and shape difference in one message.
"""
from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .networks import ARCHS, METHODS, FireNet, FireNetFlat


class CheckpointError(Exception):
    """A checkpoint that cannot be used: one message saying why."""


class PickledConfig:
    """Stand-in for pytorch-template's ``parse_config.ConfigParser``: its pickled attributes, nothing else."""

    def get(self):
        cfg = self.__dict__.get("_config", self.__dict__.get("config"))
        return cfg if isinstance(cfg, dict) else None


def _posix_path(*parts) -> str:
    return str(pathlib.PurePosixPath(*parts))


def _windows_path(*parts) -> str:
    return str(pathlib.PureWindowsPath(*parts))


# (object, the name it is pickled under): what published e2v files hold beyond tensors and containers
SAFE_GLOBALS = [(PickledConfig, "parse_config.ConfigParser"), (_posix_path, "pathlib.PosixPath"),
                (_windows_path, "pathlib.WindowsPath")]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def safe_load(path):
    """``torch.load(path, weights_only=True)`` with :data:`SAFE_GLOBALS` allowed; one-line CheckpointError."""
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt file, or pickled code refused by weights_only
        text = _ANSI.sub("", str(exc))
        refused = re.search(r"GLOBAL ([\w.]+) was not an allowed global", text)
        if refused:
            why = f"it pickles {refused.group(1)}, which is not a weight or a known checkpoint type; not loaded"
        else:
            lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
            why = lines[0][:200] if lines else type(exc).__name__
        raise CheckpointError(f"{path}: cannot be loaded safely ({why})") from None


@dataclass
class LoadedModel:
    model: torch.nn.Module
    arch: str
    config: dict
    normalize: bool


def _arch_name(model) -> str:
    for name, cls in ARCHS.items():
        if type(model) is cls:
            return name
    raise CheckpointError(f"{type(model).__name__} is not a registered architecture")


def save_checkpoint(model: torch.nn.Module, path, normalize: bool | None = None, **extra) -> None:
    """Write ``model`` in the published layout: ``arch``, ``model`` (its config), ``state_dict``."""
    ckpt = {"arch": _arch_name(model), "model": dict(model.config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    if normalize is not None:
        ckpt["voxel_normalization"] = bool(normalize)
    ckpt.update(extra)
    torch.save(ckpt, str(path))


def _config_of(ckpt: dict) -> tuple[dict, bool]:
    """Constructor kwargs and whether the layout is event_cnn_minimal style."""
    if isinstance(ckpt.get("model"), dict):
        return dict(ckpt["model"]), False
    config = ckpt.get("config")
    if isinstance(config, PickledConfig):
        config = config.get()
        if config is None:
            raise CheckpointError("its pickled ConfigParser holds no '_config' dict")
    if isinstance(config, dict):
        if isinstance(config.get("model"), dict):
            return dict(config["model"]), False
        arch = config.get("arch")
        if isinstance(arch, dict) and isinstance(arch.get("args"), dict):
            args = dict(arch["args"])
            if isinstance(args.get("unet_kwargs"), dict):
                args = {**{k: v for k, v in args.items() if k != "unet_kwargs"}, **args["unet_kwargs"]}
            return args, True
    if config is not None and not isinstance(config, dict):
        raise CheckpointError(f"its 'config' is a {type(config).__name__}, not a dict or ConfigParser")
    return {}, False


def _diff(model, state) -> list[str]:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]

    def part(title, items):
        if not items:
            return []
        shown = ", ".join(items[:8]) + (f", ... ({len(items) - 8} more)" if len(items) > 8 else "")
        return [f"{len(items)} {title} [{shown}]"]

    return part("missing keys", missing) + part("unexpected keys", unexpected) + part("shape mismatches", shapes)


def load_checkpoint(path, method: str | None = None, device="cpu") -> LoadedModel:
    """Build the network a checkpoint describes and load its weights strictly."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    ckpt = safe_load(path)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(ckpt).__name__}")
    if "state_dict" in ckpt:
        state = ckpt["state_dict"]
        arch = ckpt.get("arch")
        try:
            config, minimal = _config_of(ckpt)
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        cfg = ckpt.get("config")
        cfg = cfg.get() if isinstance(cfg, PickledConfig) else cfg
        if isinstance(cfg, dict) and isinstance(cfg.get("arch"), dict):
            arch = arch if isinstance(arch, str) else cfg["arch"].get("type")
    elif ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        if method is None:
            raise CheckpointError(f"{path}: a bare state dict; name the method to load it")
        state, arch, config, minimal = ckpt, None, {}, False
    else:
        raise CheckpointError(f"{path}: no 'state_dict' in the checkpoint (keys: {sorted(map(str, ckpt))[:10]})")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: 'state_dict' is not a dict")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}

    if method is not None:
        m_arch, m_kwargs, normalize = METHODS[method]
        arch = arch or m_arch
        config = {**m_kwargs, **config} if not config else config
        if "final_activation" in m_kwargs and not minimal:
            config.setdefault("final_activation", m_kwargs["final_activation"])
    else:
        normalize = True
    if arch not in ARCHS:
        raise CheckpointError(f"{path}: unknown architecture {arch!r} (known: {', '.join(sorted(ARCHS))})")
    cls = ARCHS[arch]
    if cls is FireNet and any(k.startswith("G1.") for k in state):
        cls = FireNetFlat  # refactored FireNet layout under the same arch name
    allowed = (ARCHS[METHODS[method][0]], FireNetFlat if method.startswith("firenet") else None) if method else ()
    if method is not None and cls not in allowed:
        raise CheckpointError(f"{path}: holds a {arch} network, method {method!r} needs {METHODS[method][0]}")
    if minimal:
        config.setdefault("final_activation", "none")
    if "voxel_normalization" in ckpt:
        normalize = bool(ckpt["voxel_normalization"])
    try:
        model = cls(**config)
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: cannot build {arch} from its config ({exc})") from None
    problems = _diff(model, state)
    if problems:
        raise CheckpointError(f"{path}: weights do not fit {arch}: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
    return LoadedModel(model=model.to(device).eval(), arch=arch, config=dict(model.config), normalize=normalize)
