"""The segmentation worker: model loading, vocabulary swaps and per-window inference, off the ROS executor.

One worker thread owns the model: it loads it, then answers the newest event
window (an older one still waiting is dropped, counted) with every prompt in
the store. When prompts change between windows it re-answers the last window at
once: the backbone output is cached per window, so this runs only SAM's
decoder and SEAL's head. A second thread encodes new vocabularies (CLIP text
tower) and swaps them into the predictor atomically, so a vocabulary change
never stalls a window; the first vocabularies are set before the first window.

The mode (prompted, automatic, both), the query and the tracking live in
:class:`seal_ros.segment.pipeline.WindowSegmenter` (``segmenter``; its
``configure`` takes a new :class:`~seal_ros.segment.pipeline.SegmentConfig`
at any time). A window that starts a new timeline resets the tracks.

Without the weights the worker still turns windows into event images and
overlays (with a banner), and reports no instances: ``WindowOutput.results``
is None, so nothing false is published.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from seal_ros.segment.overlay import draw_overlay, fit_image
from seal_ros.segment.pipeline import WindowSegmenter, drawn_results
from seal_ros.segment.prompts import PromptStore
from seal_ros.events.source import StampedWindow

@dataclass
class WindowOutput:
    window: StampedWindow
    event_image: object  # uint8 HxWx3: a NumPy array, or a tensor where the model runs (see host_image())
    overlay: Optional[np.ndarray]  # uint8 HxWx3; None when nobody wants it
    results: Optional[list]  # InstanceResult per prompt; None: no model (publish no instances)
    vocabulary: list = field(default_factory=list)  # the class lists the results used, concatenated
    class_indices: list = field(default_factory=list)  # per result, into ``vocabulary`` (-1: none)
    rerun: bool = False  # prompts changed: the same window answered again
    latency_s: float = 0.0
    track_ids: list = field(default_factory=list)  # per result (0: not tracked)
    auto_stats: dict = field(default_factory=dict)  # the window's automatic-mode counters (empty: none)
    # seconds per stage of this window: "event image", "backbone" (not on a rerun), "decoder+head";
    # the node adds "message build" and "publish" (bench/bench_segmenter_pipeline.py prints them)
    timings: dict = field(default_factory=dict)

    def host_image(self) -> np.ndarray:
        """The event image as a uint8 NumPy array (copied from the device once, after the results)."""
        if not isinstance(self.event_image, np.ndarray):
            self.event_image = self.event_image.cpu().numpy()
        return self.event_image


def combine_vocabularies(results, default=()) -> tuple[list, list]:
    """(vocabulary, class indices): the results' own class lists concatenated, indices shifted to match."""
    vocab, offsets, idx = [], {}, []
    for r in results:
        key = tuple(r.vocabulary)
        if key not in offsets:
            offsets[key] = len(vocab)
            vocab += list(key)
        idx.append(r.class_index + offsets[key] if r.class_index >= 0 else -1)
    return (vocab if results else list(default)), idx


