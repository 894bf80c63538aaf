"""``seal_segmenter``'s parameters (:data:`PARAMS`: the README's table and config/perception.yaml are
generated from them), among them those of the modes (prompted / auto / both), the query and the tracking,
and the core configuration they make (:class:`seal_ros.segment.pipeline.SegmentConfig`)."""
from __future__ import annotations

from seal_ros.events.source import WINDOW_MODES
from seal_ros.nodes.common import image_reliability_param, topic_timeout_param
from seal_ros.nodes.ingest import ingest_params
from seal_ros.nodes.params import Param
from seal_ros.seal.text import DEFAULT_TEMPLATES, PART_TEMPLATES
from seal_ros.segment import vocabulary as V
from seal_ros.segment.event_images import REPRESENTATIONS
from seal_ros.segment.loading import AUTOMATIC_NEEDS_TORCH, BACKENDS
from seal_ros.segment.plane import ENCODINGS
from seal_ros.segment.auto import AUTO_OPTIONS, AutoConfig
from seal_ros.segment.pipeline import DEFAULT_BACKGROUND, MODES, SegmentConfig, auto_class_lists, parse_names

_D = AutoConfig()


def _names_ok(what: str):
    def check(value):
        names = parse_names(value) if isinstance(value, str) else value
        return V.check_vocabulary(list(names), what) if names else None
    return check


def _describe(text: str) -> str:
    return f"Mode {text[5:]}." if text.startswith("mode both") else f"Automatic mode: {text}."


# Parameter -> AutoConfig field (each is live): auto_<field>, but min_class_score as it is.
AUTO_FIELDS = {(f if f == "min_class_score" else f"auto_{f}"): f for f in AUTO_OPTIONS}
TRACK_PARAMS = ("tracking", "track_iou", "track_memory")

MODE_PARAMS = [
    Param("mode", "prompted", "prompted: answer the prompts; auto: segment the whole view without prompts "
          "(every object of the vocabulary, prompt_id 0); both: prompts and automatic results, an automatic "
          "mask a prompted one covers dropped; auto and both run on backend torch. See docs/segmenter.md, "
          "'Modes'.", choices=MODES),
    Param("query", "", "Automatic results only of these classes (comma separated, e.g. 'person, dog'; empty: "
          "every class). A name not in the vocabulary is added to the automatic classifier. Also set by "
          "~/query (std_msgs/String).", validate=_names_ok("query")),
    Param("background_classes", DEFAULT_BACKGROUND, "Comma-separated classes the automatic classifier holds "
          "besides the vocabulary so that road, sky or sensor noise is not forced into a class; a mask named "
          "one of them is dropped (empty: none; names also in the vocabulary are left out).",
          validate=_names_ok("background_classes")),
    *(Param(name, getattr(_D, field), _describe(AUTO_OPTIONS[field][0]), range=AUTO_OPTIONS[field][1])
      for name, field in AUTO_FIELDS.items()),
    Param("tracking", True, "Give every result a track_id, stable across windows (mask IoU and class)."),
    Param("track_iou", 0.3, "Tracking: least mask IoU for a result to continue a track.", range=(0.01, 1.0)),
    Param("track_memory", 5, "Tracking: windows a track is kept without a mask (a still object makes no "
          "events).", range=(0, 10_000)),
]


def mode_refused(mode: str, backend: str):
    """Why ``mode`` cannot run on ``backend`` (the one configured, or the one loaded), or None."""
    return AUTOMATIC_NEEDS_TORCH if backend == "onnx" and mode != "prompted" else None


def segment_config(params) -> SegmentConfig:
    """The core configuration of the current parameter values."""
    auto = AutoConfig(**{field: params[name] for name, field in AUTO_FIELDS.items()})
    return SegmentConfig(params["mode"], auto, parse_names(params["query"]), params["tracking"],
                         params["track_iou"], params["track_memory"])


def auto_classes(params) -> tuple:
    """(names, background) of the automatic classifier for the current vocabulary, query and background."""
    return auto_class_lists(V.clean_vocabulary(params["vocabulary"]), parse_names(params["query"]),
                            parse_names(params["background_classes"]))


def _device_ok(v):
    return None if v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit()) \
        else f"device={v!r}: use auto, cpu, cuda or cuda:N"


def _model_ok(v):
    from pathlib import Path

    from seal_ros.io.paths import PathError, expand_path

    if v in ("vit_b", "tiny"):
        return None
    try:
        ok = v.endswith((".pt", ".pth")) and Path(expand_path(v)).is_file()
    except PathError as exc:
        return f"model={v!r}: {exc}"
    return None if ok else f"model={v!r}: use vit_b, tiny or the path of an existing seal.pt export"


