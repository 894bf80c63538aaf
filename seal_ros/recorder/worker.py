"""A recording thread between ROS callbacks and the session (no ROS).

Callbacks only enqueue (``put_packet``, ``put_image``): decoding, pairing and
all disk writes happen on one worker thread, so a slow disk never blocks
message reception. The queue is unbounded: nothing received while recording
is dropped (its backlog is reported as ``queued_bytes``).
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Optional

import numpy as np

from seal_ros.events.stream import EventStream
from seal_ros.recorder.session import RecorderConfig, RecorderError, RecordingSession, make_session_dir

_POLL_S = 0.05


class RecorderWorker:
    def __init__(self):
        self._q: "queue.SimpleQueue" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._session: Optional[RecordingSession] = None
        self._last: dict = {}
        self._stream: Optional[EventStream] = None
        self.recording = False
        self.queued_bytes = 0
        self.max_queued_bytes = 0
        self.decode_errors = 0
        self.last_decode_error = ""
        self._thread = threading.Thread(target=self._run, name="pair_recorder_writer", daemon=True)
        self._running = True
        self._thread.start()

    # -- control (any thread) ---------------------------------------------------------
    def start(self, output_dir, session_name: str, config: RecorderConfig) -> str:
        """Open a new session; returns its directory. Raises RecorderError with the reason."""
        with self._lock:
            if self.recording:
                raise RecorderError(f"already recording to {self._session.path}")
            path = make_session_dir(output_dir, session_name)
            session = RecordingSession(path, config)
            self._session = session
            self._stream = EventStream()
            self.recording = True
            self._q.put(("noop",))
            return str(path)

    def stop(self, timeout_s: float = 30.0) -> dict:
        """Stop the session after everything queued before this call is written; returns its stats."""
        done = threading.Event()
        self._q.put(("stop", done))
        if not done.wait(timeout_s):
            raise RecorderError(f"the writer did not finish within {timeout_s:.0f} s (still writing)")
        return self.status()

    def put_packet(self, packet) -> None:
        if self.recording:
            self._enqueue(("pk", packet), int(packet.events.nbytes))

    def put_image(self, stamp_ns: int, image: np.ndarray, exposure=None) -> None:
        if self.recording:
            self._enqueue(("img", int(stamp_ns), image, exposure), int(image.nbytes))

    def set_meta(self, **items) -> None:
        self._q.put(("meta", items))

    def _enqueue(self, item, nbytes: int) -> None:
        with self._lock:
            self.queued_bytes += nbytes
            self.max_queued_bytes = max(self.max_queued_bytes, self.queued_bytes)
        self._q.put(item + (nbytes,))

    def status(self) -> dict:
        with self._lock:
            s = self._session
            out = dict(self._last) if s is None else s.stats()
            self._last = out
        out.update(recording=self.recording, queued_bytes=self.queued_bytes,
                   max_queued_bytes=self.max_queued_bytes, decode_errors=self.decode_errors)
        return out

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
            s = self._session
            if item is not None:
                kind = item[0]
                if kind == "quit":
                    return
                if kind == "pk":
                    self._on_packet(s, item[1])
                elif kind == "img":
                    if s is not None:
                        s.add_image(item[1], item[2], item[3])
                elif kind == "meta":
                    if s is not None and s.recording:
                        try:
                            s.writer.set_meta(**item[1])
                        except OSError:
                            pass
                elif kind == "stop":
                    self._finish(s, "stopped")
                    item[1].set()
                    continue
                if kind in ("pk", "img"):
                    with self._lock:
                        self.queued_bytes -= item[-1]
            now = time.monotonic()
            if s is not None and (item is None or now - last_poll >= _POLL_S):
                last_poll = now
                s.poll()
                if not s.recording and self.recording:
                    self._finish(s, s.stop_reason)

    def _on_packet(self, s: Optional[RecordingSession], pk) -> None:
        if s is None or not s.recording or self._stream is None:
            return
        d = self._stream.push(pk)
        if d.error:
            self.decode_errors += 1
            self.last_decode_error = d.error
        if pk.width:  # the first size is the session's; a change ends the session
            s.set_sensor_size(int(pk.width), int(pk.height))
        s.add_events(d.events, d.lost_packets, int(pk.events.nbytes))

    def _finish(self, s: Optional[RecordingSession], reason: str) -> None:
        stream = self._stream
        with self._lock:
            if self._session is s:
                self.recording = False  # callbacks stop enqueueing; what is queued is still written
        if s is not None:
            s.stop(reason)  # may wait for fsync: not under the lock (status() must not block)
        with self._lock:
            if s is not None:
                self._last = s.stats()
                if stream is not None:
                    self._last["decoder"] = stream.stats
            if self._session is s:  # (a new session may have started meanwhile)
                self._session = None
                self._stream = None
