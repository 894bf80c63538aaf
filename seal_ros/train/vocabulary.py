"""The default describer's built-in vocabulary: things and stuff of driving, indoor and
robot scenes (COCO, Cityscapes, ADE20K-style names) and common object parts."""
from __future__ import annotations

THINGS = (
    "person", "pedestrian", "rider", "cyclist", "child", "bicycle", "car", "motorcycle", "bus", "truck",
    "train", "tram", "van", "trailer", "caravan", "boat", "airplane", "traffic light", "traffic sign",
    "stop sign", "fire hydrant", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "backpack", "umbrella", "handbag", "suitcase", "bottle", "cup", "bowl", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "television", "laptop", "computer monitor", "keyboard", "mouse",
    "cell phone", "book", "clock", "vase", "scissors", "teddy bear", "box", "cardboard box", "bag",
    "trash can", "street lamp", "pole", "bollard", "traffic cone", "barrier", "guard rail", "sign board",
    "billboard", "mailbox", "shopping cart", "stroller", "wheelchair", "scooter", "skateboard", "ball",
    "robot", "drone", "door", "window", "stairs", "shelf", "cabinet", "desk", "table", "lamp", "fan",
    "pillar", "column", "tree", "bush", "flower", "rock", "statue", "fountain", "tent", "umbrella stand",
    "bicycle rack", "advertisement", "banner", "flag", "container", "pallet", "forklift", "tractor",
    "excavator", "crane", "bridge", "tunnel", "hand", "face", "head",
)
STUFF = (
    "road", "sidewalk", "parking lot", "crosswalk", "lane marking", "curb", "building", "house", "wall",
    "fence", "vegetation", "grass", "terrain", "ground", "dirt", "sand", "gravel", "snow", "water", "sky",
    "cloud", "mountain", "hill", "floor", "ceiling", "carpet", "tile", "railway track", "bridge railing",
    "roof", "field", "forest", "background",
)
PARTS = (
    "wheel", "tire", "headlight", "tail light", "windshield", "car door", "side mirror", "license plate",
    "bumper", "hood", "car roof", "arm", "leg", "torso", "foot", "hair", "helmet", "handlebar", "saddle",
    "pedal", "tree trunk", "branch", "leaf", "window frame", "door handle", "chair leg", "table leg",
    "screen", "sign post", "lamp head",
)
BUILTIN_VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys(THINGS + STUFF + PARTS))
