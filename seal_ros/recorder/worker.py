"""A recording thread between ROS callbacks and the session (no ROS).

Callbacks only enqueue (``put_packet``, ``put_image``): decoding, pairing and
all disk writes happen on one worker thread, so a slow disk never blocks
message reception. The queue holds at most ``max_queue_bytes`` (payloads and
pixels); what arrives beyond that is dropped and counted
(``dropped_queue_full_packets``, ``dropped_queue_full_images``; a dropped
packet also shows as a lost packet, so the pairs around it are flagged).

Packets go through :class:`seal_ros.events.source.PacketIngest`, the path every
node uses: restarts, time discontinuities and outliers, event caps. A session
holds one continuous timeline: when the stream starts a new one (``seq`` went
back, a confirmed time jump, a new sensor size) the session ends (stop reason
``restart``, ``time_jump`` or ``size_change``) and the next one opens in the
same output directory (``NAME_1``, ...), so nothing is dropped for being out
of order.

Clock: with ``stamp_source`` ``header`` image stamps (ROS time) are mapped into
the event clock with the offset estimated from the packets' header stamps, so
images and events pair in one clock and the whole dataset is in the event clock
(``meta.json`` ``clock`` holds the offset to add for ROS time); with ``sensor``
image stamps are taken as event-clock times. Images further than
``max_time_jump_s`` from the event stream's time are skipped (``off_timeline``),
as are images before the first packet (``before_clock``).
"""
from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Optional

import numpy as np

from seal_ros.events.source import INGEST_PROBLEM_COUNTERS as INGEST_PROBLEMS, IngestConfig, PacketIngest
from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession, make_session_dir

_POLL_S = 0.05
_ITEM_OVERHEAD = 512  # bytes counted per queued message besides its payload
DEFAULT_MAX_QUEUE_BYTES = 512 << 20
PROBLEM_COUNTERS = INGEST_PROBLEMS + ("dropped_queue_full_packets", "dropped_queue_full_images",
                                      "skipped_off_timeline", "skipped_before_clock", "internal_errors")


