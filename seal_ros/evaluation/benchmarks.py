"""Benchmark definitions: class lists (in label-id order) and which classes form instances.

Label PNGs store the class index (0..N-1) per pixel; ``ignore_index`` (255)
marks unlabelled pixels. Ground-truth instances are the connected components
of each instance class's region (see :mod:`seal_ros.evaluation.instances`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    classes: tuple[str, ...]
    instance_classes: tuple[str, ...]
    ignore_index: int = 255
    dataset: str = ""  # which reader: "dsec" or "ddd17"
    label_dir: str = ""  # DSEC-Semantic: "11classes" or "19classes"

    @property
    def instance_ids(self) -> tuple[int, ...]:
        return tuple(self.classes.index(c) for c in self.instance_classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


DDD17_CLASSES = ("flat", "background", "object", "vegetation", "human", "vehicle")
DSEC11_CLASSES = (
    "background", "building", "fence", "person", "pole", "road", "sidewalk",
    "vegetation", "car", "wall", "traffic sign",
)
CITYSCAPES19_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)

BENCHMARKS: dict[str, Benchmark] = {
    "ddd17": Benchmark(
        "ddd17", DDD17_CLASSES, tuple(c for c in DDD17_CLASSES if c != "flat"), dataset="ddd17"),
    "dsec11": Benchmark(
        "dsec11", DSEC11_CLASSES,
        ("building", "fence", "person", "pole", "vegetation", "car", "traffic sign"),
        dataset="dsec", label_dir="11classes"),
    "dsec19": Benchmark(
        "dsec19", CITYSCAPES19_CLASSES,
        tuple(c for c in CITYSCAPES19_CLASSES
              if c not in ("road", "sidewalk", "wall", "terrain", "sky")),
        dataset="dsec", label_dir="19classes"),
}


def get_benchmark(name: str) -> Benchmark:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[key]
