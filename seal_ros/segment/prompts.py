"""The prompt store: what the segmenter answers on every event window.

A prompt is a box and/or foreground/background points on the event image, in
sensor pixels (x right, y down). *Persistent* prompts are answered on every
window until cleared or replaced (same id); *one-shot* prompts on the next
window only. With tracking on, a persistent box prompt follows its object: after
each window its box becomes the box of the mask it produced.

Thread-safe: ROS callbacks add prompts while the inference thread takes them.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

import numpy as np

GRANULARITIES = ("any", "instance", "part")  # index = Prompt.msg GRANULARITY_* value
MAX_PROMPTS = 64
MAX_POINTS = 64


class PromptError(ValueError):
    """A prompt that cannot be used; the message says why."""


@dataclass(frozen=True)
class Prompt:
    id: int
    box: Optional[tuple] = None  # (x0, y0, x1, y1) continuous sensor pixels, x1/y1 exclusive
    points: Optional[np.ndarray] = field(default=None, compare=False)  # (N, 2) float32
    point_labels: Optional[np.ndarray] = field(default=None, compare=False)  # (N,) uint8, 1 fg / 0 bg
    granularity: str = "instance"
    persistent: bool = True

    def validated(self) -> "Prompt":
        """This prompt checked and normalised (raises :class:`PromptError`)."""
        if not 0 <= int(self.id) < 2**32:
            raise PromptError(f"prompt id {self.id} is outside uint32")
        if self.granularity not in GRANULARITIES:
            raise PromptError(f"prompt {self.id}: granularity {self.granularity!r} is not one of {GRANULARITIES}")
        box = None
        if self.box is not None:
            b = [float(v) for v in self.box]
            if len(b) != 4 or not all(math.isfinite(v) for v in b):
                raise PromptError(f"prompt {self.id}: box {self.box} is not four finite numbers")
            if b[0] >= b[2] or b[1] >= b[3]:
                raise PromptError(f"prompt {self.id}: box {b} is empty or inverted (need x0 < x1 and y0 < y1)")
            box = tuple(b)
        pts = lbl = None
        if self.points is not None and len(self.points):
            pts = np.asarray(self.points, np.float32).reshape(-1, 2)
            if len(pts) > MAX_POINTS:
                raise PromptError(f"prompt {self.id}: {len(pts)} points; at most {MAX_POINTS}")
            if not np.isfinite(pts).all():
                raise PromptError(f"prompt {self.id}: points are not finite")
            lbl = np.ones(len(pts), np.uint8) if self.point_labels is None or len(self.point_labels) == 0 \
                else np.asarray(self.point_labels).astype(np.int64).reshape(-1)
            if len(lbl) != len(pts):
                raise PromptError(f"prompt {self.id}: {len(pts)} points but {len(lbl)} point labels")
            if not np.isin(lbl, (0, 1)).all():
                raise PromptError(f"prompt {self.id}: point labels must be 0 (background) or 1 (foreground)")
            lbl = lbl.astype(np.uint8)
        if box is None and pts is None:
            raise PromptError(f"prompt {self.id}: neither a box nor points")
        return replace(self, id=int(self.id), box=box, points=pts, point_labels=lbl)

    def clipped(self, width: int, height: int) -> Optional["Prompt"]:
        """This prompt clipped to a ``width`` x ``height`` sensor; None when nothing of it is on the sensor."""
        box = self.box
        if box is not None:
            x0, y0 = max(0.0, box[0]), max(0.0, box[1])
            x1, y1 = min(float(width), box[2]), min(float(height), box[3])
            box = (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None
        pts, lbl = self.points, self.point_labels
        if pts is not None:
            inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
            pts, lbl = (pts[inside], lbl[inside]) if inside.any() else (None, None)
        if box is None and (pts is None or not (lbl == 1).any()):
            return None
        return replace(self, box=box, points=pts, point_labels=lbl)


def prompt_from_msg(msg) -> Prompt:
    """Build from a ``seal_ros/Prompt`` message (duck-typed; raises :class:`PromptError`)."""
    g = int(msg.granularity)
    if not 0 <= g < len(GRANULARITIES):
        raise PromptError(f"prompt {msg.id}: granularity {g} is not 0 (any), 1 (instance) or 2 (part)")
    pts = np.array([(p.x, p.y) for p in msg.points], np.float32).reshape(-1, 2) if len(msg.points) else None
    labels = np.frombuffer(bytes(msg.point_labels), np.uint8) if len(msg.point_labels) else None
    return Prompt(
        id=int(msg.id), box=tuple(float(v) for v in msg.box) if msg.has_box else None,
        points=pts, point_labels=labels, granularity=GRANULARITIES[g], persistent=bool(msg.persistent),
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
