"""Prompt-free instance segmentation of one event window: points, SAM's filters, SEAL's names.

1. **Points** (:func:`generate_points`), in sensor pixels:

   - a grid of ``points_per_side`` x ``points_per_side`` points as
     segment-anything's automatic mask generator lays it
     (``segment_anything.utils.amg.build_point_grid``, scaled to the sensor);
     a grid point is skipped when its neighbourhood (3 x 3 cells of the
     sampler below) holds fewer events than ``min_cell_events`` or than twice
     the mean over all neighbourhoods (``min_cell_events`` 0 keeps every
     point): an area without events holds nothing to segment, and sensor
     noise, spread thin over the whole view, does not count as events;
   - an event-density sampler: the sensor is cut into cells (64 along the
     longer side); among the cells holding at least ``min_cell_events`` (at
     least 1) and at least twice the mean count of all cells,
     ``density_points`` are picked greedily, the densest first, then each
     time the cell with the largest (squared distance to the points already
     picked) x (its event count): points spread over where the events are,
     dense places first. A point lies at the mean position of its cell's
     events. Deterministic.

2. **Masks** (:func:`automatic_masks`): SAM's decoder on the cached image
   embedding for every point (``points_per_batch`` at a time, all three
   multimask outputs kept as candidates), then the generator's filters in its
   order, with its functions where they fit: predicted IoU >
   ``pred_iou_thresh``; stability score >= ``stability_score_thresh``
   (``amg.calculate_stability_score``, offset ``stability_score_offset``);
   box NMS (``torchvision.ops.batched_nms`` on ``amg.batched_mask_to_box``
   boxes, scored by predicted IoU, at ``box_nms_thresh``). One difference,
   for speed: the stability score and the boxes are computed on the logits
   at the model input size (the masks SEAL's head classifies), where SAM's
   generator upsamples them to the image size first (box IoU does not change
   with the per-axis scaling; the stability score changes little). Then
   seal_ros's steps: masks of fewer than ``min_area`` sensor pixels are
   dropped; in mode ``both`` an automatic mask covered by a prompted mask
   for more than ``prompt_overlap`` of its own area is dropped (no result
   twice); SEAL's head names every remaining mask against the automatic
   classifier (the vocabulary, query-only names, then the background
   classes, in one softmax); a mask whose best class is a background class
   is dropped, one whose best probability is below ``min_class_score`` too,
   and with a query, one whose class the query does not name. The rest,
   best ``mask_score x class_score`` first, at most ``max_instances``.

Every drop is counted by reason in :class:`AutoOutput.stats`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from seal_ros.events.types import EventArray
from seal_ros.seal.prompt import Granularity
from seal_ros.segment.auto_config import AUTO_OPTIONS, AUTO_PROMPT_ID, STAT_KEYS, AutoConfig

__all__ = ["AutoConfig", "AutoOutput", "AUTO_OPTIONS", "DENSITY_CELLS", "STAT_KEYS", "grid_points", "density_points",
           "generate_points", "automatic_masks", "AUTO_PROMPT_ID"]

DENSITY_CELLS = 64  # sampler cells along the sensor's longer side
DENSITY_FACTOR = 2.0  # a cell "holds events" with at least this many times the mean count of all cells
UPSCALE_CHUNK = 64  # masks upsampled to the model size at a time (bounds memory)


@dataclass
class AutoOutput:
    results: list  # InstanceResult, best first, prompt_id 0
    points: np.ndarray  # (N, 2) the points prompted, sensor pixels
    stats: dict = field(default_factory=lambda: dict.fromkeys(STAT_KEYS, 0))


# -- points ---------------------------------------------------------------------------------------
def grid_points(width: int, height: int, per_side: int) -> np.ndarray:
    """SAM's automatic-generator grid (cell centres of a per_side x per_side grid) in sensor pixels."""
    if per_side <= 0:
        return np.zeros((0, 2), np.float32)
    from segment_anything.utils.amg import build_point_grid

    return (build_point_grid(per_side) * np.array([width, height])).astype(np.float32)


@dataclass
class _Cells:
    size: int  # pixels a cell side
    counts: np.ndarray  # (ny, nx) events
    centre: np.ndarray  # (ny, nx, 2) mean x, y of the cell's events (cell centre when empty)


