"""The DSEC-layout dataset writer (no ROS).

Layout of one session directory (documented in docs/recorder.md)::

    events/events.h5      events/{x,y,t,p}, ms_to_idx, t_offset  (HDF5, SWMR)
    images/000000.png ... one PNG per written image
    images/timestamps.txt one absolute time (us) per PNG, same order
    pairs.jsonl           one JSON object per pair; written last
    meta.json             sensor size, window settings, format version

Durability order: a pair's line goes to ``pairs.jsonl`` (fsync'd) only after
its events are in ``events.h5`` (flushed, fsync'd) and its PNG is fsync'd.
Every error is an ``OSError`` (or :class:`FormatLimit`) for the caller to
turn into a stopped session.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.events.types import EventArray

FORMAT_VERSION = 1
T_MAX_US = np.iinfo(np.uint32).max  # events/t is uint32 us relative to t_offset (as in DSEC)
EVENT_BYTES = 2 + 2 + 4 + 1  # x, y, t, p as stored


class DiskFull(OSError):
    """Free space fell to the reserve: raised *before* a write, so every file can still be closed cleanly."""


class H5WriteError(OSError):
    """A write inside HDF5 failed; the HDF5 file must not be touched again (it may crash the process)."""


def _h5_guard(fn):
    def wrapped(self, *a, **kw):
        try:
            return fn(self, *a, **kw)
        except DiskFull:
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            raise H5WriteError(getattr(exc, "errno", None) or errno.EIO,
                               f"HDF5 write failed ({exc})".replace("\n", " "),
                               str(self.root / "events" / "events.h5")) from exc
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


class FormatLimit(Exception):
    """The recording outgrew what the format can hold (uint32 microseconds: about 71 minutes)."""


_UNTOUCHABLE: list = []  # HDF5 files left open after a write error inside HDF5


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DsecWriter:
    """Appends events, images and pair records to one session directory."""

    def __init__(self, root, width: int = 0, height: int = 0, chunk_events: int = 1 << 18,
                 compression: Optional[str] = None, png_compression: int = 1, meta: Optional[dict] = None,
                 min_free_bytes: int = 64 << 20):
        self.root = Path(root)
        self.width, self.height = int(width), int(height)
        self.chunk_events = int(chunk_events)
        self.compression = compression or None
        self.png_compression = int(png_compression)
        self._meta = dict(meta or {})
        # HDF5 does not survive a failing write (it can crash the process), so writes stop while
        # this much space is still free: enough to close every file cleanly.
        self.min_free_bytes = int(min_free_bytes)
        self.closing = False
        (self.root / "events").mkdir(parents=True, exist_ok=False)
        (self.root / "images").mkdir()
        self._write_meta()
        self._pairs = open(self.root / "pairs.jsonl", "ab", buffering=0)
        self._stamps = open(self.root / "images" / "timestamps.txt", "ab", buffering=0)
        _fsync_dir(self.root)
        self._h5 = None
        self._fsync_fd = None
        self._h5_size = 0
        self.t_offset: Optional[int] = None  # us
        self.n_events = 0  # accepted (written or pending)
        self.n_durable = 0  # flushed and fsync'd
        self._n_in_h5 = 0
        self._pending: list[tuple] = []  # (x, y, t_rel uint32, p) not yet in the file
        self._n_pending = 0
        self._last_t = -1  # last accepted relative time (us)
        self._ms_to_idx: list[int] = []
        self._ms_in_h5 = 0
        self.n_images = 0
        self.image_bytes = 0
        self.text_bytes = 0
        self.events_out_of_order = 0
        self.events_out_of_range = 0  # x >= width or y >= height: refused
        self._last_t_in_h5 = -1
        self._floor_us = -(1 << 62)  # absolute us: events before this are refused (see raise_floor)

    # -- events -----------------------------------------------------------------
    @_h5_guard
    def _create_h5(self, t_offset_us: int) -> None:
        import h5py

        path = self.root / "events" / "events.h5"
        f = h5py.File(path, "w", libver="latest")
        g = f.create_group("events")
        kw = dict(maxshape=(None,), chunks=(self.chunk_events,), compression=self.compression)
        for name, dt in (("x", "u2"), ("y", "u2"), ("t", "u4"), ("p", "u1")):
            g.create_dataset(name, shape=(0,), dtype=dt, **kw)
        f.create_dataset("ms_to_idx", shape=(0,), dtype="u8", maxshape=(None,), chunks=(4096,))
        f.create_dataset("t_offset", data=np.int64(t_offset_us))
        f.attrs["width"] = self.width
        f.attrs["height"] = self.height
        f.attrs["format"] = "dsec"
        f.attrs["seal_ros_format_version"] = FORMAT_VERSION
        f.swmr_mode = True  # from here on the file on disk is always readable
        self._h5 = f
        self._ds_events = [g[name] for name in ("x", "y", "t", "p")]
        self._ds_ms = f["ms_to_idx"]
        self._ds_t = g["t"]
        self._fsync_fd = os.open(path, os.O_RDONLY)
        self.t_offset = int(t_offset_us)

    def append_events(self, ev: EventArray) -> int:
        """Accept decoded events (ns); returns how many were kept (late ones and ones outside the
        sensor size are counted, not stored)."""
        if len(ev) == 0:
            return 0
        if self.width and self.height and (int(ev.x.max()) >= self.width or int(ev.y.max()) >= self.height):
            inside = (ev.x < self.width) & (ev.y < self.height)  # never store what meta.json says cannot be
            self.events_out_of_range += int(len(ev) - inside.sum())
            ev = ev[inside]
            if len(ev) == 0:
                return 0
        t_us = ev.t // 1000
        if len(t_us) and t_us.min() < self._floor_us:  # older than a window already listed
            keep = t_us >= self._floor_us
            self.events_out_of_order += int(len(t_us) - keep.sum())
            ev, t_us = ev[keep], t_us[keep]
            if len(t_us) == 0:
                return 0
        if self._h5 is None:
            self._create_h5(int(t_us.min()))
        rel = t_us - self.t_offset
        x, y, p = ev.x, ev.y, ev.p
        if len(rel) > 1 and not np.all(rel[1:] >= rel[:-1]):
            order = np.argsort(rel, kind="stable")
            rel, x, y, p = rel[order], x[order], y[order], p[order]
        floor = max(self._last_t, 0)
        if rel[0] < floor:  # older than what is already stored
            keep = rel >= floor
            self.events_out_of_order += int(len(rel) - keep.sum())
            rel, x, y, p = rel[keep], x[keep], y[keep], p[keep]
            if len(rel) == 0:
                return 0
        if rel[-1] > T_MAX_US:
            raise FormatLimit("event times exceed the format's uint32 microsecond range (~71 min)")
        start = self.n_events
        first_ms = len(self._ms_to_idx)
        last_ms = int(rel[-1]) // 1000
        if last_ms >= first_ms:
            bounds = np.arange(first_ms, last_ms + 1, dtype=np.int64) * 1000
            self._ms_to_idx.extend((np.searchsorted(rel, bounds, "left") + start).tolist())
        self._pending.append((np.asarray(x, np.uint16), np.asarray(y, np.uint16),
                              rel.astype(np.uint32), np.asarray(p, np.uint8)))
        self._n_pending += len(rel)
        self.n_events += len(rel)
        self._last_t = int(rel[-1])
        if self._n_pending >= self.chunk_events:
            self._write_pending()
        return len(rel)

    def discard_pending(self) -> int:
        """Forget the accepted events not yet handed to HDF5 (disk full: they would not fit);
        returns the number of events kept. ``ms_to_idx`` is trimmed to match."""
        self._pending, self._n_pending = [], 0
        self.n_events = self._n_in_h5
        self._last_t = self._last_t_in_h5
        while self._ms_to_idx and self._ms_to_idx[-1] >= self.n_events:
            self._ms_to_idx.pop()
        self._ms_in_h5 = min(self._ms_in_h5, len(self._ms_to_idx))
        return self.n_events

    def raise_floor(self, t_us: int) -> None:
        """Refuse events older than ``t_us`` (absolute) from now on: a window ending there was
        paired before its events completed, and its index range must stay exact."""
        self._floor_us = max(self._floor_us, int(t_us))

    def check_space(self, nbytes: int) -> None:
        """Raise :class:`DiskFull` if writing ``nbytes`` would eat into the reserve."""
        if self.closing or self.min_free_bytes <= 0:
            return
        st = os.statvfs(self.root)
        free = st.f_bavail * st.f_frsize
        if free - nbytes < self.min_free_bytes:
            raise DiskFull(errno.ENOSPC, f"disk full: {free / 1e6:.1f} MB free, the next write needs "
                           f"{nbytes / 1e6:.1f} MB and {self.min_free_bytes / 1e6:.0f} MB stay reserved", str(self.root))

    @_h5_guard
    def _write_pending(self) -> None:
        if not self._pending:
            return
        # HDF5 allocates whole chunks: count one more chunk of every dataset, plus metadata
        self.check_space((self._n_pending + self.chunk_events) * EVENT_BYTES + (1 << 20))
        cols = [np.concatenate(c) for c in zip(*self._pending)] if len(self._pending) > 1 else list(self._pending[0])
        n0, n = self._n_in_h5, len(cols[0])
        for d, arr in zip(self._ds_events, cols):
            d.resize((n0 + n,))
            d[n0:n0 + n] = arr
        self._n_in_h5 += n
        self._last_t_in_h5 = int(cols[2][-1])
        self._pending, self._n_pending = [], 0

    @_h5_guard
    def flush_events(self) -> int:
        """Write every accepted event (and ms_to_idx so far) to the file and flush HDF5 (no fsync).
        Returns the event count this covers; :meth:`fsync_events` then makes it durable."""
        if self._h5 is None:
            return 0
        self._write_pending()
        if len(self._ms_to_idx) > self._ms_in_h5:
            new = np.asarray(self._ms_to_idx[self._ms_in_h5:], np.uint64)
            self._ds_ms.resize((len(self._ms_to_idx),))
            self._ds_ms[self._ms_in_h5:] = new
            self._ms_in_h5 = len(self._ms_to_idx)
        self._h5.flush()
        return self.n_events

    def fsync_events(self, upto: int) -> None:
        """fsync ``events.h5`` (thread-safe: a separate descriptor, no HDF5 call)."""
        fd = self._fsync_fd
        if fd is not None:
            os.fsync(fd)
        self.n_durable = max(self.n_durable, upto)

    def commit_events(self) -> None:
        """Make every accepted event durable, synchronously."""
        self.fsync_events(self.flush_events())

    def _t_slice(self, lo: int, hi: int) -> np.ndarray:
        parts = []
        if lo < self._n_in_h5:
            parts.append(self._ds_t[lo:min(hi, self._n_in_h5)])
        if hi > self._n_in_h5 and self._pending:
            tail = np.concatenate([c[2] for c in self._pending])
            parts.append(tail[max(lo - self._n_in_h5, 0):hi - self._n_in_h5])
        return np.concatenate(parts) if parts else np.empty(0, np.uint32)

    def index_of(self, t_us: int) -> int:
        """Global index of the first stored event with absolute time >= ``t_us``."""
        if self.t_offset is None:
            return 0
        rel = int(t_us) - self.t_offset
        if rel <= 0:
            return 0
        if rel > self._last_t:
            return self.n_events
        m = rel // 1000
        lo = self._ms_to_idx[m]
        hi = self._ms_to_idx[m + 1] if m + 1 < len(self._ms_to_idx) else self.n_events
        return lo + int(np.searchsorted(self._t_slice(lo, hi), rel, "left"))

    @property
    def last_event_us(self) -> Optional[int]:
        return None if self.t_offset is None or self._last_t < 0 else self.t_offset + self._last_t

    # -- images and records -------------------------------------------------------
    def write_image(self, image: np.ndarray, sync: bool = True) -> str:
        """Encode and write one PNG (fsync'd unless ``sync=False``: then :meth:`sync_images` must
        run before the pair is listed); returns its name relative to ``images/``."""
        import cv2

        img = np.ascontiguousarray(image, np.uint8)
        if img.ndim == 3:
            img = img[..., ::-1]  # RGB -> BGR for OpenCV; the file holds RGB
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, self.png_compression])
        if not ok:
            raise OSError(f"cannot encode an image of shape {image.shape} as PNG")
        self.check_space(int(buf.size) + 4096)
        name = f"{self.n_images:06d}.png"
        fd = os.open(self.root / "images" / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(buf.reshape(-1))
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.n_images += 1
        self.image_bytes += int(buf.size)
        return name

    def sync_images(self, names) -> None:
        """fsync PNGs written with ``sync=False`` (and the directory entries)."""
        for name in names:
            fd = os.open(self.root / "images" / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(self.root / "images")

    def append_records(self, records: list[dict], check: bool = True) -> None:
        """Append pairs (each with ``image`` and ``t_us``): timestamps first, then pairs.jsonl."""
        if not records:
            return
        stamps = "".join(f"{r['image_t_us']}\n" for r in records).encode()
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        if check:
            self.check_space(len(stamps) + len(lines))
        self._write_all(self._stamps, stamps)
        self._write_all(self._pairs, lines)
        self.text_bytes += len(stamps) + len(lines)

    @staticmethod
    def _write_all(f, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[f.write(view):]
        os.fsync(f.fileno())

    def _write_meta(self) -> None:
        meta = dict(format="seal_ros pairs (DSEC layout)", version=FORMAT_VERSION,
                    width=self.width, height=self.height, **self._meta)
        tmp = self.root / "meta.json.tmp"
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / "meta.json")

    def set_meta(self, **items) -> None:
        self._meta.update(items)
        self._meta.pop("width", None), self._meta.pop("height", None)
        self.width = int(items.get("width", self.width))
        self.height = int(items.get("height", self.height))
        self._write_meta()

    # -- accounting / teardown ----------------------------------------------------
    @property
    def bytes_written(self) -> int:
        if self._fsync_fd is not None:
            self._h5_size = os.fstat(self._fsync_fd).st_size
        # events not yet in the file count too (they will be written)
        h5 = max(self._h5_size, self._n_in_h5 * EVENT_BYTES) + self._n_pending * EVENT_BYTES
        return h5 + self.image_bytes + self.text_bytes

    def close(self) -> None:
        """Commit and close everything (using the reserve); safe to call after a DiskFull."""
        self.closing = True
        errors = []
        for step in (self.commit_events, self._close_h5, self._pairs.close, self._stamps.close):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - keep closing the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    def abort(self, keep_h5_open: bool = False) -> None:
        """Close without writing anything more (after a write error). ``keep_h5_open``: leave the
        HDF5 file alone (after an HDF5 error; touching it again can crash the process)."""
        self._pending, self._n_pending = [], 0
        if keep_h5_open and self._h5 is not None:
            _UNTOUCHABLE.append(self._h5)
            self._h5 = None
        for step in (self._close_h5, self._pairs.close, self._stamps.close):
            try:
                step()
            except Exception:  # noqa: BLE001
                pass

    def _close_h5(self) -> None:
        if self._fsync_fd is not None:
            self._h5_size = os.fstat(self._fsync_fd).st_size
            os.close(self._fsync_fd)
            self._fsync_fd = None
        if self._h5 is not None:
            f, self._h5 = self._h5, None
            self._ds_events, self._ds_ms, self._ds_t = [], None, None
            f.close()
