"""The paper's benchmarks, as the authors define them.

Class lists (index = label id in the semantic maps), instance classes and the
evaluation list / ground-truth folder / classifier file of each benchmark are
the authors' (0nandon/SEAL ``event_encoder/data_utils/data_class.py``
``*_CLASS`` / ``*_INSTANCE_ID``, ``configs/eval/*/seal.yaml``). A prediction's
class is an index into the instance classes (the classifier rows the model
sees, ``classifier[INSTANCE_ID]``); ``instance_ids[index]`` is its label id
(the authors' ``PRED_TO_ID``).

``raw_dataset``/``label_dir`` name seal_ros's own readers of the raw public
datasets (:mod:`seal_ros.datasets.dsec`, :mod:`seal_ros.datasets.ddd17`),
an addition: event images computed from the raw events, instances as connected
components of the semantic labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Benchmark", "BENCHMARKS", "get_benchmark", "DDD17_CLASSES", "DSEC11_CLASSES",
           "DSEC19_CLASSES", "DSEC_PART_CLASSES"]


@dataclass(frozen=True)
class Benchmark:
    name: str  # seal_ros / CLI name
    title: str  # the authors' dataset name
    classes: tuple[str, ...]
    instance_ids: tuple[int, ...]
    eval_list: str  # dataset/metadata/<eval_list>
    gt_dir: str  # folder of the ground-truth instance files next to rgb_image/
    classifier: str  # models/manifest.yaml entry of the authors' classifier file
    raw_dataset: str = ""  # seal_ros's raw-event reader: "dsec" | "ddd17" | "" (none)
    label_dir: str = ""  # raw DSEC-Semantic label folder
    released: bool = True  # the authors' data and loader for it are published
    paper: dict = field(default_factory=dict)  # numbers the paper reports (%)

    @property
    def instance_classes(self) -> tuple[str, ...]:
        return tuple(self.classes[i] for i in self.instance_ids)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


DDD17_CLASSES = ("flat", "construction+sky", "object", "nature", "human", "vehicle")
DSEC11_CLASSES = (
    "background", "building", "fence", "person", "pole", "road", "sidewalk",
    "vegetation", "car", "wall", "traffic sign",
)
DSEC19_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
DSEC_PART_CLASSES = (
    "vehicle", "vehicle: wheel", "vehicle: window", "vehicle: light", "vehicle: side mirror",
    "vehicle: license plate", "vehicle: door", "building", "building: window", "building: roof",
    "building: door", "building: terrace",
)

BENCHMARKS: dict[str, Benchmark] = {
    "ddd17": Benchmark("ddd17", "DDD17", DDD17_CLASSES, (1, 2, 3, 4, 5), "ddd17_eval.txt", "instance_gt",
                       "seal_classifier_ddd17", raw_dataset="ddd17", paper={"box AP": 38.2}),
    "dsec11": Benchmark("dsec11", "DSEC11", DSEC11_CLASSES, (1, 2, 3, 4, 7, 8, 10), "dsec11_eval.txt",
                        "instance_gt", "seal_classifier_dsec11", raw_dataset="dsec", label_dir="11classes",
                        paper={"box AP": 28.8}),
    "dsec19": Benchmark("dsec19", "DSEC19", DSEC19_CLASSES, (2, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18),
                        "dsec19_eval.txt", "instance_gt", "seal_classifier_dsec19", raw_dataset="dsec",
                        label_dir="19classes", paper={"box AP": 14.8}),
    # The authors' config names DSEC-PART_val_list.txt and part_mask_gt; its data and
    # its loader (baseline_part_loader / seal_part_loader) are not released yet.
    "dsec_part": Benchmark("dsec_part", "DSEC-PART", DSEC_PART_CLASSES, (1, 2, 3, 4, 5, 8, 9, 10, 11),
                           "DSEC-PART_val_list.txt", "part_mask_gt", "seal_classifier_dsec_part",
                           released=False, paper={"box AP": 18.3, "point AP": 13.6}),
}


def get_benchmark(name: str) -> Benchmark:
    key = name.lower().replace("-", "_")
    key = {"dsecpart": "dsec_part"}.get(key, key)
    if key not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key]
