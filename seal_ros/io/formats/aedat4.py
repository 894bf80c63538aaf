"""AEDAT4 (iniVation DV) files, streamed packet by packet with the PyPI ``aedat`` package.

Events, APS frames (grayscale, with exposure bounds), external triggers and
IMU samples (see :mod:`seal_ros.io.aedat`). DV stamps are Unix-epoch
microseconds, so the clock offset to ROS time is 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.aedat import AedatError, iter_aedat4, open_decoder
from seal_ros.io.recordings import FormatSpec, Options, Recording, RecordingError, split_chunk

MAGIC = b"#!AER-DAT4.0"


class Aedat4Recording(Recording):
    format = "aedat4"
    has_triggers = True

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        try:
            _, width, height, kinds = open_decoder(path)
        except AedatError as exc:
            raise RecordingError(str(exc)) from None
        self._size(width, height, "the AEDAT4 events stream")
        self.has_frames = "frame" in kinds
        self.has_imu = "imus" in kinds
        self.clock_offset_ns = 0

    def _iter(self, kinds):
        try:
            yield from iter_aedat4(self.path, kinds)
        except AedatError as exc:
            raise RecordingError(str(exc)) from None

    def chunks(self):
        """Events and triggers, time-ordered: DV writes trigger packets up to one events packet late,
        so each events packet is held until the next one arrives and leaves with the triggers up to
        its last event (the rest wait for a later packet)."""
        n = self.options.chunk_events
        self.stats = {"events": 0, "triggers": 0}
        held = None
        pending = TriggerArray.empty()
        for kind, value in self._iter(("events", "triggers")):
            if kind == "triggers":
                pending = TriggerArray.concatenate([pending, value])
                self.stats["triggers"] += len(value)
                continue
            self.stats["events"] += len(value)
            if held is not None and len(held):
                order = np.argsort(pending.t, kind="stable")
                k = int(np.searchsorted(pending.t[order], int(held.t[-1]), "right"))
                yield from split_chunk(held, pending[order[:k]], 0, n)
                pending = pending[order[k:]]
            held = value
        yield from split_chunk(held if held is not None else EventArray.empty(), pending, 0, n)

    def frames(self):
        for _, frame in self._iter(("frame",)):
            yield frame

    def imu(self):
        for _, samples in self._iter(("imus",)):
            yield samples


def _detect(path: Path, head) -> bool:
    return head is not None and head.startswith(MAGIC)


FORMAT = FormatSpec(
    name="aedat4", description="AEDAT4 (iniVation DV)", detect=_detect, open=Aedat4Recording,
    reads="CD events, APS frames (with exposure), triggers, IMU; size from the events stream")
