"""One recording session: writer + pairer + limits + error handling (no ROS).

``RecordingSession`` takes decoded events and images, writes the dataset
(``writer.DsecWriter``), pairs images with event windows (``pairing.Pairer``)
and stops cleanly when a limit is reached or the disk fails: a write error
(disk full, directory not writable, ...) becomes ``last_error``, the session
stops, and everything already listed in ``pairs.jsonl`` stays valid.
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.events.types import EventArray
from seal_ros.recorder.pairing import GapLog, Pairer, PairingConfig
from seal_ros.recorder.syncer import Syncer
from seal_ros.recorder.writer import FORMAT_VERSION, DiskFull, DsecWriter, FormatLimit, H5WriteError


class RecorderError(Exception):
    """A session that cannot start or continue; the message says why, in one line."""


@dataclass(frozen=True)
class RecorderConfig:
    window_ms: float = 50.0  # event window before the image stamp (exposure unknown)
    offset_ms: float = 0.0  # added to both window ends (image clock - event clock)
    use_exposure: bool = True  # use the exposure interval when known
    min_events: int = 0  # pairs with fewer events are skipped ("too_few_events")
    skip_empty: bool = True  # True: skip pairs with no events; False: write them, flagged "empty"
    max_bytes: int = 0  # stop when the dataset reaches this size (0: no limit)
    max_duration_s: float = 0.0  # stop after this much recorded time (0: no limit)
    reorder_ms: float = 100.0  # how long images wait for out-of-order predecessors (image time)
    stall_ms: float = 1000.0  # release an image whose events never completed after this (image time)
    commit_interval_s: float = 0.25  # events and new pairs are made durable this often
    chunk_events: int = 1 << 18
    compression: str = ""  # "", "lzf" or "gzip" for the event datasets
    min_free_mb: float = 64.0  # stop (cleanly) when free disk space would fall below this
    png_compression: int = 1

    def pairing(self) -> PairingConfig:
        return PairingConfig(
            window_ns=int(round(self.window_ms * 1e6)), offset_ns=int(round(self.offset_ms * 1e6)),
            use_exposure=self.use_exposure, reorder_ns=int(round(self.reorder_ms * 1e6)),
            stall_ns=int(round(self.stall_ms * 1e6)),
        )


NAME_MAX = 255  # bytes in one file name (Linux, macOS; os.pathconf tells the real filesystem's)
SUFFIX_ROOM = 8  # bytes kept free for the "_N" suffix of a name already taken


def session_name_problem(name: str, name_max: int = NAME_MAX) -> Optional[str]:
    """Why ``name`` cannot be a session directory name (empty means "a time stamp"), or None."""
    if not isinstance(name, str):
        return f"session_name={name!r} must be a string"
    if not name:
        return None
    if "/" in name or "\0" in name or name in (".", ".."):
        return f"session_name={name!r} must be a plain directory name (no '/', no NUL, not . or ..)"
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > name_max - SUFFIX_ROOM:
        return (f"session_name is {size} bytes long; at most {name_max - SUFFIX_ROOM} fit a file name "
                f"(NAME_MAX {name_max} less {SUFFIX_ROOM} for a _N suffix)")
    return None


def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def make_session_dir(output_dir, session_name: str = "", attempts: int = 1000) -> Path:
    """Create and return ``output_dir/session_name`` (a UTC time stamp when empty).

    The directory is claimed atomically (``mkdir``): when the name is taken,
    also by another recorder starting at the same moment, the next free
    ``name_N`` is tried, so two recorders never share a folder.
    """
    from seal_ros.io.paths import PathError, expand_path

    try:
        out = Path(expand_path(str(output_dir)))
    except PathError as exc:
        raise RecorderError(f"output directory {exc}") from None
    name = session_name or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecorderError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    problem = session_name_problem(name, _name_max(out))
    if problem is not None:
        raise RecorderError(problem)
    if not os.access(out, os.W_OK | os.X_OK):
        raise RecorderError(f"output directory {out} is not writable")
    for k in range(attempts):
        path = out / (name if k == 0 else f"{name}_{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RecorderError(f"cannot create session directory {path}: {exc.strerror or exc}") from None
    raise RecorderError(f"no free session directory name {name}_N in {out} after {attempts} tries")


class RecordingSession:
    """Write one dataset. Feed ``add_events`` / ``add_image``, call ``poll()`` often, ``stop()`` at the end."""

    def __init__(self, path, config: RecorderConfig = RecorderConfig(), width: int = 0, height: int = 0,
                 clock=time.monotonic):
        self.path = Path(path)
        self.cfg = config
        self._clock = clock
        self.state = "recording"
        self.stop_reason = ""
        self.last_error = ""
        self.skips = collections.Counter()
        self.images_received = 0
        self.images_out_of_order = 0  # stamp older than a previous image's (re-ordered, or skipped as late)
        self._newest_image_ns: Optional[int] = None
        self.pairs_written = 0
        self.raw_event_bytes = 0
        self.lost_packets = 0
        self._gaps = GapLog()
        self._pairer = Pairer(config.pairing())
        self._last_commit = clock()
        self._first_stamp_us: Optional[int] = None
        self._dirty = False
        self._prev_written = True
        self._staged: list[dict] = []  # pairs whose PNG is written, not yet listed
        meta = dict(created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(), config=asdict(config))
        try:
            self.writer = DsecWriter(self.path, width, height, chunk_events=config.chunk_events,
                                     compression=config.compression or None,
                                     png_compression=config.png_compression, meta=meta,
                                     min_free_bytes=int(config.min_free_mb * 1e6))
        except FileExistsError:
            raise RecorderError(f"session directory {self.path} already exists") from None
        except OSError as exc:
            raise RecorderError(f"cannot create session directory {self.path}: {exc.strerror or exc}") from None
        self._syncer = Syncer()

    @property
    def recording(self) -> bool:
        return self.state == "recording"

    def set_sensor_size(self, width: int, height: int) -> None:
        """Event-sensor size, from every packet (goes into meta.json and the HDF5 attributes).

        The first size is the session's; a different size later ends the session
        (``sensor_size_changed``): stored coordinates must always fit the stored size.
        """
        width, height = int(width), int(height)
        w = self.writer
        if (width, height) == (w.width, w.height) or not self.recording:
            return
        if w.width or w.height:
            self._stop_now("sensor_size_changed", f"the sensor size changed from {w.width}x{w.height} to "
                           f"{width}x{height} during the session; start a new session for the new sensor")
            return
        w.width, w.height = width, height
        try:
            w.set_meta(width=width, height=height)
        except OSError as exc:
            self._fail(exc)

    # -- input ------------------------------------------------------------------
    def add_events(self, events: EventArray, lost_packets: int = 0, raw_bytes: int = 0) -> None:
        if not self.recording:
            return
        self.raw_event_bytes += int(raw_bytes)
        self.lost_packets += int(lost_packets)
        before = self.writer.last_event_us
        first = int(events.t.min()) // 1000 if len(events) else None
        self._gaps.on_batch(lost_packets, first, before)
        try:
            self.writer.append_events(events)
        except FormatLimit as exc:
            self._stop_now("format_limit", str(exc))
            return
        except (OSError, RuntimeError) as exc:
            self._fail(exc)
            return
        self._dirty = True

    def add_image(self, stamp_ns: int, image: np.ndarray, exposure: Optional[tuple] = None) -> None:
        if not self.recording:
            return
        self.images_received += 1
        if self._newest_image_ns is not None and stamp_ns < self._newest_image_ns:
            self.images_out_of_order += 1
        else:
            self._newest_image_ns = int(stamp_ns)
        image = np.asarray(image)
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            self._skip("bad_image")
            return
        reason = self._pairer.add(stamp_ns, image, exposure)
        if reason is not None:
            self._skip(reason)
        elif self._first_stamp_us is None:
            self._first_stamp_us = int(stamp_ns) // 1000

    def _skip(self, reason: str) -> None:
        self.skips[reason] += 1
        if reason != "duplicate":  # a repeated stamp loses no image
            self._prev_written = False

    # -- processing -----------------------------------------------------------------
    def poll(self, force: bool = False) -> int:
        """Pair the images that are ready; every ``commit_interval_s`` (or with ``force``) make the
        events and the new pairs durable and list them. Checks limits. Returns pairs listed."""
        if not self.recording:
            return 0
        try:
            self._syncer.check()
            self._stage_pairs(self._pairer.release(self.writer.last_event_us, force=force))
            n = 0
            if force or self._clock() - self._last_commit >= self.cfg.commit_interval_s:
                n = self._commit()
        except (OSError, RuntimeError) as exc:
            self._fail(exc)
            return 0
        self._check_limits()
        return n

    def _stage_pairs(self, released) -> None:
        w = self.writer
        for item, stalled in released:
            if w.t_offset is not None and item.t0_us < w.t_offset:
                self._skip("before_first_event")  # the window started before recording did
                continue
            i0, i1 = w.index_of(item.t0_us), w.index_of(item.t1_us)
            count = i1 - i0
            if count == 0 and self.cfg.skip_empty:
                self._skip("no_events")
                continue
            if 0 < count < self.cfg.min_events:
                self._skip("too_few_events")
                continue
            if stalled:  # late events of this window would fall outside its index range
                w.raise_floor(item.t1_us)
            lost = self._gaps.lost_in(item.t0_us, item.t1_us)
            name = w.write_image(item.image, sync=False)
            self._staged.append(dict(
                image=f"images/{name}", image_index=w.n_images - 1, image_t_us=item.stamp_ns // 1000,
                t0_us=item.t0_us, t1_us=item.t1_us, event_index=[i0, i1], event_count=count,
                flags=dict(lost_packets=lost, image_dropped=bool(item.image_dropped or not self._prev_written),
                           exposure_known=item.exposure_known, empty=count == 0, stalled=bool(stalled)),
            ))
            self._prev_written = True

    def _commit(self) -> int:
        """Flush the events to the file, then (on the fsync thread) fsync the PNGs and events.h5
        and only then append the staged pairs' lines (fsync'd). Returns the pairs handed over."""
        w, staged = self.writer, self._staged
        self._syncer.check()
        if staged or self._dirty:
            text = sum(len(json.dumps(r)) + 24 for r in staged)
            w.check_space(text)  # in this thread: a DiskFull here still closes cleanly
            upto = w.flush_events()
            names = [r["image"][len("images/"):] for r in staged]

            def job(names=names, records=staged, upto=upto):
                if names:
                    w.sync_images(names)
                w.fsync_events(upto)
                if records:
                    w.append_records(records, check=False)
                    self.pairs_written += len(records)

            self._syncer.submit(job)
        self._last_commit, self._dirty = self._clock(), False
        self._staged = []
        return len(staged)

    def _check_limits(self) -> None:
        if self.cfg.max_bytes and self.writer.bytes_written >= self.cfg.max_bytes:
            self._stop_now("max_bytes", "")
        elif self.cfg.max_duration_s and self.duration_s >= self.cfg.max_duration_s:
            self._stop_now("max_duration", "")

    @property
    def duration_s(self) -> float:
        w = self.writer
        spans = []
        if w.t_offset is not None and w.last_event_us is not None:
            spans.append(w.last_event_us - w.t_offset)
        if self._first_stamp_us is not None and self._pairer.newest_stamp_ns is not None:
            spans.append(self._pairer.newest_stamp_ns // 1000 - self._first_stamp_us)
        return max(spans, default=0) / 1e6

    # -- ending -----------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Pair what is still pending (with the events so far), close the files."""
        if not self.recording:
            return
        self.poll(force=True)
        if self.recording:
            self._stop_now(reason, "")

    def _stop_now(self, reason: str, error: str) -> None:
        try:
            self._commit()  # what is staged is complete: list it
            self._syncer.drain()
        except (OSError, RuntimeError) as exc:
            self._fail(exc)
            return
        n = self._pairer.drop_all()
        if n:
            self.skips["recording_stopped"] += n
        self.state, self.stop_reason = "stopped", reason
        if error:
            self.last_error = error
        try:
            self.writer.set_meta(stop_reason=reason, format_version=FORMAT_VERSION)
            self.writer.close()
        except (OSError, RuntimeError) as exc:
            self._fail(exc, closing=True)
        self._syncer.close()

    def _fail(self, exc: BaseException, closing: bool = False) -> None:
        if isinstance(exc, DiskFull) and not closing and not self.writer.closing:
            # raised before any write failed: close everything cleanly
            self.writer.closing = True  # the reserve is for this
            n_ok = self.writer.discard_pending()  # events not in the file yet would not fit
            kept = []  # a prefix: images/timestamps.txt line k must stay image k
            for r in self._staged:
                if r["event_index"][1] > n_ok:
                    break
                kept.append(r)
            if len(kept) < len(self._staged):
                self.skips["disk_full"] += len(self._staged) - len(kept)
            self._staged = kept
            self.last_error = f"{exc.strerror} on {exc.filename}"
            self._stop_now("disk_full", self.last_error)
            if self.state == "stopped":
                self.state = "failed"
            return
        what = getattr(exc, "strerror", None) or str(exc)
        fname = getattr(exc, "filename", None)
        self.last_error = f"write failed{' while closing' if closing else ''} in {self.path}: " + (
            f"{fname}: {what}" if fname else what)
        self.state, self.stop_reason = "failed", "write_error"
        try:  # let queued fsync jobs finish (their pairs are complete) before closing descriptors
            self._syncer.drain()
        except BaseException:  # noqa: BLE001 - the first error is the one reported
            pass
        self._syncer.close()
        self.skips["write_failed"] += len(self._staged)
        self._staged = []
        n = self._pairer.drop_all()
        if n:
            self.skips["recording_stopped"] += n
        self.writer.abort(keep_h5_open=isinstance(exc, H5WriteError))

    def stats(self) -> dict:
        w = self.writer
        return dict(
            state=self.state, stop_reason=self.stop_reason, last_error=self.last_error, path=str(self.path),
            pairs_written=self.pairs_written, events_written=w.n_events, events_durable=w.n_durable,
            bytes_written=w.bytes_written, raw_event_bytes=self.raw_event_bytes, lost_packets=self.lost_packets,
            events_out_of_order=w.events_out_of_order, events_out_of_range=w.events_out_of_range,
            pending_images=len(self._pairer), images_received=self.images_received,
            images_out_of_order=self.images_out_of_order,
            skips=dict(self.skips), duration_s=self.duration_s,
        )
