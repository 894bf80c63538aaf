"""Running a recurrent reconstruction network on voxel grids: padding to its stride, carried state, cropping.

Padding as rpg_e2vid's and EVREAL's ``CropParameters``: each side grows to the
next multiple of ``2 ** num_encoders``, ``ceil`` of half the growth on the
top / left and ``floor`` on the bottom / right; the crop takes the original
window back. rpg_e2vid pads by reflection (``ReflectionPad2d``), EVREAL with
zeros (``ZeroPad2d``). ``num_encoders`` is the model's: 4 for the original
FireNet (the legacy ``BaseE2VID`` default, so 346x260 becomes 352x272), 0
for the refactored FireNet(+), the configured number for E2VID(+).
"""
from __future__ import annotations

from math import ceil, floor

PADDING_MODES = ("reflect", "zero")


class Padding:
    def __init__(self, width: int, height: int, num_encoders: int, mode: str = "reflect"):
        if mode not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, not {mode!r}")
        m = 2 ** int(num_encoders)
        self.width, self.height, self.mode = int(width), int(height), mode
        self.padded_width = m * ceil(self.width / m)
        self.padded_height = m * ceil(self.height / m)
        dw, dh = self.padded_width - self.width, self.padded_height - self.height
        self.left, self.right = ceil(0.5 * dw), floor(0.5 * dw)
        self.top, self.bottom = ceil(0.5 * dh), floor(0.5 * dh)

    def pad(self, x):
        import torch.nn.functional as F

        if not (self.left or self.right or self.top or self.bottom):
            return x
        sides = (self.left, self.right, self.top, self.bottom)
        return F.pad(x, sides, mode="reflect") if self.mode == "reflect" else F.pad(x, sides)

    def crop(self, img):
        return img[..., self.top:self.top + self.height, self.left:self.left + self.width]


class NetworkRunner:
    """``model(voxel, states) -> (image, states)`` with the state carried between calls."""

    def __init__(self, model, width: int, height: int, device: str = "cpu", padding: str = "reflect",
                 num_encoders: int | None = None):
        self.model = model.to(device).eval()
        self.device = device
        encoders = getattr(model, "num_encoders", 0) if num_encoders is None else num_encoders
        self.padding = Padding(width, height, int(encoders), padding)
        self.num_bins = int(getattr(model, "num_bins", 5))
        self.states = None

    def reset(self) -> None:
        self.states = None

    def __call__(self, voxel):
        """``voxel`` (1, B, H, W) float32 on the device -> the padded output (1, 1, H', W')."""
        import torch

        with torch.no_grad():
            out, self.states = self.model(self.padding.pad(voxel), self.states)
        return out[:, :1]
