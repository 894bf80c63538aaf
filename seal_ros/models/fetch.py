"""Downloading a checkpoint with resume (HTTP Range) and a sha256 check, on urllib.

The download goes to ``FILE.part`` next to the target; an interrupted fetch
leaves it there and the next one asks the server for the rest only
(``Range: bytes=N-``). A server that ignores the range (200 instead of 206)
makes the download start over. When the file is complete its size and sha256
(where the manifest has them) are checked BEFORE it is renamed into place; a
mismatching file is deleted and the fetch fails, so a bad file never sits under
the checkpoint's name.
"""
from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class FetchError(Exception):
    """A download that failed; the message says why."""


def fetch(url: str, dest, size: Optional[int] = None, sha256: Optional[str] = None,
          progress: Optional[Callable[[int, Optional[int]], None]] = None, timeout_s: float = 30.0,
          max_bytes: Optional[int] = None) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); returns ``dest``.

    ``progress(done_bytes, total_bytes_or_None)`` is called as data arrives.
    ``max_bytes`` stops after that many new bytes, leaving the ``.part`` file
    (used by tests to simulate an interrupted download) and raises FetchError.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()  # longer than the real file: garbage
        have = 0
    if size is None or have < size:
        have = _download(url, part, have, size, progress, timeout_s, max_bytes)
    _check(part, size, sha256, url)
    os.replace(part, dest)
    return dest


def _download(url, part: Path, have: int, size, progress, timeout_s, max_bytes) -> int:
    req = urllib.request.Request(url, headers={"User-Agent": "seal-ros-models/1"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the .part is complete (checked next)
            return have
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with resp:
        status = resp.status
        if have and status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                raise FetchError(f"{url}: server answered a different range ({resp.headers.get('Content-Range')!r})")
            mode = "ab"
        elif status == 200:
            have, mode = 0, "wb"  # no range support (or a fresh start): from the beginning
        else:
            raise FetchError(f"{url}: unexpected HTTP status {status}")
        length = resp.headers.get("Content-Length")
        total = size if size is not None else (have + int(length) if length and length.isdigit() else None)
        new = 0
        with open(part, mode) as f:
            while True:
                block = resp.read(CHUNK if max_bytes is None else max(1, min(CHUNK, max_bytes - new)))
                if not block:
                    break
                f.write(block)
                new += len(block)
                if progress is not None:
                    progress(have + new, total)
                if max_bytes is not None and new >= max_bytes:
                    raise FetchError(f"{url}: stopped after {new} bytes (max_bytes); run again to resume")
    if total is not None and have + new < total:
        raise FetchError(f"{url}: connection closed after {have + new} of {total} bytes; run again to resume")
    return have + new


def _check(part: Path, size, sha256, url) -> None:
    got = part.stat().st_size
    if size is not None and got != size:
        if got < size:
            raise FetchError(f"{url}: incomplete ({got} of {size} bytes); run again to resume")
        part.unlink()
        raise FetchError(f"{url}: {got} bytes, expected {size}; deleted")
    if sha256:
        h = hashlib.sha256()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
        if h.hexdigest() != sha256.lower():
            part.unlink()
            raise FetchError(f"{url}: sha256 {h.hexdigest()} does not match the manifest's {sha256}; deleted")
