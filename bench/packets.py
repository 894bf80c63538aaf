"""The shared evt3 recording's EventPackets for the benchmarks, with or without the recording and rosbags.

On the development machine they come from ``../shared/data/evt3_640x480`` (a rosbag2 bag). On a
machine without it (a lent GPU machine: no ``../shared``, no rosbags), from the ``.npz`` that
``bench/gpu_bench.sh prepare`` writes here beforehand (:data:`GPU_PACKETS`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVT3_BAG = ROOT.parent / "shared" / "data" / "evt3_640x480"
GPU_PACKETS = ROOT / "bench" / ".gpu" / "packets.npz"


def save_packets(path, packets) -> None:
    meta = np.array([(p.width, p.height, p.seq, p.time_base, p.stamp_ns, len(p.events)) for p in packets], np.int64)
    np.savez(path, meta=meta, payload=np.concatenate([p.events for p in packets]),
             encoding=np.array([packets[0].encoding]))


def load_packets(path) -> list:
    from seal_ros.events.packet import EventPacket

    z = np.load(path)
    ends = np.cumsum(z["meta"][:, 5])
    return [EventPacket(str(z["encoding"][0]), int(w), int(h), int(seq), int(tb), z["payload"][e - n:e], int(st))
            for (w, h, seq, tb, st, n), e in zip(z["meta"], ends)]


def evt3_packets(bag="", npz="") -> list:
    """The packets of ``npz`` if given, else of ``bag`` (default: the shared evt3 recording), else of
    :data:`GPU_PACKETS`; SystemExit with one line when none is there."""
    if npz:
        return load_packets(npz)
    path = Path(bag) if bag else EVT3_BAG
    if path.exists():
        from seal_ros.io.bags import BagReader

        with BagReader(path) as reader:
            return list(reader.event_packets())
    if not bag and GPU_PACKETS.exists():
        return load_packets(GPU_PACKETS)
    raise SystemExit(f"{path} not found (on a machine without it: bench/gpu_bench.sh prepare writes {GPU_PACKETS})")
