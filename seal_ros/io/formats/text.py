"""Text event files: one event a line, ``t x y p`` (ECD, rpg_e2vid, EVREAL style), optionally zipped.

Columns are separated by spaces, tabs or commas. Before the events there may
be comment lines (``#``/``%``), a line of column names, and a line ``W H``
(rpg_e2vid / EVREAL: the sensor size). Times are seconds when the first
event's time has a decimal point or exponent, else integer microseconds
(``time_unit`` = ``s``/``us``/``ns`` overrides); seconds are rounded to the
number of decimals the first event shows (so ``11.718656`` is exact to the
microsecond). Polarity: ``> 0`` is ON (1/0 and 1/-1 files both work). A
``.zip`` is read from its (first) ``.txt`` member (rpg_e2vid ships them so).
An ECD directory (``events.txt``, ``images.txt`` + ``images/``, ``imu.txt``)
also gives its frames and IMU samples. Without a size line or option, the
size is ``max(x) + 1`` by ``max(y) + 1`` from a first pass over the file.
Everything streams in blocks.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.types import EventArray, TriggerArray
from seal_ros.io.recordings import Frame, FormatSpec, ImuArray, Options, Recording, RecordingError, split_chunk

ZIP_MAGIC = b"PK\x03\x04"
BYTES_PER_EVENT = 32  # block size guess for reading chunk_events lines
_NUM = re.compile(rb"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
UNIT_NS = {"s": 1_000_000_000, "us": 1000, "ns": 1}


def _open_text(path: Path):
    """A binary stream of the events text (a .zip's first .txt member)."""
    if path.is_dir():
        path = path / "events.txt"
    with open(path, "rb") as f:
        is_zip = f.read(4) == ZIP_MAGIC
    if not is_zip:
        return open(path, "rb")
    z = zipfile.ZipFile(path)
    names = [n for n in z.namelist() if n.lower().endswith(".txt")]
    if not names:
        raise RecordingError(f"{path}: a zip file without a .txt event file (members: "
                             f"{', '.join(z.namelist()[:5]) or 'none'})")
    return z.open(sorted(names)[0])


def _tokens(line: bytes) -> list:
    return line.replace(b",", b" ").split()


def parse_preamble(stream) -> tuple[Optional[tuple[int, int]], Optional[bytes], int, bytes]:
    """(size from a ``W H`` line, the first event's time token, lines skipped, the bytes read so far after them)."""
    size = None
    skipped = 0
    for _ in range(64):
        line = stream.readline(1 << 16)
        if not line:
            return size, None, skipped, b""
        tok = _tokens(line)
        if not tok or tok[0][:1] in (b"#", b"%"):
            skipped += 1
            continue
        numeric = all(_NUM.match(t) for t in tok)
        if numeric and len(tok) == 2 and size is None:
            size = (int(float(tok[0])), int(float(tok[1])))
            skipped += 1
            continue
        if not numeric:
            skipped += 1
            continue
        if len(tok) < 4:
            raise RecordingError(f"an event line needs 4 columns (t x y p), found {len(tok)}: {line[:60]!r}")
        return size, tok[0], skipped, line
    return size, None, skipped, b""


def time_unit_of(token: bytes, unit: str) -> tuple[int, int]:
    """(ns per unit of the file's times, rounding quantum in ns) for the first event's time token."""
    if unit not in ("auto", *UNIT_NS):
        raise RecordingError(f"time_unit must be auto, s, us or ns, got {unit!r}")
    seconds = unit == "s" or unit == "auto" and (b"." in token or b"e" in token.lower())
    if not seconds:
        u = UNIT_NS["us" if unit == "auto" else unit]
        return u, u
    frac = token.lower().split(b"e")[0].partition(b".")[2]
    return UNIT_NS["s"], 10 ** max(0, 9 - len(frac))


class TextRecording(Recording):
    format = "text"

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        with _open_text(path) as s:
            size, first, self.skip_lines, _ = parse_preamble(s)
        if first is None:
            raise RecordingError(f"{path}: a text file without event lines (t x y p)")
        self.unit_ns, self.quantum_ns = time_unit_of(first, options.time_unit)
        self.ecd_dir = path if path.is_dir() else None
        self.has_frames = self.ecd_dir is not None and (path / "images.txt").is_file()
        self.has_imu = self.ecd_dir is not None and (path / "imu.txt").is_file()
        if not (options.width and options.height) and size is None:
            size = self._scan_size()
        self._size(*(size or (None, None)), "the text file")
        self.details = {"time_unit_ns": self.unit_ns}

    def _rows(self) -> Iterator[np.ndarray]:
        """(N, 4) float64 blocks, or int64 when the times are integers."""
        dtype = np.int64 if self.unit_ns != UNIT_NS["s"] else np.float64
        block = max(4096, self.options.chunk_events * BYTES_PER_EVENT)
        with _open_text(self.path) as s:
            for _ in range(self.skip_lines):
                s.readline(1 << 16)
            rest = b""
            while True:
                data = s.read(block)
                buf = rest + data
                if not data:
                    end = len(buf)
                else:
                    end = buf.rfind(b"\n") + 1
                rows, rest = buf[:end], buf[end:]
                if rows.strip():
                    vals = np.fromstring(rows.replace(b",", b" ").decode("ascii", "replace"), dtype=dtype, sep=" ")
                    if len(vals) % 4:
                        raise RecordingError(f"{self.path}: a line without 4 columns (t x y p) in the events")
                    yield vals.reshape(-1, 4)
                if not data:
                    break

    def _scan_size(self) -> tuple[int, int]:
        w = h = 0
        for r in self._rows():
            w, h = max(w, int(r[:, 1].max()) + 1), max(h, int(r[:, 2].max()) + 1)
        return w, h

    def _times(self, col: np.ndarray) -> np.ndarray:
        if col.dtype == np.int64:
            return col * self.unit_ns
        q = self.quantum_ns
        return (np.rint(col * (self.unit_ns / q)).astype(np.int64)) * q

    def chunks(self):
        n = self.options.chunk_events
        self.stats = {}
        for r in self._rows():
            x, y = r[:, 1].astype(np.int64), r[:, 2].astype(np.int64)
            ev = EventArray(x.astype(np.uint16), y.astype(np.uint16), (r[:, 3] > 0).astype(np.uint8),
                            self._times(r[:, 0]))
            ev = self._in_sensor(ev, keep=(x >= 0) & (y >= 0))
            yield from split_chunk(ev, TriggerArray.empty(), 0, n)

    def frames(self) -> Iterator[Frame]:
        if not self.has_frames:
            return
        import imageio.v3 as iio

        for line in (self.ecd_dir / "images.txt").read_text().splitlines():
            tok = line.split()
            if len(tok) >= 2 and _NUM.match(tok[0].encode()):
                t = int(self._times(np.array([float(tok[0])]))[0])
                img = np.asarray(iio.imread(self.ecd_dir / tok[1]), np.uint8)
                yield Frame(t, t, t, img)

    def imu(self) -> Iterator[ImuArray]:
        if not self.has_imu:
            return
        a = np.loadtxt(self.ecd_dir / "imu.txt", ndmin=2)
        if len(a):
            yield ImuArray(self._times(a[:, 0]), a[:, 1:4], a[:, 4:7])


def _detect(path: Path, head) -> bool:
    if head is None:
        return (path / "events.txt").is_file()
    if head.startswith(ZIP_MAGIC):
        with _open_text(path):
            return True
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    try:
        first = parse_preamble(io.BytesIO(text.encode()))[1]
    except RecordingError:
        return False
    return first is not None


FORMAT = FormatSpec(
    name="text", description="text events `t x y p` (ECD / rpg_e2vid style, optionally zipped)",
    detect=_detect, open=TextRecording,
    reads="CD events (s or us, detected or given); size from a `W H` line, else the events; ECD folders: "
          "frames (`images.txt`), IMU (`imu.txt`)")