class SegmentRunner:
    def __init__(self, load: Callable[[], object], store: PromptStore, publish: Callable[[WindowOutput], None],
                 logger, errors, event_image_fn: Callable, overlay_alpha: float = 0.45):
        self._load = load  # () -> predictor; raises MissingWeights / anything
        self.store = store
        self._publish = publish
        self._log = logger
        self._errors = errors  # .report(kind, message)
        self._event_image = event_image_fn  # (events, w, h) -> uint8 HxWx3
        self.overlay_alpha = overlay_alpha
        self.predictor = None
        self.state = "loading"  # loading | ready | missing | failed
        self.banner = ""
        self.background = None  # () -> Optional[uint8 image] (a reconstruction to draw on)
        self.pending_corner = None  # () -> Optional[(col, row)]
        self.want_overlay = lambda: True  # () -> bool: skip drawing when nobody subscribes
        self.publish_overlay: Optional[Callable] = None  # (WindowOutput) -> None, after the results
        self.mask_format: Optional[str] = None  # predict(mask_format=...) when set (the node: "rle" or "both")
        self.sync_stages = False  # wait for the device at each stage boundary (benchmarks' stage timings)
        self.counts = dict(windows=0, dropped_windows=0, reruns=0, inferences=0, vocab_swaps=0)
        self.segmenter = WindowSegmenter()
        self._cond = threading.Condition()
        self._window: Optional[StampedWindow] = None
        self._last: Optional[tuple] = None  # (window, event image)
        self._poked = False
        self._stop = False
        self._vocab_jobs: dict = {}
        self._vocab_cond = threading.Condition()
        self._vocab_ready = threading.Event()
        self._threads = [threading.Thread(target=self._run, name="seal-infer", daemon=True),
                         threading.Thread(target=self._run_vocab, name="seal-vocab", daemon=True)]

    # -- producer side (any thread) -----------------------------------------------------------
    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        with self._vocab_cond:
            self._vocab_cond.notify_all()
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(timeout_s)

    def submit(self, window: StampedWindow) -> None:
        """Newest window to answer; one still waiting is dropped (the worker is behind)."""
        with self._cond:
            if self._window is not None:
                self.counts["dropped_windows"] += 1
            self._window = window
            self._cond.notify()

    def poke(self) -> None:
        """Prompts changed: answer the last window again with the new prompts."""
        with self._cond:
            self._poked = True
            self._cond.notify()

    def set_vocabulary(self, granularity: str, names, templates) -> None:
        """Queue a vocabulary (validated by the caller); the newest per granularity wins."""
        with self._vocab_cond:
            self._vocab_jobs[granularity] = (list(names), list(templates))
            self._vocab_cond.notify()

    def set_auto_classes(self, names, background, templates) -> None:
        """Queue the automatic classifier (:func:`seal_ros.segment.pipeline.auto_class_lists`)."""
        with self._vocab_cond:
            self._vocab_jobs["auto"] = (list(names), list(templates), list(background))
            self._vocab_cond.notify()

    # -- vocabulary thread ------------------------------------------------------------------------
    def _run_vocab(self) -> None:
        while True:
            with self._vocab_cond:
                while not self._stop and (not self._vocab_jobs or self.predictor is None):
                    self._vocab_cond.wait(0.5)
                if self._stop:
                    return
                jobs, self._vocab_jobs = self._vocab_jobs, {}
            for gran, (names, templates, *background) in jobs.items():
                t = time.perf_counter()
                try:
                    if gran == "auto":
                        self.predictor.set_auto_vocabulary(names, background[0], templates)
                    else:
                        self.predictor.set_vocabulary(names, granularity=gran, templates=templates)
                except Exception as exc:  # noqa: BLE001 - keep the old vocabulary, keep running
                    self._errors.report("vocabulary", f"could not encode the {gran} vocabulary: {exc}")
                    continue
                self.counts["vocab_swaps"] += 1
                self._log.info(f"{gran} vocabulary of {len(names)} classes in use"
                               f" (encoded in {1000 * (time.perf_counter() - t):.0f} ms)")
            if not self._vocab_ready.is_set() and not self._vocab_jobs:
                self._vocab_ready.set()

    # -- inference thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        self._load_model()
        while True:
            with self._cond:
                while not self._stop and self._window is None and not (self._poked and self._last):
                    self._cond.wait(0.5)
                if self._stop:
                    return
                window, self._window = self._window, None
                rerun = window is None
                self._poked = False
            try:
                self._process(window, rerun)
            except Exception as exc:  # noqa: BLE001 - one bad window must not stop the node
                self._errors.report("inference", f"window failed: {type(exc).__name__}: {exc}")
                self._log.debug(traceback.format_exc())

    def _load_model(self) -> None:
        try:
            self.predictor = self._load()
        except FileNotFoundError as exc:  # MissingWeights is one
            from seal_ros.models.manifest import missing_message

            self.state, self.banner = "missing", "model weights missing: no instances (see the log)"
            missing = getattr(exc, "missing", None)
            self._log.error(missing_message(missing, exc.models_dir) if missing else str(exc))
            return
        except Exception as exc:  # noqa: BLE001
            self.state, self.banner = "failed", "model failed to load: no instances (see the log)"
            self._log.error(f"model failed to load: {type(exc).__name__}: {exc}")
            return
        with self._vocab_cond:
            self._vocab_cond.notify_all()
        if not self._vocab_ready.wait(120.0):
            self._log.warning("vocabulary still not encoded after 120 s; answering without classes")
        self.state = "ready"
        self._log.info("model ready: answering windows")

    def _process(self, window: Optional[StampedWindow], rerun: bool) -> None:
        t_start = time.perf_counter()
        timings = {}
        if rerun:
            window, img = self._last
            self.counts["reruns"] += 1
        else:
            img = self._event_image(window.window.events, window.width, window.height)
            self._sync()
            timings["event image"] = time.perf_counter() - t_start
            self._last = (window, img)
            self.counts["windows"] += 1
        w, h = window.width, window.height
        prompts, taken = [], []
        # automatic mode answers no prompt: they stay in the store (one-shot ones too) for the other modes
        for p in self.store.take() if self.segmenter.config.mode != "auto" else ():
            c = p.clipped(w, h)
            if c is None:
                self._errors.report("prompt_off_sensor", f"prompt {p.id} lies outside the {w}x{h} sensor; skipped")
            else:
                prompts.append(c)
                taken.append(p)
        results, seg = None, None
        if self.state == "ready":
            if window.resync and not rerun:
                self.segmenter.reset()
            seg = self.segmenter.process(self.predictor, img, window.seq, window.window.events, w, h, prompts,
                                         mask_format=self.mask_format or "dense", timings=timings,
                                         sync=self._sync)
            if rerun:
                timings.pop("backbone", None)  # cached: the backbone did not run
            self.counts["inferences"] += bool(seg.results)
            results = seg.results
            # tracking: the stored (unclipped) prompts follow their masks
            self.store.follow(taken, {r.prompt_id: r.bbox for r in results[:seg.n_prompted] if not r.is_empty})
        vocab, idx = combine_vocabularies(results or [], self.predictor.vocabulary("instance") if self.predictor else ())
        out = WindowOutput(window, img, None, results, vocab, idx, rerun, time.perf_counter() - t_start,
                           seg.track_ids if seg else [], seg.auto_stats if seg else {}, timings)
        self._publish(out)  # results first: their latency does not include drawing the overlay
        if self.want_overlay():
            out.overlay = self._draw(out.host_image(), w, h, prompts, results, vocab, idx, out.track_ids)
            if self.publish_overlay is not None:
                self.publish_overlay(out)

    def _sync(self) -> None:
        """With ``sync_stages``: wait for the model's device, so a stage's time is its own."""
        device = getattr(self.predictor, "device", None) if self.sync_stages else None
        if getattr(device, "type", None) == "cuda":
            import torch

            torch.cuda.synchronize(device)

    def _draw(self, img, w, h, prompts, results, vocab, idx, track_ids) -> np.ndarray:
        bg = self.background() if self.background is not None else None
        base = fit_image(bg, w, h) if bg is not None else img
        items = drawn_results(results or [], vocab, idx, track_ids)
        boxes = [(p.id, p.box) for p in prompts if p.box is not None]
        pending = self.pending_corner() if self.pending_corner is not None else None
        return draw_overlay(base, items, self.overlay_alpha, boxes, pending, self.banner)
