"""Event-to-video reconstruction: high-pass/complementary filter and learned networks.

``Reconstructor`` is the entry point; ``networks`` holds the models,
``checkpoint`` loads published weights safely, ``display`` turns intensity
maps into steady uint8 pictures.
"""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401
from .display import Display  # noqa: F401
from .hpf import HighPassFilter  # noqa: F401
from .reconstructor import ALL_METHODS, Reconstructor  # noqa: F401
