"""``seal-ros segment``'s core: a recording through the segmenter's windows, model and modes, to files.

The recording's events become the driver's ``EventPacket`` s
(:func:`seal_ros.io.packetize.event_packets`) and go through
:class:`seal_ros.events.source.WindowSource`, the path of the node, with the
node's window settings; the last, unfinished window is not segmented (the
node waits for its end too). Each window is segmented by
:class:`seal_ros.segment.pipeline.WindowSegmenter`, the node worker's own.

Written to ``out``:

- ``masks/window_NNNNNN.png``: one 16-bit label image a window: 0 nothing, k
  the window's k-th result (its annotation's ``png_value``); where masks
  overlap, the better-scored one is on top;
- ``instances.json``: COCO-style: ``images`` are the windows (window number,
  event-clock ``t0_ns``/``t1_ns``, ``start_s``/``end_s`` from the first
  event, the node's header stamp ``stamp_ns``, event count), ``categories``
  the class names, ``annotations`` the results with pycocotools run-length
  ``segmentation``, ``bbox`` [x, y, w, h], ``area``, ``score``,
  ``class_score``, ``mask_score``, ``class_name``, ``track_id``,
  ``prompt_id`` (0: automatic), ``granularity``;
- ``overlay.mp4``: every window's overlay (:func:`seal_ros.io.media.write_clip`);
- ``summary.json``: what ran (input, model, mode, classes, windows) and what
  came out (instances, per class, tracks, the automatic filters' counters, the
  window source's counters).

Deterministic: the same input, options and model give the same files (the
video's encoder aside).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.seal.rle import coco_rle
from seal_ros.segment.pipeline import SegmentConfig, WindowSegmenter, drawn_results
from seal_ros.segment.prompt_file import TimedPrompt, active_prompts

__all__ = ["OfflineOptions", "segment_recording"]


@dataclass
class OfflineOptions:
    out: Path
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    vocabulary: tuple = ()
    part_vocabulary: tuple = ()
    templates: tuple = ()
    part_templates: tuple = ()
    background: tuple = ()  # the automatic classifier's background classes
    prompts: list = field(default_factory=list)  # TimedPrompt
    window_mode: str = "duration"
    window_ms: float = 50.0
    window_events: int = 100_000
    representation: str = "voxel"
    max_windows: int = 0  # 0: all
    video: bool = True
    fps: Optional[float] = None  # default: real time in duration mode, 20 in count mode
    overlay_alpha: float = 0.45
    banner: str = ""  # written on every overlay (e.g. a random model's warning)
    progress: bool = True


class _Writer:
    """The files of one run."""

    def __init__(self, opts: OfflineOptions, categories: list[str]):
        self.opts = opts
        self.masks_dir = opts.out / "masks"
        self.masks_dir.mkdir(parents=True, exist_ok=True)
        self.category = {}
        for name in categories:
            self.category.setdefault(name, len(self.category) + 1)
        self.images, self.annotations, self.frames = [], [], []
        self.per_class: dict[str, int] = {}
        self.tracks: set = set()

    def window(self, k: int, w, t_origin: int, seg, vocab, idx, image, prompts) -> None:
        import imageio.v3 as iio

        from seal_ros.seal.prompt import Granularity
        from seal_ros.segment.overlay import draw_overlay

        name = f"masks/window_{k:06d}.png"
        label = np.zeros((w.height, w.width), np.uint16)
        for j in reversed(range(len(seg.results))):  # the first (best) result ends on top
            label[seg.results[j].mask] = j + 1
        iio.imwrite(self.opts.out / name, label)  # 16-bit grey
        self.images.append({
            "id": k, "file_name": name, "width": w.width, "height": w.height, "window": k, "seq": w.seq,
            "t0_ns": int(w.window.t0), "t1_ns": int(w.window.t1), "start_s": (w.window.t0 - t_origin) / 1e9,
            "end_s": (w.window.t1 - t_origin) / 1e9, "stamp_ns": int(w.t1_ns), "event_count": w.count})
        for j, (r, ci, t) in enumerate(zip(seg.results, idx, seg.track_ids)):
            cname = vocab[ci] if ci >= 0 else ""
            cid = self.category.setdefault(cname, len(self.category) + 1) if cname else 0
            x0, y0, x1, y1 = (float(v) for v in r.bbox)
            self.annotations.append({
                "id": len(self.annotations) + 1, "image_id": k, "category_id": cid, "class_name": cname,
                "segmentation": coco_rle(r.mask), "area": int(r.mask.sum()), "bbox": [x0, y0, x1 - x0, y1 - y0],
                "score": float(r.score), "class_score": float(r.class_score), "mask_score": float(r.mask_score),
                "track_id": int(t), "prompt_id": int(r.prompt_id),
                "granularity": Granularity.parse(r.granularity).value, "png_value": j + 1})
            self.per_class[cname] = self.per_class.get(cname, 0) + 1
            if t:
                self.tracks.add(int(t))
        if self.opts.video:
            boxes = [(p.id, p.box) for p in prompts if p.box is not None]
            items = drawn_results(seg.results, vocab, idx, seg.track_ids)
            self.frames.append(draw_overlay(image, items, self.opts.overlay_alpha, boxes, None, self.opts.banner))

    def finish(self) -> dict:
        from seal_ros.io.media import write_clip

        o = self.opts
        cats = [{"id": i, "name": n} for n, i in self.category.items()]
        doc = {"info": {"description": "seal-ros segment: one image per event window"}, "images": self.images,
               "categories": cats, "annotations": self.annotations}
        (o.out / "instances.json").write_text(json.dumps(doc))
        files = {"masks": "masks", "instances": "instances.json"}  # relative to the output directory
        if o.video and self.frames:
            fps = o.fps or (1000.0 / o.window_ms if o.window_mode == "duration" else 20.0)
            write_clip(o.out / "overlay.mp4", self.frames, fps=min(max(fps, 1.0), 120.0))
            files["video"] = "overlay.mp4"
        return files


def _set_vocabularies(predictor, opts: OfflineOptions) -> None:
    from seal_ros.segment.pipeline import auto_class_lists

    cfg = opts.segment
    if cfg.mode != "auto":
        predictor.set_vocabulary(opts.vocabulary, "instance", opts.templates)
        if opts.part_vocabulary:
            predictor.set_vocabulary(opts.part_vocabulary, "part", opts.part_templates or opts.templates)
    if cfg.mode != "prompted":
        names, background = auto_class_lists(opts.vocabulary, cfg.query, opts.background)
        predictor.set_auto_vocabulary(names, background, opts.templates)


def segment_recording(rec, predictor, opts: OfflineOptions) -> dict:
    """Segment every window of the opened recording ``rec``; writes the files and returns the summary."""
    from tqdm import tqdm

    from seal_ros.events.source import WindowSource
    from seal_ros.io.packetize import event_packets
    from seal_ros.segment.event_images import make_event_image
    from seal_ros.segment.runner import combine_vocabularies

    opts.out.mkdir(parents=True, exist_ok=True)
    _set_vocabularies(predictor, opts)
    source = WindowSource(opts.window_mode, int(opts.window_ms * 1e6), opts.window_events)
    segmenter = WindowSegmenter(opts.segment)
    writer = _Writer(opts, list(opts.vocabulary) + list(opts.part_vocabulary))
    notes, errors, t_origin, k = [], 0, None, 0
    bar = tqdm(unit=" windows", file=sys.stderr, disable=None if opts.progress else True, desc="segment")
    try:
        for packet in event_packets(rec):
            pushed = source.push(packet)
            errors += pushed.error is not None
            notes += pushed.notes
            for w in pushed.windows:
                t_origin = w.window.t0 if t_origin is None else t_origin
                if w.resync:
                    segmenter.reset()
                t0_s, t1_s = (w.window.t0 - t_origin) / 1e9, (w.window.t1 - t_origin) / 1e9
                prompts = [] if opts.segment.mode == "auto" else \
                    [c for c in (p.clipped(w.width, w.height) for p in active_prompts(opts.prompts, t0_s, t1_s))
                     if c is not None]
                image = make_event_image(opts.representation, w.window.events, w.width, w.height)
                seg = segmenter.process(predictor, image, w.seq, w.window.events, w.width, w.height, prompts)
                vocab, idx = combine_vocabularies(seg.results, predictor.vocabulary("instance"))
                writer.window(k, w, t_origin, seg, vocab, idx, image, prompts)
                k += 1
                bar.update(1)
                if opts.max_windows and k >= opts.max_windows:
                    break
            if opts.max_windows and k >= opts.max_windows:
                break
    finally:
        bar.close()
    files = writer.finish()
    auto = opts.segment.mode != "prompted"
    return {
        "input": str(rec.path), "format": rec.format, "width": rec.width, "height": rec.height,
        "mode": opts.segment.mode, "vocabulary": list(opts.vocabulary), "query": list(opts.segment.query),
        "background": list(opts.background) if auto else [], "prompts": len(opts.prompts),
        "window_mode": opts.window_mode, "window_ms": opts.window_ms if opts.window_mode == "duration" else None,
        "window_events": opts.window_events if opts.window_mode == "count" else None,
        "representation": opts.representation, "windows": k,
        "windows_with_instances": len({a["image_id"] for a in writer.annotations}),
        "instances": len(writer.annotations), "per_class": dict(sorted(writer.per_class.items())),
        "tracks": len(writer.tracks), "tracking": opts.segment.tracking,
        "auto": dict(segmenter.totals) if auto else {}, "source": source.counters(),
        "packet_errors": errors, "notes": notes[:20], "files": files}
