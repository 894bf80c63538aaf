"""``seal_segmenter``'s parameters of the modes (prompted / auto / both), the query and the tracking,
and the core configuration they make (:class:`seal_ros.segment.pipeline.SegmentConfig`)."""
from __future__ import annotations

from seal_ros.nodes.params import Param
from seal_ros.segment import vocabulary as V
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
          "mask a prompted one covers dropped. See docs/segmenter.md, 'Modes'.", choices=MODES),
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


def segment_config(params) -> SegmentConfig:
    """The core configuration of the current parameter values."""
    auto = AutoConfig(**{field: params[name] for name, field in AUTO_FIELDS.items()})
    return SegmentConfig(params["mode"], auto, parse_names(params["query"]), params["tracking"],
                         params["track_iou"], params["track_memory"])


def auto_classes(params) -> tuple:
    """(names, background) of the automatic classifier for the current vocabulary, query and background."""
    return auto_class_lists(V.clean_vocabulary(params["vocabulary"]), parse_names(params["query"]),
                            parse_names(params["background_classes"]))
