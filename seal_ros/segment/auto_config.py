"""The automatic mode's settings and names, without the heavy imports of :mod:`seal_ros.segment.auto`
(the node's parameters and ``seal-ros segment``'s options are built from them before torch loads)."""
from __future__ import annotations

from dataclasses import dataclass

# Background classes of the automatic classifier: a mask named one of them is dropped.
DEFAULT_BACKGROUND = "background, road, sky, ground, wall, building, tree, noise"
AUTO_PROMPT_ID = 0  # prompt_id of every automatic result
# Per-window counters, in pipeline order (what each step dropped, and what came out).
STAT_KEYS = ("points", "candidates", "dropped_iou", "dropped_stability", "dropped_empty", "dropped_nms",
             "dropped_area", "dropped_prompted", "dropped_background", "dropped_weak", "dropped_query",
             "dropped_cap", "instances")


@dataclass(frozen=True)
class AutoConfig:
    points_per_side: int = 16
    density_points: int = 64
    min_cell_events: int = 2
    points_per_batch: int = 256
    pred_iou_thresh: float = 0.88  # SAM's automatic mask generator's defaults for the three filters
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_area: int = 100
    prompt_overlap: float = 0.5
    min_class_score: float = 0.3
    max_instances: int = 20


# Each AutoConfig field: what it does (the node's parameter and the CLI option say the same) and its range.
AUTO_OPTIONS = {
    "points_per_side": ("points per side of SAM's point grid (0: no grid)", (0, 64)),
    "density_points": ("points put where the events are (event-density sampler; 0: none)", (0, 4096)),
    "min_cell_events": ("grid points with fewer events in their neighbourhood (or fewer than twice the mean "
                        "neighbourhood) are skipped, and the density sampler uses only cells with at least this "
                        "many (and twice the mean cell); 0: keep every grid point", (0, 1_000_000)),
    "points_per_batch": ("points decoded in one batch (bounds memory)", (1, 4096)),
    "pred_iou_thresh": ("masks whose predicted IoU is not above this are dropped (SAM's generator: 0.88)",
                        (0.0, 1.0)),
    "stability_score_thresh": ("masks less stable than this are dropped (SAM's generator: 0.95; 0: no filter)",
                               (0.0, 1.0)),
    "stability_score_offset": ("logit offset of the stability score (SAM's generator: 1.0)", (0.0, 100.0)),
    "box_nms_thresh": ("box IoU above which the lower-IoU mask of two is dropped (SAM's generator: 0.7)",
                       (0.0, 1.0)),
    "min_area": ("masks smaller than this many sensor pixels are dropped", (0, 100_000_000)),
    "prompt_overlap": ("mode both: an automatic mask covered by a prompted mask for more than this fraction of "
                       "its area is dropped", (0.0, 1.0)),
    "min_class_score": ("masks whose best class probability is below this are dropped", (0.0, 1.0)),
    "max_instances": ("most instances per window (best mask_score x class_score first)", (1, 1000)),
}
