"""Training-data recorder: time-synchronised event/image pairs in the DSEC layout (no ROS).

* :mod:`.writer` -- the on-disk format (``events/events.h5``, ``images/``, ``pairs.jsonl``);
* :mod:`.pairing` -- which events belong to which image;
* :mod:`.session` -- one recording: limits, disk-full handling, durability order;
* :mod:`.worker` -- the recording thread the ``pair_recorder`` node feeds;
* :mod:`.reader` -- reading/validating datasets, ``PairDataset`` for training.

Format and guarantees: docs/recorder.md.
"""
from .session import RecorderConfig, RecorderError, RecordingSession, make_session_dir  # noqa: F401
from .reader import DatasetError, PairDataset, PairsDataset, validate  # noqa: F401
