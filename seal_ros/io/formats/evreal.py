"""EVREAL's ``.npy`` layout: a sequence directory of ``events_ts.npy`` (s), ``events_xy.npy``,
``events_p.npy``, optionally ``images.npy`` + ``images_ts.npy`` and ``metadata.json``
(``sensor_resolution`` [H, W]).

Detection lives here; reading is :mod:`seal_ros.io.evreal`'s (the E2V evaluation
work owns that reader and writer), reached through :func:`_load` only, the one
place that names its API. Until that module is present, a recognised EVREAL
directory is refused with one line saying so.
"""
from __future__ import annotations

from pathlib import Path

from seal_ros.events.types import TriggerArray
from seal_ros.io.recordings import Frame, FormatSpec, Options, Recording, RecordingError, split_chunk

REQUIRED = ("events_ts.npy", "events_xy.npy", "events_p.npy")


def _load(path: Path):
    """``seal_ros.io.evreal``'s sequence for ``path``.

    Expected of it: ``.width``, ``.height``, ``.events(chunk_events)`` -> iterator of
    EventArray (ns, in file order), ``.frames()`` -> iterator of (t_ns, uint8 image),
    ``.has_frames``. Adapt these lines to that module's API when it lands.
    """
    try:
        from seal_ros.io import evreal
    except ImportError:
        raise RecordingError(f"{path}: EVREAL .npy layout recognised, but its reader (seal_ros.io.evreal) is "
                             f"not part of this build") from None
    try:
        return evreal.open_sequence(path)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: unreadable EVREAL sequence ({exc})") from None


class EvrealRecording(Recording):
    format = "evreal-npy"

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        self.seq = _load(path)
        self._size(self.seq.width, self.seq.height, "the EVREAL metadata.json")
        self.has_frames = bool(self.seq.has_frames)

    def chunks(self):
        n = self.options.chunk_events
        for events in self.seq.events(n):
            yield from split_chunk(events, TriggerArray.empty(), 0, n)

    def frames(self):
        for t, img in self.seq.frames():
            yield Frame(int(t), int(t), int(t), img)


def _detect(path: Path, head) -> bool:
    return head is None and all((path / f).is_file() for f in REQUIRED)


FORMAT = FormatSpec(
    name="evreal-npy", description="EVREAL .npy sequence directory", detect=_detect, open=EvrealRecording,
    reads="CD events; frames (`images.npy`, `images_ts.npy`); size from `metadata.json` "
          "(through `seal_ros.io.evreal`)")
