"""The one prompt type of seal_ros, from a ROS message or a click to the predictor, and
the one granularity enumeration.

A :class:`Prompt` is a box and/or foreground/background points on the event
image, in sensor pixels (x right, y down) unless the caller says it gives them
in the model's input frame (``SealPredictor.predict(..., frame="model")``, the
evaluation's 512 x 512 frame). :meth:`Prompt.validated` is the only check;
every consumer (the prompt store, click prompter, predictor, evaluation) calls
it, so a prompt is refused with the same message wherever it comes from.

:class:`Granularity` values are the strings used by parameters and results;
:attr:`Granularity.code` is the ``seal_ros/Prompt`` message's ``GRANULARITY_*``
constant (and ``InstanceMask.granularity``).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

__all__ = ["Granularity", "VOCABULARY_GRANULARITIES", "Prompt", "PromptError", "MAX_POINTS"]

MAX_POINTS = 64


class PromptError(ValueError):
    """A prompt that cannot be used; the message says why."""


class Granularity(enum.StrEnum):
    """What a prompt asks for, and which vocabulary a result was classified against."""

    ANY = "any"  # both vocabularies at once; the result says which one won
    INSTANCE = "instance"
    PART = "part"

    @property
    def code(self) -> int:
        """The ``seal_ros/Prompt`` ``GRANULARITY_*`` value (0 any, 1 instance, 2 part)."""
        return _CODES[self]

    @classmethod
    def from_code(cls, code: int) -> "Granularity":
        for g, c in _CODES.items():
            if c == int(code):
                return g
        raise PromptError(f"granularity {code} is not 0 (any), 1 (instance) or 2 (part)")

    @classmethod
    def parse(cls, value) -> "Granularity":
        """A :class:`Granularity` from itself or its string; raises :class:`PromptError`."""
        try:
            return cls(value)
        except ValueError:
            raise PromptError(f"granularity {value!r} is not one of "
                              f"{tuple(g.value for g in cls)}") from None


_CODES = {Granularity.ANY: 0, Granularity.INSTANCE: 1, Granularity.PART: 2}
VOCABULARY_GRANULARITIES = (Granularity.INSTANCE, Granularity.PART)  # each owns a vocabulary


@dataclass(frozen=True)
class Prompt:
    id: int
    # (x0, y0, x1, y1) continuous pixels; x0 == x1 or y0 == y1 is allowed (SAM embeds the two
    # corners; the authors' box of a one-pixel-wide instance is such a box)
    box: Optional[tuple] = None
    points: Optional[np.ndarray] = field(default=None, compare=False)  # (N, 2) float32
    point_labels: Optional[np.ndarray] = field(default=None, compare=False)  # (N,) uint8, 1 fg / 0 bg
    granularity: Granularity = Granularity.INSTANCE
    persistent: bool = True  # the prompt store keeps it for every window (the predictor ignores it)

    def validated(self) -> "Prompt":
        """This prompt checked and normalised (raises :class:`PromptError`)."""
        if not 0 <= int(self.id) < 2**32:
            raise PromptError(f"prompt id {self.id} is outside uint32")
        try:
            gran = Granularity.parse(self.granularity)
        except PromptError as exc:
            raise PromptError(f"prompt {self.id}: {exc}") from None
        box = None
        if self.box is not None:
            b = [float(v) for v in self.box]
            if len(b) != 4 or not all(math.isfinite(v) for v in b):
                raise PromptError(f"prompt {self.id}: box {self.box} is not four finite numbers")
            if b[0] > b[2] or b[1] > b[3]:
                raise PromptError(f"prompt {self.id}: box {b} is inverted (need x0 <= x1 and y0 <= y1)")
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
        return replace(self, id=int(self.id), box=box, points=pts, point_labels=lbl, granularity=gran)

    def clipped(self, width: int, height: int) -> Optional["Prompt"]:
        """This prompt clipped to a ``width`` x ``height`` sensor; None when nothing of it is on the sensor."""
        box = self.box
        if box is not None:
            x0, y0 = max(0.0, box[0]), max(0.0, box[1])
            x1, y1 = min(float(width), box[2]), min(float(height), box[3])
            on = x0 <= x1 and y0 <= y1 and x0 < width and y0 < height and x1 > 0 and y1 > 0
            box = (x0, y0, x1, y1) if on else None
        pts, lbl = self.points, self.point_labels
        if pts is not None:
            inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
            pts, lbl = (pts[inside], lbl[inside]) if inside.any() else (None, None)
        if box is None and (pts is None or not (lbl == 1).any()):
            return None
        return replace(self, box=box, points=pts, point_labels=lbl)
