"""A background thread for fsync: durability without stalling the writer (no ROS).

``fsync`` releases the GIL, so the writing thread keeps decoding and writing
while the previous batch is made durable. Jobs run in submission order; the
first exception stops the queue and is re-raised by :meth:`check` /
:meth:`drain` on the writing thread.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Optional


class Syncer:
    def __init__(self, name: str = "recorder_fsync"):
        self._q: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    job()
            except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
                self.error = exc
            finally:
                self._q.task_done()

    def submit(self, job: Callable[[], None]) -> None:
        self.check()
        self._q.put(job)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def pending(self) -> int:
        return self._q.unfinished_tasks

    def drain(self) -> None:
        """Wait for every submitted job; raise the first error."""
        self._q.join()
        self.check()

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=60)
