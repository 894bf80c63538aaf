"""EVREAL's full-reference image metrics: MSE, SSIM and LPIPS, computed as EVREAL computes them.

Reference: ercanburak/EVREAL ``utils/eval_metrics.py``. Both images are
float32 in [0, 1] (clipped before scoring); the reference frame comes first:

* MSE: ``skimage.metrics.mean_squared_error(ref, img)``;
* SSIM: ``skimage.metrics.structural_similarity(ref, img, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1.0)``;
* LPIPS: EVREAL calls pyiqa's ``lpips`` (AlexNet, v0.1) on the grey images
  repeated to 3 channels, inputs in [0, 1] mapped to [-1, 1]. pyiqa's LPIPS is
  a port of the LPIPS authors' ``lpips`` package (same AlexNet trunk, scaling
  layer and v0.1 linear layers); seal_ros uses that package, which ships the
  linear layers, with torchvision's ImageNet AlexNet weights read from the
  local torch hub cache (``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``,
  default ``~/.cache/torch/hub``). Nothing is downloaded: without that file
  (or without ``lpips`` installed) LPIPS is left out with a note saying why.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def mse(ref: np.ndarray, img: np.ndarray) -> float:
    from skimage.metrics import mean_squared_error

    return float(mean_squared_error(ref, img))


def ssim(ref: np.ndarray, img: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(ref, img, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=1.0))


def alexnet_weights_path() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


class Lpips:
    """LPIPS (AlexNet, v0.1) of two grey float images in [0, 1]."""

    def __init__(self, device: str = "cpu"):
        import warnings

        import lpips

        with warnings.catch_warnings():  # the package uses torchvision's deprecated `pretrained=True`
            warnings.simplefilter("ignore")
            self.net = lpips.LPIPS(net="alex", version="0.1", verbose=False).to(device).eval()
        self.device = device

    @classmethod
    def load(cls, device: str = "cpu") -> tuple["Lpips | None", str]:
        """``(metric, "")``, or ``(None, why)`` when the package or the AlexNet weights are not here."""
        try:
            import lpips  # noqa: F401
        except ImportError:
            return None, "LPIPS not computed: the 'lpips' package is not installed (pip install lpips==0.1.4)"
        path = alexnet_weights_path()
        if not path.is_file():
            return None, (f"LPIPS not computed: torchvision's AlexNet weights are not at {path} "
                          f"(copy {ALEXNET_FILE} there, or set TORCH_HOME; nothing is downloaded)")
        return cls(device), ""

    def __call__(self, ref: np.ndarray, img: np.ndarray) -> float:
        import torch

        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None].repeat(1, 3, 1, 1).to(self.device)

        with torch.no_grad():
            return float(self.net(tensor(img), tensor(ref), normalize=True).reshape(-1)[0])
