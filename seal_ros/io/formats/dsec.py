"""DSEC ``events.h5`` (and the recorder's datasets, which use the same layout).

``events/{x,y,t,p}`` with ``t`` in us relative to the scalar ``t_offset``
(absolute ns = ``(t + t_offset) * 1000``), ``ms_to_idx`` (not needed to stream
in order). Accepted as the ``events.h5`` file itself, a recorder session
directory (``events/events.h5``) or a DSEC sequence directory
(``events/left/events.h5``). The sensor size comes from the file's
``width``/``height`` attributes (the recorder writes them), the session's
``meta.json``, or else DSEC's event cameras, 640x480. Frames come from an
``images/timestamps.txt`` (us) beside the PNGs: the recorder's ``images/``,
DSEC's ``images/left/rectified/``. A file still open for SWMR writing (a
recorder that was killed) is read in SWMR mode.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.recordings import Frame, FormatSpec, Options, Recording, RecordingError, split_chunk

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
DSEC_SIZE = (640, 480)
FIELDS = ("x", "y", "t", "p")


def _h5_path(path: Path) -> Optional[Path]:
    if path.is_file():
        return path
    for rel in ("events/events.h5", "events/left/events.h5", "events.h5"):
        if (path / rel).is_file():
            return path / rel
    return None


def _open_h5(path: Path):
    from seal_ros.recorder.h5util import open_events_h5

    try:
        return open_events_h5(path)
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None


def _check_layout(path: Path, f) -> None:
    if "CD" in f and "events" in f["CD"]:
        raise RecordingError(f"{path}: a Prophesee HDF5 event file (ECF-compressed CD/events): not a format "
                             f"seal-ros reads (use the RAW recording)")
    g = f.get("events")
    if g is None or not all(k in g for k in FIELDS):
        raise RecordingError(f"{path}: an HDF5 file without events/{{x,y,t,p}} (top-level keys: "
                             f"{', '.join(sorted(f.keys())) or 'none'})")


def _frames_dir(root: Path) -> tuple[Optional[Path], Optional[Path]]:
    """(timestamps.txt, folder of the PNGs) of a recorder session or DSEC sequence directory."""
    for stamps, pngs in (("images/timestamps.txt", "images"), ("images/timestamps.txt", "images/left/rectified")):
        s, d = root / stamps, root / pngs
        if s.is_file() and d.is_dir() and any(d.glob("*.png")):
            return s, d
    return None, None


class DsecRecording(Recording):
    format = "dsec-h5"

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        self.h5_path = _h5_path(path)
        if self.h5_path is None:
            raise RecordingError(f"{path}: no events.h5 in this directory")
        root = path if path.is_dir() else None
        with _open_h5(self.h5_path) as f:
            _check_layout(self.h5_path, f)
            self.n_events = int(f["events/t"].shape[0])
            self.t_offset_us = int(f["t_offset"][()]) if "t_offset" in f else 0
            width, height = int(f.attrs.get("width", 0)), int(f.attrs.get("height", 0))
        if not (width and height) and root is not None and (root / "meta.json").is_file():
            meta = json.loads((root / "meta.json").read_text())
            width, height = int(meta.get("width", 0)), int(meta.get("height", 0))
        if not (width and height):
            width, height = DSEC_SIZE
        self._size(width, height, "events.h5")
        self.stamps_file, self.images_dir = _frames_dir(root) if root is not None else (None, None)
        self.has_frames = self.stamps_file is not None
        self.details = {"events_h5": str(self.h5_path), "events_in_file": self.n_events,
                        "t_offset_us": self.t_offset_us}

    def chunks(self):
        n = self.options.chunk_events
        self.stats = {}
        with _open_h5(self.h5_path) as f:
            g = f["events"]
            for i in range(0, self.n_events, n):
                x, y, t, p = (g[k][i:i + n] for k in FIELDS)
                ev = EventArray(x.astype(np.uint16), y.astype(np.uint16), (p != 0).astype(np.uint8),
                                (t.astype(np.int64) + self.t_offset_us) * 1000)
                yield from split_chunk(self._in_sensor(ev), TriggerArray.empty(), 0, n)

    def frames(self) -> Iterator[Frame]:
        if not self.has_frames:
            return
        import imageio.v3 as iio

        stamps = np.loadtxt(self.stamps_file, dtype=np.int64, ndmin=1)
        pngs = sorted(self.images_dir.glob("*.png"))
        if len(pngs) != len(stamps):
            raise RecordingError(f"{self.images_dir}: {len(pngs)} PNGs but {len(stamps)} lines in "
                                 f"{self.stamps_file.name}")
        for t_us, png in zip(stamps.tolist(), pngs):
            t = int(t_us) * 1000
            yield Frame(t, t, t, np.asarray(iio.imread(png), np.uint8))


def _detect(path: Path, head) -> bool:
    if head is None:
        return _h5_path(path) is not None
    if not head.startswith(HDF5_MAGIC):
        return False
    with _open_h5(path) as f:
        _check_layout(path, f)
    return True


FORMAT = FormatSpec(
    name="dsec-h5", description="DSEC events.h5 (and recorder datasets)", detect=_detect, open=DsecRecording,
    reads="`events/{x,y,t,p}` + `t_offset`; size from attributes/`meta.json` (else 640x480); frames from "
          "`images/timestamps.txt` + PNGs")
