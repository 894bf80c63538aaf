"""Training pairs from any recording with frames, through the recording registry.

:class:`RecordingPairs` pairs each frame of a recording (AEDAT4 APS frames, a
bag's ``sensor_msgs/Image`` topic, a recorder or DSEC directory's images, an
ECD folder, ...) with the events of a window of ``window_ms`` centred on the
frame's exposure (its stamp where the format records no exposure), like
:class:`~seal_ros.datasets.pairs.AedatPairs`, streaming the events: only the
windows' events are kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_ros.datasets.pairs import PairSample, _file_id
from seal_ros.events.types import EventArray


class RecordingPairs:
    """``PairSample``s of every frame with at least ``min_events`` events in its window."""

    def __init__(self, path, window_ms: float = 20.0, min_events: int = 1, **options):
        from seal_ros.io.recordings import open_recording

        rec = open_recording(path, **options)
        self.path, self.window_ms = Path(path), float(window_ms)
        if not rec.has_frames:
            raise ValueError(f"{path}: no frames in this {rec.format} recording")
        self.width, self.height = rec.width, rec.height
        half = int(window_ms * 1e6 / 2)
        frames = iter(rec.frames())
        nxt = next(frames, None)
        open_: list = []  # [index, frame, t0, t1, parts]
        done: list = []
        k = 0
        for chunk in rec.chunks():
            ev = chunk.events
            if not len(ev):
                continue
            last = int(ev.t[-1])
            while nxt is not None and _mid(nxt) - half <= last:
                open_.append([k, nxt, _mid(nxt) - half, _mid(nxt) + half, []])
                k += 1
                nxt = next(frames, None)
            for w in open_:
                lo, hi = np.searchsorted(ev.t, [w[2], w[3]], side="left")
                if hi > lo:
                    w[4].append(ev[lo:hi])
            done += [w for w in open_ if w[3] <= last]
            open_ = [w for w in open_ if w[3] > last]
        self.samples: list[PairSample] = []
        stem = Path(path).stem
        for i, fr, t0, t1, parts in sorted(done + open_, key=lambda w: w[0]):
            events = EventArray.concatenate(parts)
            if len(events) >= min_events:
                self.samples.append(PairSample(events, fr.image, rec.width, rec.height, t0, t1, name=f"{stem}_{i:06d}"))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i) -> PairSample:
        return self.samples[i]

    def fingerprint(self) -> dict:
        """What identifies these pairs (keys training caches): the recording's files, the window, the pairs."""
        files = [self.path] if self.path.is_file() else sorted(f for f in self.path.rglob("*") if f.is_file())
        return {"kind": "recording", "files": [_file_id(f) for f in files], "window_ms": self.window_ms,
                "pairs": [s.name for s in self.samples]}


def _mid(frame) -> int:
    return (frame.exposure_start_ns + frame.exposure_end_ns) // 2
