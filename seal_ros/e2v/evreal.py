"""EVREAL's evaluation protocol, step by step (ercanburak/EVREAL: ``eval.py``, ``dataset.py``, ``config/``).

Its ``std`` evaluation config (the one behind its published tables) on one
sequence in EVREAL's layout (:mod:`seal_ros.io.evreal`), ``K`` frames:

1. Items ``0 .. K-2`` (the last frame is never scored). Item ``i`` holds the
   events ``image_event_indices[i-1] .. image_event_indices[i] - 1`` (item 0:
   none) and frame ``i``. ``image_event_indices`` is "the last event at or
   before the frame", so a window starts with the last event at or before the
   previous frame and stops before the last event at or before its own frame.
2. The 5-bin voxel grid of the window as EVREAL builds it (float32 times
   relative to the window's first event, bilinear weights
   ``max(0, 1 - |t_norm - b|)``, ``t_norm = (t - t0) / (t1 - t0) * 4``; all
   events at one time: ``t_norm = linspace(0, 4, n)``); an empty window is a
   zero grid and the network still runs on it (item 0 scores the output of a
   zero input against frame 0; the state it leaves is kept).
3. Per method (``config/method/*.json``): the non-zero cells standardised
   (``event_tensor_normalization``: FireNet and E2VID; std at least 1e-6),
   zero padding to the model's stride (FireNet 4 encoders -> 352x272 for
   346x260; FireNet+ 0; E2VID(+) 3), the model with its carried state, crop,
   then ``post_process_norm``: ``robust`` (1st-99th percentile min-max; E2VID),
   ``exprobust`` (exp, then robust; SSL-E2VID) or ``none``.
4. Prediction and frame (``/ 255``) clipped to [0, 1], no histogram
   equalisation; MSE, SSIM, LPIPS (:mod:`seal_ros.e2v.metrics`) on items whose
   frame time lies in ``[start_s, end_s]`` (default: the whole sequence);
   items before ``start_s - 10`` are skipped, the run stops after ``end_s``.
   Means over the scored items (non-finite scores left out, as EVREAL does).

The filters (``hpf``, ``cf``) and ``semantic_e2vid`` are not EVREAL methods;
they run on the same windows (the filters' uint8 display / 255, frames given
to ``cf`` once scored) and are labelled so in the result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seal_ros.io.evreal import EvrealRecording

from . import metrics
from .network import NetworkRunner


@dataclass(frozen=True)
class MethodConfig:
    evreal_name: str | None  # None: not an EVREAL method
    normalize: bool  # EVREAL's event_tensor_normalization
    post_norm: str  # EVREAL's post_process_norm
    num_encoders: int | None  # padding; None: the model's own


METHODS = {
    "firenet": MethodConfig("FireNet", True, "none", None),
    "firenet_plus": MethodConfig("FireNet+", False, "none", 0),
    "e2vid": MethodConfig("E2VID", True, "robust", None),
    "e2vid_plus": MethodConfig("E2VID+", False, "none", None),
    "ssl_e2vid": MethodConfig("SSL-E2VID", False, "exprobust", 3),
    "semantic_e2vid": MethodConfig(None, True, "none", None),
    "hpf": MethodConfig(None, False, "none", None),
    "cf": MethodConfig(None, False, "none", None),
}
POST_NORMS = ("none", "robust", "standard", "exprobust")


def voxel_grid(xy: np.ndarray, ts: np.ndarray, p: np.ndarray, num_bins: int, height: int, width: int):
    """EVREAL's voxel grid of one window: torch float32 (num_bins, H, W); ``ts`` in seconds, ``p`` 1 / 0."""
    import torch

    if len(ts) == 0:
        return torch.zeros((num_bins, height, width), dtype=torch.float32)
    xs = torch.from_numpy(np.asarray(xy[:, 0]).astype(np.float32)).long()
    ys = torch.from_numpy(np.asarray(xy[:, 1]).astype(np.float32)).long()
    t = torch.from_numpy((np.asarray(ts, np.float64) - ts[0]).astype(np.float32))
    ps = torch.from_numpy((np.asarray(p) * 2.0 - 1.0).astype(np.float32))
    dt = t[-1] - t[0]
    t_norm = torch.linspace(0, num_bins - 1, steps=len(t)) if dt.item() < 1e-9 else (t - t[0]) / dt * (num_bins - 1)
    zeros = torch.zeros(t_norm.size())
    bins = []
    for b in range(num_bins):
        img = torch.zeros((height, width), dtype=torch.float32)
        img.index_put_((ys, xs), ps * torch.max(zeros, 1.0 - torch.abs(t_norm - b)), accumulate=True)
        bins.append(img)
    return torch.stack(bins)


def normalize_event_tensor(voxel):
    """EVREAL's standardisation of the non-zero cells (``eval.py``)."""
    import torch

    nonzero = voxel != 0
    n = nonzero.sum()
    if n > 0:
        mean = voxel.sum() / n
        std = torch.max(torch.sqrt((voxel ** 2).sum() / n - mean ** 2), torch.tensor(1e-6))
        voxel = nonzero.float() * (voxel - mean) / std
    return voxel


