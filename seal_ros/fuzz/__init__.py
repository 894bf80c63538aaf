"""Fuzzing every EventPacket encoding (no ROS): hostile packets made from real recordings.

``corpora(encoding, data_dir, seed)`` gives the packets to mutate (:mod:`.corpus`: the shared
recordings in every encoding, plus a synthetic stream); :func:`~.run.fuzz_decoder` sends mutated
batches (:mod:`.mutate`) through the encoding's decoder and checks every packet against what the
decoder guarantees for any payload (:mod:`.guarantees`); :func:`~.ingest.fuzz_ingest` sends them,
with hostile metadata, through ``WindowSource``, the path every node uses. Both are deterministic
for a seed and return a :class:`~.run.Report` whose ``problems`` name each failing packet (kind,
corpus, size, time base, first bytes). The test suite runs 10^5 packets of each encoding
(test/test_fuzz_encodings.py); ``seal-ros fuzz --packets N --seed S`` runs longer ones.
"""
from __future__ import annotations

import numpy as np

from .corpus import Corpus, real_corpora, synthetic_corpus  # noqa: F401
from .ingest import fuzz_ingest  # noqa: F401
from .run import Report, fuzz_decoder  # noqa: F401

LEVELS = ("decoder", "ingest")


def corpora(encoding: str, data_dir=None, seed: int = 0) -> list:
    """The real recordings of ``data_dir`` (when given and present) in ``encoding``, and one synthetic
    stream (seeded)."""
    out = real_corpora(encoding, data_dir) if data_dir is not None else []
    out.append(synthetic_corpus(np.random.default_rng([seed, 7]), encoding))
    return out
