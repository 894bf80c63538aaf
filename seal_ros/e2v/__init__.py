"""Event-to-video reconstruction: the reference high-pass / complementary filters and learned networks.

``Reconstructor`` is the entry point; ``filters`` holds Scheerlinck et al.'s
filters, ``networks`` the models, ``network`` runs them (padding, state),
``checkpoint`` loads published weights safely, ``display`` is rpg_e2vid's
output display, ``evreal`` is EVREAL's evaluation protocol.
"""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401
from .display import RpgDisplay  # noqa: F401
from .filters import ComplementaryFilter, HighPassFilter  # noqa: F401
from .reconstructor import ALL_METHODS, Reconstructor  # noqa: F401
