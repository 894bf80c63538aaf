"""``seal-ros segment INPUT --out DIR (--auto | --prompts FILE)``: the segmenter on a recording.

Any recording the registry reads; the node's windows, model, modes and
tracking (core: :mod:`seal_ros.segment.offline`). ``--auto`` segments every
object of the vocabulary without prompts; ``--prompts FILE`` answers the
prompts of a JSON/YAML file (boxes or points per time range,
:mod:`seal_ros.segment.prompt_file`); both together: mode ``both``. Writes
per-window label PNGs, COCO-style ``instances.json`` (run-length masks, class
names, scores, track ids, window times), ``overlay.mp4`` and
``summary.json``; prints the summary as one JSON line.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from seal_ros.cli import CliError
from seal_ros.cli._recording import add_input_options, open_input


def _names(text, path, what, empty_ok=False) -> tuple:
    """Cleaned, checked names from a comma-separated ``text`` or a names file (``empty_ok``: none is fine)."""
    from seal_ros.segment import vocabulary as V
    from seal_ros.segment.pipeline import parse_names
    from seal_ros.segment.prompt_file import load_names

    names = load_names(path) if path else list(parse_names(text))
    if empty_ok and not names:
        return ()
    reason = V.check_vocabulary(names, what)
    if reason is not None:
        raise CliError(reason)
    return tuple(V.clean(n) for n in names)


def _templates(values, path, default) -> tuple:
    from seal_ros.segment import vocabulary as V
    from seal_ros.segment.prompt_file import load_names

    templates = load_names(path) if path else (values or list(default))
    reason = V.check_templates(templates)
    if reason is not None:
        raise CliError(reason)
    return tuple(templates)


def _options(args):
    from dataclasses import fields

    from seal_ros.seal.text import DEFAULT_TEMPLATES, PART_TEMPLATES
    from seal_ros.segment.auto import AUTO_OPTIONS, AutoConfig
    from seal_ros.segment.offline import OfflineOptions
    from seal_ros.segment.pipeline import SegmentConfig
    from seal_ros.segment.prompt_file import load_prompts
    from seal_ros.segment.vocabulary import DEFAULT_PART_VOCABULARY, DEFAULT_VOCABULARY

    if not args.auto and not args.prompts:
        raise CliError("give --auto (every object, no prompts) and/or --prompts FILE")
    try:
        prompts = load_prompts(args.prompts) if args.prompts else []
        vocab = _names(args.vocabulary or ",".join(DEFAULT_VOCABULARY), args.vocabulary_file, "vocabulary")
        parts = _names(args.part_vocabulary or ",".join(DEFAULT_PART_VOCABULARY), None, "part_vocabulary")
        templates = _templates(args.template, args.templates_file, DEFAULT_TEMPLATES)
        background = _names(args.background, None, "background", empty_ok=True)
        query = _names(args.query, None, "query", empty_ok=True)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    mode = "both" if args.auto and args.prompts else ("auto" if args.auto else "prompted")
    auto = AutoConfig(**{f.name: getattr(args, f.name) for f in fields(AutoConfig)})
    for name, (_, (lo, hi)) in AUTO_OPTIONS.items():
        if not lo <= getattr(auto, name) <= hi:
            raise CliError(f"--{name.replace('_', '-')} {getattr(auto, name)} is outside [{lo}, {hi}]")
    seg = SegmentConfig(mode, auto, query, not args.no_tracking, args.track_iou, args.track_memory)
    if args.window_ms <= 0 or args.window_events < 0 or args.max_windows < 0:
        raise CliError("--window-ms must be positive, --window-events and --max-windows not negative")
    return OfflineOptions(
        out=Path(args.out), segment=seg, vocabulary=vocab, part_vocabulary=parts,
        templates=templates, part_templates=tuple(PART_TEMPLATES), background=background, prompts=prompts,
        window_mode="count" if args.window_events else "duration", window_ms=args.window_ms,
        window_events=args.window_events or 100_000, representation=args.representation,
        max_windows=args.max_windows, video=not args.no_video, fps=args.fps, progress=not args.no_progress)


def run(args) -> int:
    from seal_ros.models.manifest import default_models_dir
    from seal_ros.seal.checkpoint import CheckpointError
    from seal_ros.segment.loading import RANDOM_WARNING, load_predictor
    from seal_ros.segment.offline import segment_recording

    opts = _options(args)
    rec = open_input(args.input, args)
    models_dir = args.models or str(default_models_dir())
    try:
        predictor, info = load_predictor(args.model, models_dir, args.device, args.precision,
                                         backend=args.backend, onnx_dir=args.onnx_dir or "",
                                         warn=lambda m: print(f"seal-ros segment: warning: {m}", file=sys.stderr),
                                         automatic=bool(args.auto))
    except (FileNotFoundError, CheckpointError, ValueError) as exc:  # MissingWeights is a FileNotFoundError
        raise CliError(str(exc)) from None
    if info["random_weights"]:
        opts.banner = "tiny RANDOM model: masks and classes are meaningless"
    t = time.perf_counter()
    from seal_ros.io.recordings import RecordingError

    try:
        summary = segment_recording(rec, predictor, opts)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
    summary["model"] = info
    if info["random_weights"]:
        summary["warning"] = RANDOM_WARNING
    (opts.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({**summary, "out": str(opts.out), "elapsed_s": round(time.perf_counter() - t, 3)}))
    return 0


def register(sub) -> None:
    from seal_ros.cli._choices import REPRESENTATIONS
    from seal_ros.segment.auto_config import AUTO_OPTIONS, DEFAULT_BACKGROUND, AutoConfig
    from seal_ros.segment.loading import BACKENDS, PRECISIONS

    p = sub.add_parser("segment", help="SEAL instance segmentation of a recording: --auto (no prompts) and/or "
                                       "--prompts FILE; masks, COCO JSON, overlay video, summary")
    p.add_argument("input", help="recording: rosbag2 / ROS 1 bag, Prophesee RAW, events.h5, text, EVREAL folder, "
                                 "AEDAT4 (see the README's formats table)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--auto", action="store_true", help="segment every object of the vocabulary without prompts")
    p.add_argument("--prompts", default=None, type=Path,
                   help="JSON/YAML prompts: boxes or points per time range (see docs/segmenter.md)")
    p.add_argument("--model", default="vit_b",
                   help="vit_b (the published SEAL from --models), tiny (RANDOM toy model, tests), or a seal.pt path")
    p.add_argument("--models", default=None, help="models directory (default $SEAL_ROS_MODELS or ~/.cache/seal_ros/models)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="torch, onnx (ONNX Runtime on the CPU) or auto (the node's rule: ONNX Runtime on the CPU "
                        "when installed, torch on CUDA and for tiny)")
    p.add_argument("--onnx-dir", default=None, help="directory written by `seal-ros export onnx` (backend onnx; "
                                                    "default: export the model into the cache once)")
    p.add_argument("--vocabulary", default="", help="comma-separated class names (default: the node's)")
    p.add_argument("--vocabulary-file", default=None, type=Path, help="class names: a YAML/JSON list or one a line")
    p.add_argument("--part-vocabulary", default="", help="comma-separated part names for part prompts")
    p.add_argument("--template", action="append", default=[],
                   help="CLIP prompt template holding {} once (repeatable; default: the node's)")
    p.add_argument("--templates-file", default=None, type=Path, help="templates: a YAML/JSON list or one a line")
    p.add_argument("--query", default="", help="automatic results only of these classes (comma separated)")
    p.add_argument("--background", default=DEFAULT_BACKGROUND,
                   help="comma-separated background classes of the automatic classifier ('' for none)")
    p.add_argument("--window-ms", type=float, default=50.0, help="window duration (default 50, the node's)")
    p.add_argument("--window-events", type=int, default=0, help="windows of N events instead of a duration")
    p.add_argument("--representation", default="voxel", choices=REPRESENTATIONS, help="event image")
    d = AutoConfig()
    for name, (text, _) in AUTO_OPTIONS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(getattr(d, name)),
                       default=getattr(d, name), help=f"automatic mode: {text} (default {getattr(d, name)})")
    p.add_argument("--no-tracking", action="store_true", help="no track ids (all 0)")
    p.add_argument("--track-iou", type=float, default=0.3, help="least mask IoU to continue a track")
    p.add_argument("--track-memory", type=int, default=5, help="windows a track is kept unseen")
    p.add_argument("--max-windows", type=int, default=0, help="stop after N windows (0: all)")
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: real time)")
    p.add_argument("--no-video", action="store_true", help="no overlay.mp4")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_input_options(p)
    p.set_defaults(func=run)
