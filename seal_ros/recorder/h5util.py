"""HDF5 helpers for crash-safe recording.

The recorder writes ``events.h5`` in HDF5's single-writer/multiple-reader
(SWMR) mode: every flush leaves the file in a state a reader can open, so a
process killed at any moment (SIGKILL, power cut after the last fsync) leaves
a readable file. Until the writer closes it, the superblock carries
"open for SWMR write" status flags; HDF5 then refuses a plain open (it asks
for ``h5clear``) but allows an SWMR read. :func:`open_events_h5` falls back to
that, and :func:`clear_status_flags` is our ``h5clear -s`` for tools that open
plainly (``seal-ros pairs-info DIR --repair``).
"""
from __future__ import annotations

import os
import struct

SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` (HDF5's metadata checksum)."""
    m = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & m
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & m
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & m
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & m
        a = (a - c) & m; a ^= _rot(c, 4); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 6); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 8); b = (b + a) & m  # noqa: E702
        a = (a - c) & m; a ^= _rot(c, 16); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 19); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 4); b = (b + a) & m  # noqa: E702
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = data[k:k + length] + b"\0" * (12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    c ^= b; c = (c - _rot(b, 14)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & m  # noqa: E702
    return c


def _superblock(path) -> tuple[bytes, int]:
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:8] != SIGNATURE:
        raise ValueError(f"{path}: not an HDF5 file (or it has a user block)")
    version = head[8]
    if version not in (2, 3):
        raise ValueError(f"{path}: superblock version {version} has no status flags to clear")
    size = 12 + 4 * head[9]  # signature..flags, then 4 addresses
    return head, size


def status_flags(path) -> int:
    """The superblock's file-consistency flags (0 once a writer closed the file)."""
    head, _ = _superblock(path)
    return head[11]


def clear_status_flags(path) -> bool:
    """Clear the "open for (SWMR) write" flags like ``h5clear -s``; True when something changed.

    Verifies the stored superblock checksum first, so a file that is not what
    we expect is never modified.
    """
    head, size = _superblock(path)
    body, stored = head[:size], struct.unpack("<I", head[size:size + 4])[0]
    if lookup3(body) != stored:
        raise ValueError(f"{path}: superblock checksum mismatch; not touching it")
    if body[11] == 0:
        return False
    body = body[:11] + b"\0" + body[12:]
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, body + struct.pack("<I", lookup3(body)), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def open_events_h5(path):
    """Open ``events.h5`` read-only; an SWMR read when the writer never closed it."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "already open for write" not in str(exc) and "consistency flags" not in str(exc):
            raise
        return h5py.File(path, "r", swmr=True)
