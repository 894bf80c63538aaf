"""Building (or reusing) the MHSG guidance cache of a training set from config.

``guidance`` section (inside a stage's ``model`` config)::

    cache_dir: null            # default OUT/guidance
    sam: vit_b                 # image SAM: vit_b (stock 1024-px SAM) or tiny (tests)
    sam_checkpoint: null       # sam_vit_b_01ec64.pth
    clip: null                 # path to CLIP ViT-L/14@336 weights, "tiny" (tests) or null (random)
    clip_model: ViT-L-14-336-quickgelu
    describer: clip_zero_shot  # or vlm (with vlm_path)
    vocabulary: null           # list of names; null = the built-in vocabulary
    vlm_path: null
    points_per_side: 32
    pred_iou_thresh: 0.88
    stability_score_thresh: 0.95
    max_masks: 64              # per granularity, highest predicted IoU first
    shard_size: 64
    device: auto
"""
from __future__ import annotations

from pathlib import Path

import torch

from seal_ros.train.config import ConfigError

GUIDANCE_DEFAULTS = {
    "cache_dir": None, "sam": "vit_b", "sam_checkpoint": None, "clip": None,
    "clip_model": "ViT-L-14-336-quickgelu", "tiny_dim": 16, "describer": "clip_zero_shot",
    "vocabulary": None, "templates": None, "vlm_path": None, "points_per_side": 32,
    "pred_iou_thresh": 0.88, "stability_score_thresh": 0.95, "max_masks": 64, "shard_size": 64,
    "device": "auto", "seed": 0,
}


def guidance_settings(given: dict | None) -> dict:
    given = dict(given or {})
    bad = set(given) - set(GUIDANCE_DEFAULTS)
    if bad:
        raise ConfigError(f"unknown guidance keys: {', '.join(sorted(bad))}")
    out = dict(GUIDANCE_DEFAULTS)
    out.update(given)
    return out


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_image_sam(g: dict, device):
    if g["sam"] == "tiny":
        from seal_ros.seal.build import build_eventsam

        with torch.random.fork_rng():
            torch.manual_seed(int(g["seed"]))
            sam = build_eventsam("tiny")
    elif g["sam"] in ("vit_b", "vit_l", "vit_h"):
        from segment_anything import sam_model_registry

        ck = g["sam_checkpoint"]
        if ck is not None and not Path(ck).is_file():
            raise FileNotFoundError(f"SAM checkpoint not found: {ck}")
        sam = sam_model_registry[g["sam"]](checkpoint=ck)
    else:
        raise ConfigError(f"guidance.sam must be vit_b, vit_l, vit_h or tiny, got {g['sam']!r}")
    return sam.to(device).eval()


def build_guidance_clip(g: dict, device):
    from seal_ros.train.clip import build_clip, build_tiny_clip

    if g["clip"] == "tiny":
        return build_tiny_clip(int(g["tiny_dim"]), seed=int(g["seed"]))
    clip = build_clip(g["clip"], device=device, model_name=g["clip_model"])
    return clip


def ensure_guidance(g: dict, source, mask_size: int, out_dir, progress: bool = True,
                    stop_after_shards=None):
    """Build the cache for every pair of ``source`` (resuming), then open it."""
    from seal_ros.datasets.pairs import rgb
    from seal_ros.train.describers import make_describer
    from seal_ros.train.guidance_cache import GuidanceCache, build_cache
    from seal_ros.train.mhsg import GuidanceGenerator

    root = Path(g["cache_dir"] or Path(out_dir) / "guidance")
    settings = {k: v for k, v in g.items() if k not in ("cache_dir", "device")}
    settings["mask_size"] = int(mask_size)
    settings["num_pairs"] = len(source)
    n_shards = (len(source) + int(g["shard_size"]) - 1) // int(g["shard_size"])
    if not all((root / f"shard_{k:06d}.pt").exists() for k in range(n_shards)) \
            or not (root / "manifest.json").exists():
        dev = _device(g["device"])
        sam = build_image_sam(g, dev)
        clip = build_guidance_clip(g, dev)
        describer = make_describer(g["describer"], clip, g["vocabulary"], g["templates"], g["vlm_path"])
        gen = GuidanceGenerator(sam, clip, describer, mask_size, points_per_side=int(g["points_per_side"]),
                                pred_iou_thresh=float(g["pred_iou_thresh"]),
                                stability_score_thresh=float(g["stability_score_thresh"]),
                                max_masks=int(g["max_masks"]))
        summary = build_cache(root, len(source), lambda i: gen(rgb(source[i].image)), settings,
                              shard_size=int(g["shard_size"]), progress=progress,
                              stop_after_shards=stop_after_shards)
        if not summary["complete"]:
            return None
    return GuidanceCache(root)
