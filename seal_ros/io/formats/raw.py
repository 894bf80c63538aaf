"""Prophesee RAW files (Metavision Studio, ``metavision_*`` recorders): a ``%`` text header, then EVT words.

The header is lines starting with ``%`` (``% key value``; newer files end it
with ``% end``). The encoding comes from ``% evt 3.0`` / ``% evt 2.0`` or
``% format EVT3;width=..;height=..``; the sensor size from ``% geometry WxH``,
the ``format`` line, or else the camera plugin's sensor (``% plugin_name``:
Gen3/Gen3.1 640x480, Gen4/Gen4.1 and IMX636/IMX646 1280x720, GenX320
320x320). The words are read in blocks of ``chunk_events`` words and decoded
by the same decoders as EventPackets (``evt3``, ``evt2``), with
``time_base = 0``: event times are the sensor clock. ``% Date`` (taken as UTC)
gives the clock offset to wall-clock time. EVT 2.1 and other encodings are
refused by name.
"""
from __future__ import annotations

import calendar
import io
import re
import time
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from seal_ros.events.packet import EventPacket
from seal_ros.io.recordings import FormatSpec, Options, Recording, RecordingError, split_chunk

HEADER_MAX_BYTES = 1 << 20
# Camera plugin (and sensor generation) -> sensor size.
PLUGIN_SIZES = (
    (re.compile(r"gen3(1)?_|gen3(1)?$"), (640, 480)),
    (re.compile(r"gen4(1)?_|gen4(1)?$|imx636|imx646"), (1280, 720)),
    (re.compile(r"genx320"), (320, 320)),
)
GENERATION_SIZES = {"3.0": (640, 480), "3.1": (640, 480), "4.0": (1280, 720), "4.1": (1280, 720)}
ENCODINGS = {"3.0": "evt3", "evt3": "evt3", "2.0": "evt2", "evt2": "evt2"}


def read_header(f) -> tuple[dict, int]:
    """(fields, offset of the first data byte) of an open RAW file; fields keep the first value of a key."""
    fields: dict = {}
    offset = 0
    while offset < HEADER_MAX_BYTES:
        line = f.readline(4096)
        body = line.rstrip(b"\r\n")
        if not (line.endswith(b"\n") and body.startswith(b"%") and all(32 <= c < 127 for c in body)
                and (body == b"%" or body.startswith(b"% "))):
            break
        offset += len(line)
        text = body[1:].decode("ascii").strip()
        if text == "end":
            break
        key, _, value = text.partition(" ")
        if key:
            fields.setdefault(key, value.strip())
    return fields, offset


def _format_field(value: str) -> tuple[str, dict]:
    """``EVT3;height=720;width=1280`` -> ('evt3', {'height': '720', 'width': '1280'})."""
    name, *rest = value.split(";")
    return name.strip().lower(), dict(p.split("=", 1) for p in rest if "=" in p)


def encoding_of(fields: dict) -> str:
    fmt = fields.get("format")
    if fmt:
        name = _format_field(fmt)[0]
        found = f"format {fmt.split(';')[0]}"
    elif "evt" in fields:
        name = fields["evt"].strip()
        found = f"EVT {name}"
    else:
        plugin = fields.get("plugin_name", "")
        if re.search(r"gen3", plugin):
            return "evt2"  # Gen3 cameras record EVT 2.0, Gen4 / IMX636 EVT 3.0 (without a header field)
        if re.search(r"gen4|imx636|imx646", plugin):
            return "evt3"
        raise RecordingError("Prophesee RAW header without an encoding ('% evt' or '% format')")
    if name not in ENCODINGS:
        raise RecordingError(f"Prophesee RAW with {found}: not an encoding seal-ros decodes (EVT 2.0, EVT 3.0)")
    return ENCODINGS[name]


def geometry_of(fields: dict) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", fields.get("geometry", ""))
    if m:
        return int(m.group(1)), int(m.group(2))
    if fields.get("format"):
        kv = _format_field(fields["format"])[1]
        if "width" in kv and "height" in kv:
            return int(kv["width"]), int(kv["height"])
    plugin = fields.get("plugin_name", "")
    for pattern, size in PLUGIN_SIZES:
        if pattern.search(plugin):
            return size
    return GENERATION_SIZES.get(fields.get("sensor_generation", "").strip())


def _date_ns(fields: dict) -> Optional[int]:
    try:
        return calendar.timegm(time.strptime(fields.get("Date", ""), "%Y-%m-%d %H:%M:%S")) * 1_000_000_000
    except ValueError:
        return None


class RawRecording(Recording):
    format = "prophesee-raw"
    has_triggers = True

    def __init__(self, path: Path, options: Options):
        super().__init__(path, options)
        with open(path, "rb") as f:
            self.header, self.data_offset = read_header(f)
        try:
            self.encoding = encoding_of(self.header)
        except RecordingError as exc:
            raise RecordingError(f"{path}: {exc}") from None
        size = geometry_of(self.header) or (None, None)
        self._size(*size, what="the RAW header (no geometry, format or known plugin_name)")
        from seal_ros.events.decoders import DECODERS

        self.word_bytes = DECODERS[self.encoding].word_bytes
        self.clock_offset_ns = _date_ns(self.header)
        self.details = {"header": self.header, "data_offset": self.data_offset}

    def packets(self) -> Iterator[EventPacket]:
        """The words in blocks of ``chunk_events`` words, as EventPackets (time_base 0, seq from 0)."""
        block = self.options.chunk_events * self.word_bytes
        truncated = 0
        with open(self.path, "rb") as f:
            f.seek(self.data_offset)
            seq = 0
            while True:
                buf = np.fromfile(f, np.uint8, block)
                if not len(buf):
                    break
                extra = len(buf) % self.word_bytes
                if extra:  # only at the end of the file
                    truncated += extra
                    buf = buf[: len(buf) - extra]
                yield EventPacket(self.encoding, self.width, self.height, seq, 0, buf)
                seq += 1
        self.stats["truncated_bytes"] = self.stats.get("truncated_bytes", 0) + truncated

    def chunks(self):
        from seal_ros.events.stream import EventStream

        stream = EventStream()
        self.stats = {}
        try:
            for pkt in self.packets():
                d = stream.push(pkt)
                if d.error:
                    raise RecordingError(f"{self.path}: {d.error}")
                yield from split_chunk(d.events, d.triggers, 0, self.options.chunk_events)
        finally:  # also when the reader stops early
            self.stats.update(stream.stats)


def _detect(path: Path, head) -> bool:
    if head is None or not head.startswith(b"% "):
        return False
    fields = read_header(io.BytesIO(head))[0]
    if "Height" in fields or "Data" in fields:  # "% Data file containing CD events.", "% Height 480"
        raise RecordingError(f"{path}: a Prophesee DAT file: not a format seal-ros reads (use the RAW recording)")
    return path.suffix.lower() == ".raw" or bool({"evt", "format", "geometry", "plugin_name"} & set(fields))


FORMAT = FormatSpec(
    name="prophesee-raw", description="Prophesee RAW (EVT 2.0 / EVT 3.0)", detect=_detect, open=RawRecording,
    reads="CD events, external triggers; size from `% geometry`/`% format`/plugin; `% Date` as clock offset")
