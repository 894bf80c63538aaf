"""What the fuzzer mutates: real packets of the shared recordings in every encoding, and synthetic ones.

Real: each recording of the data folder (the project's ``../shared/data``, see its README) as the
EventPackets of ``encoding``: its own packets or words where it is in that encoding (the evt3 and
libcaer_cmp bags as recorded, the RAW files' words cut in 1 ms packets), else its real events
written by :mod:`seal_ros.events.encoders` in 1 ms packets, the way ``seal-ros convert`` writes
them (:func:`seal_ros.io.packetize.event_packets`). Synthetic: random events on a random sensor
(1 to 2048 a side), time-ordered, written by the same encoders.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray

# (name, path under the data folder); the first two are bags, the others Prophesee RAW files
RECORDINGS = (
    ("evt3_640x480", "evt3_640x480"),
    ("libcaer_cmp_davis346", "libcaer_cmp_davis346"),
    ("evt3_sample.raw", "prophesee_raw/evt3_sample.raw"),
    ("evt2_sample.raw", "prophesee_raw/evt2_sample.raw"),
)
PACKET_NS = 1_000_000


@dataclass
class Corpus:
    name: str
    encoding: str
    width: int
    height: int
    payload: np.ndarray  # uint8: the packets back to back
    starts: np.ndarray  # int64, count + 1 offsets into payload
    time_bases: np.ndarray  # int64, one a packet
    ordered: bool  # decoded from its first packet, time never goes back

    @property
    def count(self) -> int:
        return len(self.time_bases)

    def packet(self, i: int) -> np.ndarray:
        return self.payload[self.starts[i]: self.starts[i + 1]]


def from_packets(name: str, encoding: str, width: int, height: int, packets, ordered: bool) -> Optional[Corpus]:
    """A corpus of ``(payload, time_base)`` pairs (None when there are none)."""
    packets = [(np.asarray(p, np.uint8), int(tb)) for p, tb in packets]
    if not packets:
        return None
    sizes = np.array([len(p) for p, _ in packets], np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    payload = np.concatenate([p for p, _ in packets]) if packets else np.zeros(0, np.uint8)
    return Corpus(name, encoding, width, height, payload, starts, np.array([tb for _, tb in packets], np.int64),
                  ordered)


def real_corpora(encoding: str, data_dir) -> list:
    """The recordings of ``data_dir`` found there, each as a corpus of ``encoding`` packets."""
    from seal_ros.io.packetize import event_packets
    from seal_ros.io.recordings import open_recording

    out = []
    for name, rel in RECORDINGS:
        path = Path(data_dir) / rel
        if not path.exists():
            continue
        rec = open_recording(path)
        try:
            packets = [(p.events, p.time_base) for p in event_packets(rec, encoding, PACKET_NS)]
            corpus = from_packets(name, encoding, rec.width, rec.height, packets, True)
        finally:
            rec.close()
        if corpus is not None and len(corpus.payload):  # (a recording without triggers has no trigger data)
            out.append(corpus)
    return out


def synthetic_corpus(rng, encoding: str, events: int = 40_000, span_us: int = 200_000) -> Corpus:
    """Random time-ordered events (and triggers) on a random sensor, written in 1 ms packets."""
    from seal_ros.events.encoders import make_encoder

    side = 2048
    w, h = (int(v) for v in rng.integers(1, side + 1, 2))
    t = np.sort(rng.integers(0, span_us, events)) * 1000 + int(rng.integers(0, 1 << 40)) * 1000
    ev = EventArray(rng.integers(0, w, events).astype(np.uint16), rng.integers(0, h, events).astype(np.uint16),
                    rng.integers(0, 2, events).astype(np.uint8), t)
    nt = events // 20
    tt = np.sort(rng.choice(t, nt))
    tr = TriggerArray(tt, rng.integers(0, 2, nt).astype(np.uint8), rng.integers(0, 16, nt).astype(np.uint8))
    enc = make_encoder(encoding, w, h)
    packets = []
    cuts = np.arange(int(t[0]), int(t[-1]) + PACKET_NS, PACKET_NS)
    ei, ti = np.searchsorted(t, cuts), np.searchsorted(tt, cuts)
    for k in range(len(cuts) - 1):
        pe, pt = ev[ei[k]: ei[k + 1]], tr[ti[k]: ti[k + 1]]
        if len(pe) or (len(pt) and encoding in ("evt3", "evt2", "trigger")):
            packets.append(enc.encode(pe, pt))
    return from_packets(f"synthetic {w}x{h}", encoding, w, h, packets, True)
