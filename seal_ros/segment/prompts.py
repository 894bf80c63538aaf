"""The prompt store: what the segmenter answers on every event window.

A prompt (:class:`seal_ros.seal.prompt.Prompt`, the one prompt type) is a box
and/or foreground/background points on the event image, in sensor pixels (x
right, y down). *Persistent* prompts are answered on every
window until cleared or replaced (same id); *one-shot* prompts on the next
window only. With tracking on, a persistent box prompt follows its object: after
each window its box becomes the box of the mask it produced.

Thread-safe: ROS callbacks add prompts while the inference thread takes them.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Iterable

import numpy as np

from seal_ros.seal.prompt import MAX_POINTS, Granularity, Prompt, PromptError

__all__ = ["Prompt", "PromptError", "PromptStore", "prompt_from_msg", "MAX_PROMPTS", "MAX_POINTS"]

MAX_PROMPTS = 64


def prompt_from_msg(msg) -> Prompt:
    """Build from a ``seal_ros/Prompt`` message (duck-typed; raises :class:`PromptError`)."""
    try:
        gran = Granularity.from_code(msg.granularity)
    except PromptError as exc:
        raise PromptError(f"prompt {msg.id}: {exc}") from None
    pts = np.array([(p.x, p.y) for p in msg.points], np.float32).reshape(-1, 2) if len(msg.points) else None
    labels = np.frombuffer(bytes(msg.point_labels), np.uint8) if len(msg.point_labels) else None
    return Prompt(
        id=int(msg.id), box=tuple(float(v) for v in msg.box) if msg.has_box else None,
        points=pts, point_labels=labels, granularity=gran, persistent=bool(msg.persistent),
    ).validated()


class PromptStore:
    """Prompts by id; ``take()`` hands out the prompts for one window."""

    def __init__(self, max_prompts: int = MAX_PROMPTS, track: bool = False, track_margin: float = 0.0):
        self.max_prompts = max_prompts
        self.track = track
        self.track_margin = track_margin  # fraction of the box size added on each side when tracking
        self._lock = threading.Lock()
        self._prompts: dict[int, Prompt] = {}
        self.version = 0  # bumped on every change

    def __len__(self) -> int:
        with self._lock:
            return len(self._prompts)

    def put(self, prompts: Iterable[Prompt]) -> None:
        """Add or replace (same id) prompts; refuses the whole batch when the store would overflow."""
        prompts = [p.validated() for p in prompts]
        with self._lock:
            new_ids = {p.id for p in prompts} - set(self._prompts)
            if len(self._prompts) + len(new_ids) > self.max_prompts:
                raise PromptError(
                    f"{len(new_ids)} new prompts would exceed the limit of {self.max_prompts}"
                    f" ({len(self._prompts)} held); clear some first")
            for p in prompts:
                self._prompts[p.id] = p
            self.version += 1

    def remove(self, prompt_id: int) -> bool:
        with self._lock:
            found = self._prompts.pop(int(prompt_id), None) is not None
            self.version += found
            return found

    def clear(self) -> int:
        """Drop every prompt; returns how many there were."""
        with self._lock:
            n = len(self._prompts)
            self._prompts.clear()
            self.version += 1
            return n

    def snapshot(self) -> list[Prompt]:
        with self._lock:
            return list(self._prompts.values())

    def take(self) -> list[Prompt]:
        """The prompts to answer on this window; one-shot prompts leave the store."""
        with self._lock:
            out = list(self._prompts.values())
            for p in out:
                if not p.persistent:
                    del self._prompts[p.id]
            if any(not p.persistent for p in out):
                self.version += 1
            return out

    def follow(self, answered: list[Prompt], boxes: dict) -> int:
        """Tracking: move each answered persistent box prompt to its result's box.

        ``boxes`` maps prompt id -> (x0, y0, x1, y1) of the mask it produced (absent
        or None: no mask, the prompt stays where it was). A prompt replaced or
        removed since it was taken is left alone. Returns how many moved.
        """
        if not self.track:
            return 0
        moved = 0
        with self._lock:
            for p in answered:
                box = boxes.get(p.id)
                cur = self._prompts.get(p.id)
                if box is None or p.box is None or not p.persistent or cur is not p:
                    continue
                x0, y0, x1, y1 = (float(v) for v in box)
                mx, my = (x1 - x0) * self.track_margin, (y1 - y0) * self.track_margin
                self._prompts[p.id] = replace(p, box=(x0 - mx, y0 - my, x1 + mx, y1 + my))
                moved += 1
            self.version += bool(moved)
        return moved
