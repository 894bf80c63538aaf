"""Strict loading of the published checkpoints (layouts in shared/reference/).

- ``seal.pt`` (443 tensors): the whole :class:`~seal_ros.seal.modeling.seal.Seal`
  (``eventsam.*`` + head), loaded with ``strict=True``.
- ``eventsam.pth`` (354 tensors): a data-parallel state with two encoders; the
  event student ``module.evimg_encoder.*`` becomes ``image_encoder.*`` (the RGB
  teacher ``module.image_encoder.*`` is dropped); the prompt encoder and mask
  decoder come from SAM's ``sam_vit_b_01ec64.pth``.
- A stock SAM checkpoint (1024 px, 64x64 tokens) is resized to the model's
  input size on load: ``pos_embed`` by bicubic interpolation (antialiased),
  global-attention ``rel_pos`` by the same linear interpolation SAM's
  ``get_rel_pos`` applies at run time (windowed ``rel_pos`` do not change).

Files are read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam

__all__ = ["load_state", "load_seal", "load_eventsam", "eventsam_student_state",
           "resize_sam_state", "CheckpointError"]

StateOrPath = Union[str, Path, Mapping[str, torch.Tensor]]


class CheckpointError(RuntimeError):
    pass


def load_state(src: StateOrPath) -> Dict[str, torch.Tensor]:
    """A state dict from a file or mapping; unwraps ``{'model'|'state_dict': ...}``."""
    if isinstance(src, (str, Path)):
        p = Path(src)
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint not found: {p}")
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            raise CheckpointError(f"cannot read {p}: {e}") from e
    else:
        obj = src
    for key in ("model", "state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint is not a state dict ({type(obj).__name__})")
    return dict(obj)


def _strip_prefix(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{what} does not match the model: {e}") from e


def resize_sam_state(state: Dict[str, torch.Tensor], sam: Sam,
                     prefix: str = "image_encoder.") -> Dict[str, torch.Tensor]:
    """Resize ``pos_embed`` and ``rel_pos_*`` in ``state`` to the shapes of ``sam``'s encoder."""
    target = sam.image_encoder.state_dict()
    out = dict(state)
    for name, want in target.items():
        key = prefix + name
        have = out.get(key)
        if have is None or have.shape == want.shape:
            continue
        if name == "pos_embed":
            x = have.permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=want.shape[1:3], mode="bicubic", align_corners=False,
                              antialias=True)
            out[key] = x.permute(0, 2, 3, 1).to(have.dtype).contiguous()
        elif name.endswith(("rel_pos_h", "rel_pos_w")):
            x = have.float().t()[None]  # (1, C, L)
            x = F.interpolate(x, size=want.shape[0], mode="linear")
            out[key] = x[0].t().to(have.dtype).contiguous()
    return out


def eventsam_student_state(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``eventsam.pth`` -> ``image_encoder.*`` of the event student."""
    s = _strip_prefix(dict(state), "module.")
    out = {"image_encoder." + k[len("evimg_encoder."):]: v for k, v in s.items()
           if k.startswith("evimg_encoder.")}
    if not out:
        raise CheckpointError("eventsam checkpoint has no 'evimg_encoder.*' tensors")
    return out


def load_eventsam(sam: Sam, eventsam_path: Optional[StateOrPath] = None,
                  sam_path: Optional[StateOrPath] = None) -> Sam:
    """Load EventSAM into a segment-anything ``Sam`` built at 512 px, strictly.

    ``sam_path`` (``sam_vit_b_01ec64.pth``) gives the prompt encoder and mask
    decoder (and the image encoder when ``eventsam_path`` is None, resized);
    ``eventsam_path`` gives the event image encoder."""
    if sam_path is None:
        raise CheckpointError("EventSAM needs sam_vit_b_01ec64.pth for its prompt encoder "
                              "and mask decoder")
    state = _strip_prefix(load_state(sam_path), "module.")
    if eventsam_path is not None:
        state = {k: v for k, v in state.items() if not k.startswith("image_encoder.")}
        state.update(eventsam_student_state(load_state(eventsam_path)))
    state = resize_sam_state(state, sam)
    _load_strict(sam, state, "EventSAM checkpoint")
    return sam


def load_seal(model: torch.nn.Module, path: StateOrPath) -> torch.nn.Module:
    """Load ``seal.pt`` strictly into a :class:`Seal`."""
    state = _strip_prefix(load_state(path), "module.")
    _load_strict(model, state, "SEAL checkpoint")
    return model
