"""Building (or reusing) the MHSG guidance cache of a training set from config.

``guidance`` section (inside a stage's ``model`` config)::

    cache_dir: null            # default OUT/guidance; each cache lives in cache_dir/<key>
    sam: vit_b                 # image SAM: vit_b | vit_l | vit_h (stock SAM) or tiny (random_teachers only)
    sam_checkpoint: null       # required for vit_*: sam_vit_b_01ec64.pth
    clip: null                 # required: CLIP ViT-L/14@336 file; "tiny" with random_teachers only
    clip_model: ViT-L-14-336-quickgelu
    visual: roi                # roi (the paper's) | crop (a seal_ros option)
    describer: clip_zero_shot  # clip_zero_shot (a seal_ros option) | vlm (the paper's: a local captioner)
    vlm_path: null             # folder of a Hugging Face vision-language captioning model
    vocabulary: null           # names; null = the built-in vocabulary
    points_per_side: 32
    pred_iou_thresh: 0.88
    stability_score_thresh: 0.95
    max_masks: 64              # per granularity, highest predicted IoU first
    shard_size: 64
    device: auto

A cache is keyed by a hash of everything that produced it: these settings,
fingerprints of the SAM / CLIP / captioner files, the pair source and the
cache format. Other settings give another key, so a stale cache is never
reused; a cache directory named explicitly that was built otherwise is
refused with the settings that differ.
"""
from __future__ import annotations

from pathlib import Path

import torch

from seal_ros.train.config import ConfigError
from seal_ros.train.describers import (DESCRIBERS, VLM_LONG_PROMPT, VLM_LONG_TOKENS, VLM_SHORT_PROMPT,
                                        VLM_SHORT_TOKENS)
from seal_ros.train.teachers import allow_random, file_fingerprint, require_file

GUIDANCE_DEFAULTS = {
    "cache_dir": None, "sam": "vit_b", "sam_checkpoint": None, "clip": None,
    "clip_model": "ViT-L-14-336-quickgelu", "tiny_dim": 16, "visual": "roi", "crop_margin": 0.1,
    "describer": "clip_zero_shot", "vocabulary": None, "templates": None, "vlm_path": None,
    "vlm_short_prompt": VLM_SHORT_PROMPT, "vlm_long_prompt": VLM_LONG_PROMPT,
    "vlm_short_tokens": VLM_SHORT_TOKENS, "vlm_long_tokens": VLM_LONG_TOKENS, "points_per_side": 32,
    "pred_iou_thresh": 0.88, "stability_score_thresh": 0.95, "max_masks": 64, "shard_size": 64,
    "device": "auto", "seed": 0,
}
_NOT_IN_KEY = ("cache_dir", "device")


def guidance_settings(given: dict | None) -> dict:
    given = dict(given or {})
    bad = set(given) - set(GUIDANCE_DEFAULTS)
    if bad:
        raise ConfigError(f"unknown guidance keys: {', '.join(sorted(bad))}")
    out = dict(GUIDANCE_DEFAULTS)
    out.update(given)
    from seal_ros.train.mhsg import VISUAL_MODES

    if out["visual"] not in VISUAL_MODES:
        raise ConfigError(f"guidance.visual must be one of {VISUAL_MODES}, got {out['visual']!r}")
    if out["describer"] not in DESCRIBERS:
        raise ConfigError(f"guidance.describer must be one of {DESCRIBERS}, got {out['describer']!r}")
    return out


def vocabulary_of(g: dict) -> list:
    from seal_ros.train.vocabulary import BUILTIN_VOCABULARY

    return list(g["vocabulary"] or BUILTIN_VOCABULARY)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_image_sam(g: dict, device, random_teachers: bool = False):
    if g["sam"] == "tiny":
        allow_random(random_teachers, "guidance.sam", "tiny")
        from seal_ros.seal.build import build_eventsam

        with torch.random.fork_rng():
            torch.manual_seed(int(g["seed"]))
            sam = build_eventsam("tiny")
    elif g["sam"] in ("vit_b", "vit_l", "vit_h"):
        from segment_anything import sam_model_registry

        ck = require_file(g["sam_checkpoint"], "guidance.sam_checkpoint", "sam")
        sam = _stock_sam(sam_model_registry[g["sam"]], ck)
    else:
        raise ConfigError(f"guidance.sam must be vit_b, vit_l, vit_h or tiny, got {g['sam']!r}")
    return sam.to(device).eval()


