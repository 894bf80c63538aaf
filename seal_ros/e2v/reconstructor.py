"""One facade over every reconstruction method: events in, uint8 frames out.

``Reconstructor(method, width, height, device, checkpoint)`` keeps the
recurrent state of one stream. ``process(events, t_end_ns)`` consumes the
events of a window and returns the picture at ``t_end_ns``. The state is
reset on request (``reset()``) and on a time jump: events earlier than the
last seen time by more than ``jump_back_s`` (every method), or later by more
than ``reset_gap_s`` (learned methods; the filters decay across gaps by
themselves).
"""
from __future__ import annotations

import math

import numpy as np

from seal_ros.events.representations import voxel_grid
from seal_ros.events.types import EventArray

from .checkpoint import CheckpointError, load_checkpoint
from .display import Display
from .hpf import DEFAULT_BETA, DEFAULT_CONTRAST, DEFAULT_CUTOFF_HZ, HighPassFilter
from .networks import METHODS

LEARNED = tuple(METHODS)
ALL_METHODS = ("hpf",) + LEARNED
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> str:
    import torch

    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for but torch sees no CUDA device")
    return device


class Reconstructor:
    def __init__(self, method: str, width: int, height: int, device: str = "cpu", checkpoint=None, *,
                 model=None, normalize=None, cutoff_hz: float = DEFAULT_CUTOFF_HZ, beta: float = DEFAULT_BETA,
                 c_pos: float = DEFAULT_CONTRAST, c_neg: float = DEFAULT_CONTRAST, display: Display | None = None,
                 unsharp_amount: float | None = None, reset_gap_s: float = 1.0, jump_back_s: float = 0.01):
        if method not in ALL_METHODS:
            raise ValueError(f"method must be one of {ALL_METHODS}, not {method!r}")
        if width <= 0 or height <= 0:
            raise ValueError(f"bad sensor size {width}x{height}")
        self.method, self.width, self.height = method, int(width), int(height)
        self.reset_gap_ns = int(reset_gap_s * 1e9)
        self.jump_back_ns = int(jump_back_s * 1e9)
        self.resets = 0
        self.last_t = None
        self.last_intensity = None  # float32 [0, 1], H x W: the latest picture before quantisation
        self.model = None
        if method == "hpf":
            self.filter = HighPassFilter(width, height, cutoff_hz, beta, c_pos, c_neg)
            amount = 0.0 if unsharp_amount is None else unsharp_amount
            # neutral grey is exp(0) = 1; keep at least +-2 contrast steps in range
            half = math.exp(2 * max(c_pos, c_neg)) - 1.0
            self.display = display or Display("percentile", unsharp_amount=amount, center=1.0, min_half_span=half)
            self.device = "cpu"
            return
        import torch

        self.device = resolve_device(device)
        if model is None:
            if not checkpoint:
                raise CheckpointError(f"method {method!r} needs a checkpoint file (no weights ship with seal_ros)")
            loaded = load_checkpoint(checkpoint, method, self.device)
            model, default_norm = loaded.model, loaded.normalize
        else:
            default_norm = METHODS[method][2]
        self.model = model.to(self.device).eval()
        self.normalize = default_norm if normalize is None else bool(normalize)
        self.num_bins = int(getattr(model, "num_bins", 5))
        self.multiple = 2 ** int(getattr(model, "num_encoders", 0))
        self.states = None
        self._torch = torch
        amount = 0.3 if unsharp_amount is None else unsharp_amount
        self.display = display or Display("auto_hdr", unsharp_amount=amount)

    # ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the recurrent state (filter state, network states, display history)."""
        self.resets += 1
        self.last_t = None
        self.last_intensity = None
        self.display.reset()
        if self.model is None:
            self.filter.reset()
        else:
            self.states = None

    def add_frame(self, t_ns: int, image: np.ndarray) -> bool:
        """Feed an intensity frame: the high-pass filter becomes the complementary filter.

        Returns False when the method does not use frames; raises ValueError on a wrong size.
        """
        if image.shape != (self.height, self.width):
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the sensor is {self.width}x{self.height}")
        if self.model is not None:
            return False
        self.filter.add_frame(int(t_ns), image)
        return True

    def _check_jump(self, t_first: int) -> None:
        if self.last_t is None:
            return
        if t_first < self.last_t - self.jump_back_ns or (
                self.model is not None and t_first > self.last_t + self.reset_gap_ns):
            self.reset()

    def process(self, events: EventArray, t_end_ns: int | None = None) -> np.ndarray:
        """The picture (uint8, H x W) at ``t_end_ns`` after the window's ``events``."""
        if len(events):
            self._check_jump(int(events.t[0]))
            if t_end_ns is None:
                t_end_ns = int(events.t[-1]) + 1
        elif t_end_ns is None:
            t_end_ns = self.last_t if self.last_t is not None else 0
        if self.model is None:
            self.filter.process(events)
            intensity = self.display.normalize(self.filter.image(int(t_end_ns)))
        else:
            intensity = self._network(events)
        self.last_t = int(t_end_ns) if self.last_t is None else max(self.last_t, int(t_end_ns))
        self.last_intensity = intensity
        return self.display.to_uint8(intensity) if self.model is None else self.display(intensity)

    def _network(self, events: EventArray) -> np.ndarray:
        torch = self._torch
        if not len(events) and self.last_intensity is not None:
            return self.last_intensity
        inside = (events.x < self.width) & (events.y < self.height)
        if not inside.all():
            events = events[inside]
        grid = voxel_grid(events, self.num_bins, self.width, self.height, normalize=self.normalize)
        x = torch.from_numpy(grid)[None].to(self.device)
        ph = (-self.height) % self.multiple
        pw = (-self.width) % self.multiple
        top, left = ph // 2, pw // 2
        if ph or pw:
            x = torch.nn.functional.pad(x, (left, pw - left, top, ph - top), mode="reflect")
        with torch.no_grad():
            out, self.states = self.model(x, self.states)
        img = out[0, 0, top:top + self.height, left:left + self.width]
        return img.clamp(0.0, 1.0).float().cpu().numpy()
