"""EVREAL's ``.npy`` layout: a sequence directory of ``events_ts.npy`` (s), ``events_xy.npy``,
``events_p.npy``, optionally ``images.npy`` + ``images_ts.npy`` and ``metadata.json``
(``sensor_resolution`` [H, W]).

Detection lives here; reading is :mod:`seal_ros.io.evreal`'s (the reader and
writer the EVREAL evaluation uses too), memory-mapped, so a large sequence is
streamed chunk by chunk.
"""
from __future__ import annotations

from pathlib import Path

from seal_ros.events.types import TriggerArray
from seal_ros.io.recordings import Frame, FormatSpec, Options, Recording, RecordingError, split_chunk

def _load(path: Path):
    """:func:`seal_ros.io.evreal.read_evreal`'s sequence for ``path`` (memory-mapped)."""
    from seal_ros.io.evreal import EvrealError, read_evreal

    try:
        return read_evreal(path)
    except EvrealError as exc:
        raise RecordingError(str(exc)) from None


class EvrealRecording(Recording):
    format = "evreal-npy"

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        self.seq = _load(path)
        self._size(self.seq.width, self.seq.height, "the EVREAL metadata.json")
        self.has_frames = self.seq.num_frames > 0

    def chunks(self):
        n = self.options.chunk_events
        for events in self.seq.chunks(n):
            yield from split_chunk(events, TriggerArray.empty(), 0, n)

    def frames(self):
        for k, t in enumerate(self.seq.frame_ts_ns):
            yield Frame(int(t), int(t), int(t), self.seq.frame(k))


def _detect(path: Path, head) -> bool:
    from seal_ros.io.evreal import is_evreal

    return head is None and is_evreal(path)


FORMAT = FormatSpec(
    name="evreal-npy", description="EVREAL .npy sequence directory", detect=_detect, open=EvrealRecording,
    reads="CD events; frames (`images.npy`, `images_ts.npy`); size from `metadata.json` "
          "(through `seal_ros.io.evreal`)")