def _cells(events: EventArray, width: int, height: int) -> _Cells:
    size = max(1, int(np.ceil(max(width, height) / DENSITY_CELLS)))
    nx, ny = -(-width // size), -(-height // size)
    x = np.asarray(events.x, np.int64)
    y = np.asarray(events.y, np.int64)
    idx = (y // size) * nx + x // size
    counts = np.bincount(idx, minlength=nx * ny)
    sx = np.bincount(idx, weights=x + 0.5, minlength=nx * ny)
    sy = np.bincount(idx, weights=y + 0.5, minlength=nx * ny)
    cx = (np.arange(nx * ny) % nx + 0.5) * size
    cy = (np.arange(nx * ny) // nx + 0.5) * size
    some = counts > 0
    cx[some], cy[some] = sx[some] / counts[some], sy[some] / counts[some]
    return _Cells(size, counts.reshape(ny, nx), np.stack([cx, cy], 1).reshape(ny, nx, 2))


def _threshold(counts: np.ndarray, least: int) -> float:
    """What "holds events" means: at least ``least`` and DENSITY_FACTOR x the mean count (noise level)."""
    return max(float(least), DENSITY_FACTOR * float(counts.mean()) if counts.size else 0.0)


def density_points(events: EventArray, width: int, height: int, n: int, min_events: int = 1,
                   cells: _Cells | None = None) -> np.ndarray:
    """Up to ``n`` points where the events are (see the module docstring), (k, 2) float32."""
    cells = cells if cells is not None else _cells(events, width, height)
    counts = cells.counts.ravel()
    occ = np.flatnonzero(counts >= _threshold(counts, max(1, min_events)))
    if n <= 0 or occ.size == 0:
        return np.zeros((0, 2), np.float32)
    pos = cells.centre.reshape(-1, 2)[occ]
    weight = counts[occ].astype(np.float64)
    chosen = [int(np.argmax(weight))]  # the densest cell (first on ties)
    dist = ((pos - pos[chosen[0]]) ** 2).sum(1)
    for _ in range(min(n, occ.size) - 1):
        k = int(np.argmax(dist * weight))
        if dist[k] <= 0:
            break
        chosen.append(k)
        dist = np.minimum(dist, ((pos - pos[k]) ** 2).sum(1))
    return pos[chosen].astype(np.float32)


def generate_points(events: EventArray, width: int, height: int, cfg: AutoConfig) -> np.ndarray:
    """The window's prompts: the grid points with events near them, then the density points."""
    cells = _cells(events, width, height)
    grid = grid_points(width, height, cfg.points_per_side)
    if len(grid) and cfg.min_cell_events > 0:
        padded = np.pad(cells.counts, 1)
        ny, nx = cells.counts.shape
        near = sum(padded[dy:dy + ny, dx:dx + nx] for dy in range(3) for dx in range(3))
        cx = np.minimum((grid[:, 0] // cells.size).astype(np.int64), nx - 1)
        cy = np.minimum((grid[:, 1] // cells.size).astype(np.int64), ny - 1)
        grid = grid[near[cy, cx] >= _threshold(near, cfg.min_cell_events)]
    dense = density_points(events, width, height, cfg.density_points, cfg.min_cell_events, cells)
    return np.concatenate([grid, dense]).astype(np.float32)


# -- masks ----------------------------------------------------------------------------------------
def _upscale(predictor, low: torch.Tensor):
    """Model-size logits of ``low`` in chunks: yields (slice, logits)."""
    for s in range(0, low.shape[0], UPSCALE_CHUNK):
        yield slice(s, s + UPSCALE_CHUNK), predictor.upscale_logits(low[s:s + UPSCALE_CHUNK])


def _candidates(predictor, points: np.ndarray, cfg: AutoConfig, stats: dict) -> dict:
    """SAM's decoder over every point and the generator's per-batch filters -> the survivors."""
    from segment_anything.utils.amg import batched_mask_to_box, calculate_stability_score

    kept = {k: [] for k in ("low", "iou", "tokens", "boxes", "candidate")}
    for s in range(0, len(points), max(1, cfg.points_per_batch)):
        low, iou, tokens = predictor.decode_points(points[s:s + cfg.points_per_batch])
        n = low.shape[0]
        low, iou, tokens = low.flatten(0, 1), iou.flatten(0, 1), tokens.flatten(0, 1)
        candidate = torch.arange(3, device=low.device).repeat(n)  # which multimask output
        stats["candidates"] += 3 * n
        keep = iou > cfg.pred_iou_thresh if cfg.pred_iou_thresh > 0 else torch.ones_like(iou, dtype=torch.bool)
        stats["dropped_iou"] += int((~keep).sum())
        low, iou, tokens, candidate = low[keep], iou[keep], tokens[keep], candidate[keep]
        stable = torch.zeros(low.shape[0], dtype=torch.bool, device=low.device)
        nonempty = torch.zeros_like(stable)
        boxes = torch.zeros(low.shape[0], 4, device=low.device)
        for sl, up in _upscale(predictor, low):
            score = calculate_stability_score(up, 0.0, cfg.stability_score_offset)
            stable[sl] = score >= cfg.stability_score_thresh if cfg.stability_score_thresh > 0 else True
            masks = up > 0.0
            nonempty[sl] = masks.flatten(1).any(dim=1)
            boxes[sl] = batched_mask_to_box(masks).float()
        stats["dropped_stability"] += int((~stable).sum())
        stats["dropped_empty"] += int((stable & ~nonempty).sum())
        keep = stable & nonempty
        for name, value in (("low", low), ("iou", iou), ("tokens", tokens), ("boxes", boxes), ("candidate", candidate)):
            kept[name].append(value[keep])
    return {k: torch.cat(v) if v else torch.zeros(0) for k, v in kept.items()}


def _overlap_with(masks: torch.Tensor, others: Sequence[np.ndarray]) -> torch.Tensor:
    """(M,) the largest fraction of each mask's area that one of ``others`` covers."""
    if not others or masks.shape[0] == 0:
        return torch.zeros(masks.shape[0])
    a = masks.flatten(1).float()
    b = torch.from_numpy(np.stack([np.asarray(o, bool).ravel() for o in others])).to(a.device).float()
    inter = a @ b.t()
    return (inter / a.sum(dim=1, keepdim=True).clamp(min=1)).amax(dim=1).cpu()


def automatic_masks(predictor, events: EventArray, width: int, height: int, cfg: AutoConfig,
                    query: Sequence[str] = (), prompted: Sequence[np.ndarray] = ()) -> AutoOutput:
    """Every instance of the window (needs ``predictor.set_image`` for this window and its automatic
    vocabulary); ``query``: normalised class names to keep (empty: all); ``prompted``: the sensor
    masks of the prompted results of the same window (mode ``both``)."""
    from torchvision.ops import batched_nms

    from seal_ros.seal.predictor import InstanceResult
    from seal_ros.segment.vocabulary import normalise

    points = generate_points(events, width, height, cfg)
    out = AutoOutput([], points)
    stats = out.stats
    stats["points"] = len(points)
    if not len(points):
        return out
    c = _candidates(predictor, points, cfg, stats)
    if c["low"].shape[0] == 0:
        return out
    order = batched_nms(c["boxes"], c["iou"], torch.zeros_like(c["iou"], dtype=torch.int64), cfg.box_nms_thresh)
    stats["dropped_nms"] += c["low"].shape[0] - order.numel()
    c = {k: v[order] for k, v in c.items()}
    model_masks, sensor = [], []
    for sl, up in _upscale(predictor, c["low"]):
        model_masks.append(up > 0.0)
        sensor.append(predictor.masks_to_sensor(up))
    model_masks, sensor = torch.cat(model_masks), torch.cat(sensor)
    area = sensor.flatten(1).sum(dim=1).cpu()
    keep = area >= cfg.min_area
    stats["dropped_area"] += int((~keep).sum())
    over = _overlap_with(sensor, prompted)
    covered = keep & (over > cfg.prompt_overlap)
    stats["dropped_prompted"] += int(covered.sum())
    keep &= ~covered
    idx = torch.nonzero(keep).flatten()
    if idx.numel() == 0:
        return out
    probs, vocab = predictor.classify_masks(model_masks[idx.to(model_masks.device)],
                                            c["tokens"][idx.to(model_masks.device)])
    pmax, parg = (t.cpu() for t in probs.max(dim=1))
    iou, candidate = c["iou"].cpu(), c["candidate"].cpu()
    wanted = {normalise(q) for q in query}
    n_names = len(vocab.names)
    found = []
    for j, i in enumerate(idx.tolist()):
        cls, p = int(parg[j]), float(pmax[j])
        if cls >= n_names:
            stats["dropped_background"] += 1
        elif p < cfg.min_class_score:
            stats["dropped_weak"] += 1
        elif wanted and normalise(vocab.names[cls]) not in wanted:
            stats["dropped_query"] += 1
        else:
            found.append((float(iou[i]) * p, i, cls, p))
    found.sort(key=lambda f: -f[0])  # stable: ties keep the NMS order
    stats["dropped_cap"] += max(0, len(found) - cfg.max_instances)
    top = found[:cfg.max_instances]
    chosen = sensor[torch.tensor([f[1] for f in top], dtype=torch.int64, device=sensor.device)]
    masks, boxes = chosen.cpu().numpy(), _sensor_boxes(chosen)  # the results' masks only, one copy to the host
    for k, (score, i, cls, p) in enumerate(top):
        out.results.append(InstanceResult(
            prompt_id=AUTO_PROMPT_ID, mask=masks[k], class_index=cls, class_name=vocab.names[cls],
            class_score=p, mask_score=float(iou[i]), score=score, granularity=Granularity.INSTANCE,
            bbox=tuple(float(v) for v in boxes[k]), vocabulary=vocab.names, num_kept=1, candidate=int(candidate[i])))
    stats["instances"] = len(out.results)
    return out


def _sensor_boxes(masks: torch.Tensor) -> np.ndarray:
    from seal_ros.seal.modeling.spatial import masks_to_boxes

    return masks_to_boxes(masks).cpu().numpy() if masks.shape[0] else np.zeros((0, 4), np.float32)