def _stock_sam(builder, path):
    """segment-anything's builder on a random init, then the file loaded weights-only."""
    from seal_ros.seal.checkpoint import load_state

    sam = builder(checkpoint=None)
    sam.load_state_dict(load_state(path))
    return sam


def build_guidance_clip(g: dict, device, random_teachers: bool = False):
    from seal_ros.train.clip import build_clip, build_tiny_clip

    if g["clip"] == "tiny":
        allow_random(random_teachers, "guidance.clip", "tiny")
        return build_tiny_clip(int(g["tiny_dim"]), seed=int(g["seed"]))
    return build_clip(require_file(g["clip"], "guidance.clip", "clip"), device=device, model_name=g["clip_model"])


def cache_settings(g: dict, source, random_teachers: bool) -> dict:
    """Everything that determines a cache's content (its key is their hash)."""
    from seal_ros.train.guidance_cache import FORMAT

    s = {k: v for k, v in g.items() if k not in _NOT_IN_KEY}
    s["vocabulary"] = vocabulary_of(g)
    s["files"] = {"sam": file_fingerprint(g["sam_checkpoint"]) if g["sam"] != "tiny" else None,
                  "clip": file_fingerprint(g["clip"]) if g["clip"] != "tiny" else None,
                  "vlm": _folder_fingerprint(g["vlm_path"]) if g["describer"] == "vlm" else None}
    fp = getattr(source, "fingerprint", None)
    s["data"] = fp() if callable(fp) else {"pairs": len(source)}
    s["num_pairs"] = len(source)
    s["format"] = FORMAT
    s["random_teachers"] = bool(random_teachers)
    return s


def _folder_fingerprint(path):
    if not path or not Path(path).is_dir():
        return None
    return {p.name: file_fingerprint(p) for p in sorted(Path(path).iterdir()) if p.is_file()}


def cache_dir_for(g: dict, settings: dict, out_dir) -> Path:
    from seal_ros.train.guidance_cache import settings_key

    root = Path(g["cache_dir"] or Path(out_dir) / "guidance")
    if (root / "manifest.json").exists():  # the user named a cache itself: it must match
        return root
    return root / settings_key(settings)


def ensure_guidance(g: dict, source, out_dir, random_teachers: bool = False, progress: bool = True,
                    stop_after_shards=None):
    """Build the cache for every pair of ``source`` (resuming), then open it."""
    from seal_ros.datasets.pairs import rgb
    from seal_ros.train.describers import make_describer
    from seal_ros.train.guidance_cache import GuidanceCache, build_cache, check_manifest
    from seal_ros.train.mhsg import GuidanceGenerator

    settings = cache_settings(g, source, random_teachers)
    root = cache_dir_for(g, settings, out_dir)
    check_manifest(root, settings)  # stale: refused before any model is built
    n_shards = (len(source) + int(g["shard_size"]) - 1) // int(g["shard_size"])
    if not all((root / f"shard_{k:06d}.npz").exists() for k in range(n_shards)) \
            or not (root / "manifest.json").exists():
        dev = _device(g["device"])
        sam = build_image_sam(g, dev, random_teachers)
        clip = build_guidance_clip(g, dev, random_teachers)
        describer = make_describer(g, clip, dev)
        gen = GuidanceGenerator(sam, clip, describer, points_per_side=int(g["points_per_side"]),
                                pred_iou_thresh=float(g["pred_iou_thresh"]),
                                stability_score_thresh=float(g["stability_score_thresh"]),
                                max_masks=int(g["max_masks"]), visual=g["visual"],
                                crop_margin=float(g["crop_margin"]))
        summary = build_cache(root, len(source), lambda i: gen(rgb(source[i].image)), settings,
                              shard_size=int(g["shard_size"]), progress=progress,
                              stop_after_shards=stop_after_shards)
        if not summary["complete"]:
            return None
    return GuidanceCache(root, settings)
