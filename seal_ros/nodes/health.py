"""How a node judges its own health, without ROS: counted errors, silent topics, status level.

One convention for every node's ``/diagnostics`` status (published by
:class:`seal_ros.nodes.common.Diagnostics`):

- **level** OK; WARN when a *problem counter* (one that counts lost, refused
  or discontinuous data, or a counted error) rose since the previous status,
  or an input topic has been silent longer than its bound; ERROR when the node
  reports a *fault* (a model that failed to load, a recording stopped by an
  error): the value under the key ``fault``, non-empty;
- **message** in words: ``ok``, or what happened since the previous status,
  e.g. ``bad packets +3 (12 in total); no message on /event_camera/events for 6.2 s``;
- **values**: every counter as a key (see :func:`status_values`).
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable, Optional

OK, WARN, ERROR = 0, 1, 2
LEVEL_NAMES = {OK: "ok", WARN: "warning", ERROR: "error"}


class ErrorCounter:
    """Counts bad input by kind and logs it, throttled per kind, without stopping the node.

    Each kind has its own throttle, so a flood of one kind (bad prompts) never
    hides the first report of another (bad clicks). A report that is not
    logged is still counted, and the next logged line of its kind says how many
    were not logged.
    """

    def __init__(self, logger, throttle_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._throttle = float(throttle_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._unlogged = collections.Counter()
        self.counts = collections.Counter()

    def report(self, kind: str, message: str) -> bool:
        """Count one ``kind``; log ``message`` unless this kind was logged within the throttle.
        Returns whether it was logged."""
        now = self._clock()
        with self._lock:
            self.counts[kind] += 1
            last = self._last_logged.get(kind)
            if last is not None and now - last < self._throttle:
                self._unlogged[kind] += 1
                return False
            self._last_logged[kind] = now
            skipped, self._unlogged[kind] = self._unlogged[kind], 0
            total = self.counts[kind]
        more = f", {skipped} more since the last line" if skipped else ""
        self._logger.error(f"{message} [{kind}: {total} so far{more}]")
        return True

    def values(self) -> dict:
        """``err_<kind>`` -> count, for the status values (all problem counters)."""
        with self._lock:
            return {f"err_{k}": v for k, v in sorted(self.counts.items())}


class TopicWatch:
    """When each input topic last delivered a message; which are silent for longer than a bound.

    ``seen(name)`` from the subscription callback (before anything can return
    early); ``silent()`` lists ``(topic, seconds)`` for topics silent longer than
    ``timeout_s`` (counted from start-up for a topic that never delivered).
    ``timeout_s`` 0 disables the check.
    """

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.timeout_s = float(timeout_s)
        self._clock = clock
        self._start = clock()
        self._topics: dict[str, str] = {}
        self._last: dict[str, Optional[float]] = {}
        self.messages = collections.Counter()

    def watch(self, name: str, topic: str) -> None:
        self._topics[name] = topic
        self._last.setdefault(name, None)

    def seen(self, name: str) -> None:
        self._last[name] = self._clock()
        self.messages[name] += 1

    def wrap(self, name: str, topic: str, callback: Callable) -> Callable:
        """``callback`` that first marks ``name`` as seen (for ``create_subscription``)."""
        self.watch(name, topic)

        def marked(msg):
            self.seen(name)
            return callback(msg)

        return marked

    def silent(self) -> list[tuple[str, float]]:
        if self.timeout_s <= 0:
            return []
        now = self._clock()
        out = []
        for name, topic in self._topics.items():
            last = self._last.get(name)
            age = now - (self._start if last is None else last)
            if age > self.timeout_s:
                out.append((topic, age))
        return out


def _words(key: str) -> str:
    return key[4:].replace("_", " ") + " errors" if key.startswith("err_") else key.replace("_", " ")


class HealthJudge:
    """Level and message of successive statuses from the counters (see the module docstring)."""

    def __init__(self, problem_keys: Iterable[str] = ()):
        self.problem_keys = tuple(problem_keys)
        self._previous: dict = {}

    def judge(self, values: dict, silent: Iterable[tuple[str, float]] = ()) -> tuple[int, str]:
        keys = list(self.problem_keys) + [k for k in values if k.startswith("err_") and k not in self.problem_keys]
        parts = []
        for key in keys:
            now = values.get(key, 0)
            if not isinstance(now, (int, float)) or isinstance(now, bool):
                continue
            rise = now - self._previous.get(key, 0)
            if rise > 0:
                parts.append(f"{_words(key)} +{_num(rise)} ({_num(now)} in total)")
        self._previous = {k: values.get(k, 0) for k in keys}
        parts += [f"no message on {topic} for {age:.1f} s" for topic, age in silent]
        fault = str(values.get("fault", "") or "")
        if fault:
            return ERROR, "; ".join([fault] + parts)
        return (WARN, "; ".join(parts)) if parts else (OK, "ok")


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def status_values(values: dict) -> list[tuple[str, str]]:
    """Every value as a ``(key, text)`` pair, in a stable order (dict order)."""
    return [(str(k), _num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
            for k, v in values.items()]