def post_process(img: np.ndarray, norm: str) -> np.ndarray:
    """EVREAL's ``post_process_normalization``."""
    def robust(a, q_min, q_max):
        lo, hi = np.percentile(a.ravel(), q_min), np.percentile(a.ravel(), q_max)
        return (a - lo) / (hi - lo)

    if norm == "none":
        return img
    if norm == "robust":
        return robust(img, 1, 99)
    if norm == "standard":
        return robust(img, 0, 100)
    if norm == "exprobust":
        return robust(np.exp(img), 1, 99)
    raise ValueError(f"post_process_norm must be one of {POST_NORMS}, not {norm!r}")


def windows(rec: EvrealRecording) -> list[tuple[int, int]]:
    """``(idx0, idx1)`` of items ``0 .. K-2`` (EVREAL's ``between_frames``, ``keep_ratio`` 1)."""
    iei = rec.image_event_indices
    return [(int(iei[i - 1]) if i > 0 else int(iei[0]), int(iei[i])) for i in range(rec.num_frames - 1)]


class _NetworkMethod:
    def __init__(self, rec, cfg: MethodConfig, model, device):
        self.rec, self.cfg, self.device = rec, cfg, device
        self.runner = NetworkRunner(model, rec.width, rec.height, device, "zero", cfg.num_encoders)

    def __call__(self, i, i0, i1) -> np.ndarray:
        rec = self.rec
        vox = voxel_grid(rec.xy[i0:i1], rec.ts[i0:i1], rec.p[i0:i1], self.runner.num_bins, rec.height, rec.width)
        vox = vox[None]
        if self.cfg.normalize:
            vox = normalize_event_tensor(vox)
        out = self.runner(vox.to(self.device))
        img = self.runner.padding.crop(out).squeeze().cpu().numpy()
        return post_process(img, self.cfg.post_norm)

    def after(self, i):
        pass


class _FilterMethod:
    def __init__(self, rec, method, reconstructor_kw):
        from .reconstructor import Reconstructor

        self.rec = rec
        self.r = Reconstructor(method, rec.width, rec.height, **reconstructor_kw)
        self.frame_ns = rec.frame_ts_ns

    def __call__(self, i, i0, i1) -> np.ndarray:
        return self.r.process(self.rec.events(i0, i1), int(self.frame_ns[i])).astype(np.float32) / 255.0

    def after(self, i):
        self.r.add_frame(int(self.frame_ns[i]), self.rec.frame(i))


def evaluate(rec: EvrealRecording, method: str, *, model=None, device: str = "cpu", start_s: float | None = None,
             end_s: float | None = None, lpips=None, infer_all: bool = False, filter_kw: dict | None = None) -> dict:
    """Scores of ``method`` (its ``model`` for networks) on ``rec``; ``lpips``: a :class:`metrics.Lpips` or None."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, not {method!r}")
    if rec.num_frames < 2:
        raise ValueError(f"{rec.path}: EVREAL's protocol needs at least 2 frames, found {rec.num_frames}")
    cfg = METHODS[method]
    if method in ("hpf", "cf"):
        run = _FilterMethod(rec, method, filter_kw or {})
    else:
        if model is None:
            raise ValueError(f"method {method!r} needs its network")
        run = _NetworkMethod(rec, cfg, model, device)
    t_min = min(float(rec.images_ts[0]), float(rec.ts[0]))
    t_max = max(float(rec.images_ts[-1]), float(rec.ts[-1]))
    start = t_min if start_s is None else float(start_s)
    end = t_max if end_s is None else float(end_s)
    per, notes = [], []
    for i, (i0, i1) in enumerate(windows(rec)):
        ts = float(rec.images_ts[i])
        if not infer_all and ts < start - 10:
            continue
        if not infer_all and ts > end:
            break
        pred = np.clip(np.asarray(run(i, i0, i1), np.float32), 0.0, 1.0)
        run.after(i)
        if not start <= ts <= end:
            continue
        ref = np.clip(rec.frame(i).astype(np.float32) / 255, 0.0, 1.0)
        row = {"index": i, "frame_ts_s": ts, "events": i1 - i0, "mse": metrics.mse(ref, pred),
               "ssim": metrics.ssim(ref, pred)}
        if lpips is not None:
            try:
                row["lpips"] = lpips(ref, pred)
            except RuntimeError as exc:  # e.g. an image too small for AlexNet's pooling
                notes.append(f"LPIPS not computed: {str(exc).splitlines()[0][:160]}")
                lpips = None
                for done in per:
                    done.pop("lpips", None)
        per.append(row)

    def mean(key):
        vals = [r[key] for r in per if key in r and math.isfinite(r[key])]
        return sum(vals) / len(vals) if vals else None

    return {"protocol": "evreal", "method": method, "evreal_method": cfg.evreal_name,
            "frames": rec.num_frames, "items": rec.num_frames - 1, "frames_scored": len(per),
            "mse": mean("mse"), "ssim": mean("ssim"), "lpips": mean("lpips") if lpips is not None else None,
            "settings": {"voxel_normalization": cfg.normalize, "post_process_norm": cfg.post_norm,
                         "padded_to": ([run.runner.padding.padded_width, run.runner.padding.padded_height]
                                       if isinstance(run, _NetworkMethod) else None),
                         "start_s": start, "end_s": end, "eval_infer_all": bool(infer_all)},
            "per_frame": per, "notes": notes}