PARAMS = [
    Param("events_topic", "event_camera/events", "EventPacket topic to segment (relative: moves with the node's "
          "namespace).", read_only=True),
    Param("window_mode", "duration", "How events are cut into windows.", choices=WINDOW_MODES),
    Param("window_duration_ms", 50.0, "Window length in duration mode (ms).", range=(1.0, 10000.0)),
    Param("window_events", 100000, "Events per window in count mode.", range=(100, 50_000_000)),
    *ingest_params(),
    Param("vocabulary", list(V.DEFAULT_VOCABULARY),
          "Instance class names (live: ros2 param set). Non-empty, unique ignoring case and spacing, at most "
          f"{V.MAX_CLASSES} names of at most {V.MAX_NAME_CHARS} characters.", validate=V.check_vocabulary),
    Param("part_vocabulary", list(V.DEFAULT_PART_VOCABULARY),
          "Part class names for prompts of part granularity (same rules).",
          validate=lambda v: V.check_vocabulary(v, "part_vocabulary")),
    Param("prompt_templates", list(DEFAULT_TEMPLATES), "CLIP prompt templates for the instance vocabulary;"
          " each holds {} once; embeddings are averaged.", validate=V.check_templates),
    Param("part_prompt_templates", list(PART_TEMPLATES), "CLIP prompt templates for the part vocabulary.",
          validate=V.check_templates),
    Param("event_representation", "voxel", "Event image fed to EventSAM: voxel (3-bin temporal-bilinear voxel "
          "grid shifted to its minimum, scaled to 0..255), histogram, time_surface. See docs/segmenter.md.",
          choices=REPRESENTATIONS),
    Param("click_mode", "box", "Clicks make boxes (two clicks: opposite corners) or single points.",
          choices=("box", "point")),
    Param("click_granularity", "instance", "Granularity of prompts made by clicks.",
          choices=("instance", "part", "any")),
    Param("track_prompts", False, "A persistent box prompt follows its object (takes its last mask's box)."),
    *MODE_PARAMS,
    Param("models_dir", "", "Directory of the checkpoints (empty: $SEAL_ROS_MODELS or"
          " ~/.cache/seal_ros/models).", read_only=True, path=True),
    Param("model", "vit_b", "vit_b: the published SEAL (seal.pt + CLIP from models_dir); tiny: random toy model "
          "for tests only; or the path of a seal.pt trained by `seal-ros train seal` (its size and text encoder "
          "come with it; CLIP from the path it records or models_dir).", validate=_model_ok, read_only=True,
          path=True),
    Param("device", "auto", "Torch device: auto (cuda when available), cpu, cuda, cuda:N.", validate=_device_ok,
          read_only=True),
    Param("precision", "auto", "Autocast: auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16.",
          choices=("auto", "fp32", "bf16", "fp16"), read_only=True),
    Param("compile", False, "torch.compile the model (CUDA: prompt-only updates under 2 ms; first windows slow).",
          read_only=True),
    Param("backend", "auto", "Model runtime: torch, onnx (ONNX Runtime on the CPU, graphs of `seal-ros export onnx`; "
          "pip install onnxruntime; prompted mode only) or auto (torch on CUDA; on the CPU onnx, measured faster, when "
          "installed, the model is not the random tiny one and mode is prompted; else torch).", choices=BACKENDS,
          read_only=True),
    Param("onnx_dir", "", "Directory written by `seal-ros export onnx` for backend onnx (empty: the model is "
          "exported at start into ~/.cache/seal_ros/onnx, once per model file).", read_only=True, path=True),
    Param("event_image_on", "auto", "Where the event image is built: cpu (numba), model_device (torch, on the "
          "model's device: no host round trip on a GPU), auto (model_device on CUDA, else cpu).",
          choices=("auto", "cpu", "model_device"), read_only=True),
    Param("mask_image", False, "Also fill InstanceMask.mask (mono8 0/255 at sensor size, width x height bytes a "
          "mask) besides mask_rle, for readers of the old field."),
    Param("plane_frame", "seal_image_plane", "Frame of the clickable image plane (RViz2 Fixed Frame).",
          read_only=True),
    Param("plane_resolution", 0.01, "Plane metres per pixel.", range=(1e-4, 10.0), read_only=True),
    Param("plane_origin_x", 0.0, "Plane position of the image's bottom-left corner (m).", range=(-1e6, 1e6),
          read_only=True),
    Param("plane_origin_y", 0.0, "See plane_origin_x.", range=(-1e6, 1e6), read_only=True),
    Param("plane_encoding", "raw", "Plane cells: raw grey (RViz Map colour scheme 'raw') or occupancy 0..100.",
          choices=ENCODINGS),
    Param("plane_rate_hz", 5.0, "Most plane messages a second (0: none).", range=(0.0, 100.0)),
    Param("overlay_alpha", 0.45, "Mask opacity in ~/overlay.", range=(0.0, 1.0)),
    Param("image_timeout_s", 1.0, "~/image_in older than this (wall time) is not drawn on.", range=(0.0, 60.0)),
    image_reliability_param("~/overlay and ~/event_image"),
    topic_timeout_param("The events topic"),
]
