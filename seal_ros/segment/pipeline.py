"""One event window through the model in any mode: what the node's worker and ``seal-ros segment`` share.

Modes (:data:`MODES`): ``prompted`` answers the prompts (one result each,
:meth:`SealPredictor.predict`); ``auto`` segments the whole view without
prompts (:mod:`seal_ros.segment.auto`, ``prompt_id`` 0); ``both`` does both,
prompted results first, and drops an automatic mask that a prompted mask
already covers. A query (normalised class names) restricts the automatic
results to those classes; prompted results are never filtered. Every result
then gets a ``track_id`` (:mod:`seal_ros.segment.tracking`; 0 with tracking
off).

Answering a window again (the prompts changed) reuses the automatic results
of that window when nothing they depend on changed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from seal_ros.segment.auto import STAT_KEYS, AutoConfig, automatic_masks
from seal_ros.segment.auto_config import DEFAULT_BACKGROUND
from seal_ros.segment.tracking import Tracker, TrackItem
from seal_ros.segment.vocabulary import clean, normalise

__all__ = ["MODES", "SegmentConfig", "Segmented", "WindowSegmenter", "parse_names", "auto_class_lists",
           "DEFAULT_BACKGROUND", "drawn_results"]

MODES = ("prompted", "auto", "both")
# Background classes of the automatic classifier: they take probability from the vocabulary in the
# softmax and are never reported (road, sky, walls, and the event camera's noise).


def parse_names(text: str) -> tuple[str, ...]:
    """Comma-separated names, cleaned, blanks dropped, duplicates (normalised) dropped, in order."""
    out, seen = [], set()
    for part in str(text).split(","):
        name = clean(part)
        if name and normalise(name) not in seen:
            seen.add(normalise(name))
            out.append(name)
    return tuple(out)


def auto_class_lists(vocabulary: Sequence[str], query: Sequence[str],
                     background: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, background) of the automatic classifier: the vocabulary, then the query's names it
    lacks; the background classes that are neither."""
    names = list(vocabulary)
    keys = {normalise(n) for n in names}
    for q in query:
        if normalise(q) not in keys:
            keys.add(normalise(q))
            names.append(clean(q))
    return tuple(names), tuple(b for b in background if normalise(b) not in keys)


@dataclass(frozen=True)
class SegmentConfig:
    mode: str = "prompted"
    auto: AutoConfig = field(default_factory=AutoConfig)
    query: tuple = ()  # class names the automatic results are restricted to (empty: all)
    tracking: bool = True
    track_iou: float = 0.3
    track_memory: int = 5


@dataclass
class Segmented:
    results: list  # InstanceResult: prompted ones (in prompt order), then automatic ones
    track_ids: list  # per result (0: not tracked)
    auto_stats: dict = field(default_factory=dict)  # this window's automatic counters (empty: no auto)
    points: Optional[np.ndarray] = None  # the automatic prompts of the window
    n_prompted: int = 0  # results[:n_prompted] answer the prompts


class WindowSegmenter:
    """Results of one window in the configured mode, with track ids; keeps the tracker."""

    def __init__(self, config: SegmentConfig = SegmentConfig()):
        self.config = config
        self.tracker = Tracker(config.track_iou, config.track_memory)
        self.totals = dict.fromkeys(STAT_KEYS, 0)  # automatic counters over all windows
        self._auto_cache: Optional[tuple] = None

    def configure(self, config: SegmentConfig) -> None:
        self.config = config
        self.tracker.iou, self.tracker.memory = config.track_iou, config.track_memory

    def reset(self) -> None:
        """A new timeline: forget the tracks."""
        self.tracker.reset()
        self._auto_cache = None

    def process(self, predictor, image, key, events, width: int, height: int, prompts: Sequence = (),
                window: Optional[int] = None, mask_format: str = "dense", timings: Optional[dict] = None,
                sync=None) -> Segmented:
        """``image`` the window's event image (NumPy, or a tensor on the model's device), ``key`` its
        cache key (the backbone runs once per key), ``events`` its events, ``prompts`` the Prompts to
        answer; ``window`` the window number for tracking (default ``key``). ``mask_format``: how the
        prompted results carry their masks (:data:`seal_ros.seal.predictor.MASK_FORMATS`). ``timings``:
        filled with the seconds of "backbone" and "decoder+head" (``sync()`` first waits for the device)."""
        cfg = self.config
        clock = time.perf_counter
        t = clock()
        predictor.set_image(image, key=key)
        if sync is not None:
            sync()
        t_head = clock()
        opts = {"mask_format": mask_format} if mask_format != "dense" else {}
        results = list(predictor.predict(prompts, **opts)) if cfg.mode != "auto" and prompts else []
        out = Segmented(results, [], n_prompted=len(results))
        if cfg.mode != "prompted":
            vocab = predictor.auto_vocabulary()
            cache_key = (key, cfg.auto, cfg.query, vocab.version if vocab is not None else None,
                         tuple((r.prompt_id, r.bbox, r.score) for r in results) if cfg.mode == "both" else ())
            if self._auto_cache is not None and self._auto_cache[0] == cache_key:
                auto = self._auto_cache[1]
            elif vocab is None:
                raise RuntimeError("automatic mode: the automatic vocabulary is not encoded yet")
            else:
                auto = automatic_masks(predictor, events, width, height, cfg.auto, cfg.query,
                                       [r.mask_array() for r in results if not r.is_empty]
                                       if cfg.mode == "both" else ())
                self._auto_cache = (cache_key, auto)
                for k, v in auto.stats.items():
                    self.totals[k] += v
            out.results += auto.results
            out.auto_stats, out.points = dict(auto.stats), auto.points
        if sync is not None:
            sync()
        if timings is not None:
            timings["backbone"], timings["decoder+head"] = t_head - t, clock() - t_head
        if cfg.tracking:
            items = [TrackItem(r.mask_array(), normalise(r.class_name) if r.class_index >= 0 else "", int(r.prompt_id))
                     for r in out.results]
            out.track_ids = self.tracker.update(key if window is None else window, items)
        else:
            out.track_ids = [0] * len(out.results)
        return out


def drawn_results(results, vocabulary, class_indices, track_ids=()) -> list:
    """The overlay's items of a window's results: coloured by track (else prompt), labelled with class,
    score, ``[part]`` and ``#track``."""
    from seal_ros.segment.overlay import Drawn, colour_key, label_text

    tracks = list(track_ids) or [0] * len(results)
    return [Drawn(colour_key(r, t), r.mask_array(), r.bbox if not r.is_empty else None,
                  label_text(vocabulary[i] if i >= 0 else "", r.class_score if i >= 0 else r.mask_score,
                             r.granularity, t))
            for r, i, t in zip(results, class_indices, tracks)]
