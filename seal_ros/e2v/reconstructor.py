"""One facade over every reconstruction method: events in, uint8 frames out.

``Reconstructor(method, width, height, device, checkpoint)`` keeps the
recurrent state of one stream. ``process(events, t_end_ns)`` consumes the
events of a window and returns the picture at ``t_end_ns``.

* ``hpf`` / ``cf``: the reference high-pass / complementary filters and their
  displays (:mod:`seal_ros.e2v.filters`); ``cf`` takes frames (``add_frame``).
* networks: the window's rpg_e2vid voxel grid (5 bins; normalised when the
  method is), padded to the model's stride (``padding``: rpg's ``reflect`` by
  default, EVREAL's ``zero``), run with the carried state, shown with rpg's
  display (:class:`~seal_ros.e2v.display.RpgDisplay`: unsharp mask, then
  rescaling, ``auto_hdr`` off by default), cropped. An empty window runs the
  network on a zero voxel grid, as EVREAL does.

The state is reset on request (``reset()``) and on a time jump: events earlier
than the last seen time by more than ``jump_back_s`` (every method), or later
by more than ``reset_gap_s`` (networks; the filters decay across gaps by
themselves).
"""
from __future__ import annotations

import numpy as np

from seal_ros.events.representations import voxel_grid
from seal_ros.events.types import EventArray

from .checkpoint import CheckpointError, load_checkpoint
from .display import UNSHARP_AMOUNT, RpgDisplay
from .filters import (
    CF_CUTOFF_HZ, CONTRAST, HPF_BETA, HPF_CUTOFF_HZ, CfDisplay, ComplementaryFilter, HighPassFilter, HpfDisplay,
)
from .network import PADDING_MODES, NetworkRunner  # noqa: F401 - PADDING_MODES re-exported for callers
from .networks import METHODS

FILTERS = ("hpf", "cf")
LEARNED = tuple(METHODS)
ALL_METHODS = FILTERS + LEARNED
DEVICES = ("cpu", "cuda", "auto")
DEFAULT_CUTOFF_HZ = {"hpf": HPF_CUTOFF_HZ, "cf": CF_CUTOFF_HZ}


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
                 model=None, normalize=None, cutoff_hz: float | None = None, beta: float = HPF_BETA,
                 c_pos: float = CONTRAST, c_neg: float = CONTRAST, init_from_frame: bool = False,
                 unsharp_amount: float | None = None, auto_hdr: bool = False, padding: str = "reflect",
                 reset_gap_s: float = 1.0, jump_back_s: float = 0.01):
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
        if method in FILTERS:
            cutoff = DEFAULT_CUTOFF_HZ[method] if cutoff_hz is None else float(cutoff_hz)
            if method == "hpf":
                self.filter = HighPassFilter(width, height, cutoff, beta, c_pos, c_neg)
                self.display = HpfDisplay()
            else:
                self.filter = ComplementaryFilter(width, height, cutoff, c_pos, c_neg, init_from_frame)
                self.display = CfDisplay()
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
        self.net = NetworkRunner(model, width, height, self.device, padding)
        self.model = self.net.model
        self.normalize = default_norm if normalize is None else bool(normalize)
        self.num_bins = self.net.num_bins
        self._torch = torch
        amount = UNSHARP_AMOUNT if unsharp_amount is None else unsharp_amount
        self.display = RpgDisplay(unsharp_amount=amount, auto_hdr=auto_hdr)

    @property
    def states(self):
        return self.net.states if self.model is not None else None

    @property
    def counters(self) -> dict:
        """What the filters dropped, by reason (empty for networks): for diagnostics."""
        if self.model is not None:
            return {}
        f = self.filter
        return {"filter_events_outside": f.dropped, "filter_events_on_border": f.border, "filter_resets": f.resets}

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
            self.net.reset()

    def add_frame(self, t_ns: int, image: np.ndarray) -> bool:
        """Feed an intensity frame to the complementary filter.

        Returns False when the method does not use frames; raises ValueError on a wrong size.
        """
        if image.shape != (self.height, self.width):
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the sensor is {self.width}x{self.height}")
        if self.method != "cf":
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
            img = self.display(self.filter.log_image(int(t_end_ns), copy=False), int(t_end_ns))
            self.last_intensity = img.astype(np.float32) / 255.0
        else:
            img = self._network(events)
        self.last_t = int(t_end_ns) if self.last_t is None else max(self.last_t, int(t_end_ns))
        return img

    def _network(self, events: EventArray) -> np.ndarray:
        inside = (events.x < self.width) & (events.y < self.height)
        if not inside.all():
            events = events[inside]
        grid = voxel_grid(events, self.num_bins, self.width, self.height, normalize=self.normalize)
        out = self.net(self._torch.from_numpy(grid)[None].to(self.device))
        crop = self.net.padding.crop
        self.last_intensity = crop(out)[0, 0].clamp(0.0, 1.0).float().cpu().numpy()
        return crop(self.display(out))[0, 0].cpu().numpy()