class RecorderWorker:
    def __init__(self, max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES):
        self._q: "queue.SimpleQueue" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._session: Optional[RecordingSession] = None
        self._last: dict = {}
        self._ingest: Optional[PacketIngest] = None
        self._target = None  # (output_dir, session_name, RecorderConfig) of the recording
        self.recording = False
        self.max_queue_bytes = int(max_queue_bytes)
        self.queued_bytes = 0
        self.max_queued_bytes = 0
        self.counts = dict(packets_in=0, images_in=0, dropped_queue_full_packets=0, dropped_queue_full_images=0,
                           skipped_off_timeline=0, skipped_before_clock=0, sessions=0, internal_errors=0)
        self._ingest_totals: dict = {}
        self.last_error = ""
        self._notes: collections.deque = collections.deque(maxlen=32)  # restarts, time jumps: for the log
        self._thread = threading.Thread(target=self._run, name="pair_recorder_writer", daemon=True)
        self._running = True
        self._thread.start()

    # -- control (any thread) ---------------------------------------------------------
    def start(self, output_dir, session_name: str, config: RecorderConfig,
              ingest: IngestConfig = IngestConfig()) -> str:
        """Open a new session; returns its directory. Raises RecorderError with the reason."""
        with self._lock:
            if self.recording:
                raise RecorderError(f"already recording to {self._session.path}")
            session = self._open(output_dir, session_name, config)
            self._fold_ingest()
            self._ingest = PacketIngest(ingest)
            self._target = (output_dir, session_name, config)
            self._session = session
            self.recording = True
            self._q.put(("noop",))
            return str(session.path)

    def _open(self, output_dir, session_name, config) -> RecordingSession:
        path = make_session_dir(output_dir, session_name)
        session = RecordingSession(path, config)
        self.counts["sessions"] += 1
        return session

    def stop(self, timeout_s: float = 30.0) -> dict:
        """Stop the session after everything queued before this call is written; returns its stats."""
        done = threading.Event()
        self._q.put(("stop", done))
        if not done.wait(timeout_s):
            raise RecorderError(f"the writer did not finish within {timeout_s:.0f} s (still writing)")
        return self.status()

    def put_packet(self, packet) -> None:
        if self.recording:
            self.counts["packets_in"] += 1
            self._enqueue(("pk", packet), int(packet.events.nbytes), "packets")

    def put_image(self, stamp_ns: int, image: np.ndarray, exposure=None) -> None:
        if self.recording:
            self.counts["images_in"] += 1
            self._enqueue(("img", int(stamp_ns), image, exposure), int(image.nbytes), "images")

    def take_notes(self) -> list:
        """The stream notes (restarts, time jumps, dropped outliers) since the previous call."""
        out = []
        while self._notes:
            out.append(self._notes.popleft())
        return out

    def set_meta(self, **items) -> None:
        self._q.put(("meta", items))

    def _enqueue(self, item, nbytes: int, kind: str) -> None:
        nbytes += _ITEM_OVERHEAD
        with self._lock:
            if self.queued_bytes + nbytes > self.max_queue_bytes:
                self.counts[f"dropped_queue_full_{kind}"] += 1
                return
            self.queued_bytes += nbytes
            self.max_queued_bytes = max(self.max_queued_bytes, self.queued_bytes)
        self._q.put(item + (nbytes,))

    def status(self) -> dict:
        with self._lock:
            s = self._session
            out = dict(self._last) if s is None else s.stats()
            self._last = out
        out.update(recording=self.recording, queued_bytes=self.queued_bytes,
                   max_queued_bytes=self.max_queued_bytes, decode_errors=self.counters().get("bad_packets", 0))
        if self.last_error and not out.get("last_error"):
            out["last_error"] = self.last_error
        return out

    def counters(self) -> dict:
        """The event input's counters (summed over recordings) and the worker's own."""
        out = dict(self._ingest_totals)
        ing = self._ingest
        if ing is not None:
            for k, v in ing.counters().items():
                out[k] = v if k in ("clock_offset_s", "max_time_jump_s", "last_time_jump_s", "held_events") \
                    else out.get(k, 0) + v
        out.update(self.counts)
        out["queued_bytes"] = self.queued_bytes
        return out

    def _fold_ingest(self) -> None:
        if self._ingest is not None:
            self._ingest_totals = self.counters()
            for k in self.counts:
                self._ingest_totals.pop(k, None)
            self._ingest = None

    def shutdown(self, timeout_s: float = 30.0) -> None:
        if self._running:
            try:
                self.stop(timeout_s)
            except RecorderError:
                pass
            self._running = False
            self._q.put(("quit",))
            self._thread.join(timeout_s)

    # -- worker thread -------------------------------------------------------------------
    @staticmethod
    def _warm_up() -> None:
        """Compile the JIT decoders now, not on the first packet of a recording (~1 s of backlog)."""
        from seal_ros.events.packet import EventPacket
        from seal_ros.events.stream import EventStream

        for enc in ("evt3", "libcaer_cmp"):
            try:
                EventStream().push(EventPacket(enc, 64, 64, 1, 0, np.zeros(16, np.uint8)))
            except Exception:  # noqa: BLE001 - only an optimisation
                pass

    def _run(self) -> None:
        self._warm_up()
        last_poll = time.monotonic()
        while True:
            try:
                item = self._q.get(timeout=_POLL_S)
            except queue.Empty:
                item = None
            if item is not None and item[0] == "quit":
                return
            try:
                last_poll = self._step(item, last_poll)
            except Exception as exc:  # noqa: BLE001 - the writer thread must outlive any input
                self.counts["internal_errors"] += 1
                self.last_error = f"recorder: {type(exc).__name__}: {exc}"
            finally:
                if item is not None and item[0] in ("pk", "img"):
                    with self._lock:
                        self.queued_bytes -= item[-1]

    def _step(self, item, last_poll: float) -> float:
        s = self._session
        if item is not None:
            kind = item[0]
            if kind == "pk":
                self._on_packet(s, item[1])
            elif kind == "img":
                self._on_image(s, item[1], item[2], item[3])
            elif kind == "meta":
                if s is not None and s.recording:
                    try:
                        s.writer.set_meta(**item[1])
                    except OSError:
                        pass
            elif kind == "stop":
                self._finish(self._session, "stopped")
                item[1].set()
                return last_poll
        s = self._session
        now = time.monotonic()
        if s is not None and (item is None or now - last_poll >= _POLL_S):
            last_poll = now
            s.poll()
            if not s.recording and self.recording:
                self._finish(s, s.stop_reason)
        return last_poll

    def _on_packet(self, s: Optional[RecordingSession], pk) -> None:
        ing = self._ingest
        if s is None or not s.recording or ing is None:
            return
        res = ing.push(pk)
        self._notes.extend(res.notes)
        raw = int(pk.events.nbytes)
        for b in res.batches:
            if b.resync and b.resync != "reset":
                s = self._rotate(b.resync)
                if s is None:
                    return
            if b.width:  # the first size is the session's; a change ends the session
                s.set_sensor_size(b.width, b.height)
            s.add_events(b.events, b.lost_packets, raw)
            raw = 0

    def _on_image(self, s: Optional[RecordingSession], stamp_ns: int, image, exposure) -> None:
        ing = self._ingest
        if s is None or not s.recording or ing is None:
            return
        m = ing.mapper
        t = m.to_sensor(stamp_ns)
        if t is None:
            self.counts["skipped_before_clock"] += 1
            s._skip("before_clock")  # noqa: SLF001 - a skip like the session's own (flags the next pair)
            return
        now = ing.guard.reference_ns
        if now is not None and abs(t - now) > ing.guard.max_jump_ns:
            self.counts["skipped_off_timeline"] += 1
            s._skip("off_timeline")  # noqa: SLF001
            return
        shift = t - int(stamp_ns)
        if exposure is not None:
            exposure = (int(exposure[0]) + shift, int(exposure[1]) + shift)
        s.add_image(t, image, exposure)

    def _rotate(self, reason: str) -> Optional[RecordingSession]:
        """End the session at a new timeline and open the next one; None if that failed (recording stops)."""
        old = self._session
        self._finish_session(old, reason)
        out, name, cfg = self._target
        try:
            new = self._open(out, name, cfg)
        except RecorderError as exc:
            self.last_error = f"cannot continue after {reason}: {exc}"
            with self._lock:
                self.recording = False
                self._last = old.stats()
                self._session = None
            return None
        with self._lock:
            self._session = new
        return new

    def _finish_session(self, s: RecordingSession, reason: str) -> None:
        ing = self._ingest
        if s.recording and ing is not None:
            off = ing.mapper.offset
            try:
                s.writer.set_meta(clock=dict(stamp_source=ing.mapper.source,
                                             ros_minus_event_ns=off if ing.mapper.source == "header" else 0))
            except OSError:
                pass
        s.stop(reason)  # may wait for fsync: not under the lock (status() must not block)

    def _finish(self, s: Optional[RecordingSession], reason: str) -> None:
        with self._lock:
            if self._session is s:
                self.recording = False  # callbacks stop enqueueing; what is queued is still written
        if s is not None:
            self._finish_session(s, reason)
        with self._lock:
            if s is not None:
                self._last = s.stats()
                self._last["decoder"] = self.counters()
            if self._session is s:  # (a new session may have started meanwhile)
                self._session = None
