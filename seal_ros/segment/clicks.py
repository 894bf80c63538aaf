"""Clicks -> prompts: RViz2 "Publish Point" on the image plane, rqt_image_view clicks.

``click_mode``:
- ``box``: two clicks are opposite corners of a box prompt (any order; the
  first is held as "pending" until the second arrives);
- ``point``: every click is a one-point (foreground) prompt.

A click lands on a pixel; a box spans from the pixel of one corner to the pixel
of the other, both included: clicks on pixels (u0, v0) and (u1, v1) give
``box = (min u, min v, max u + 1, max v + 1)`` in the continuous pixel
coordinates prompts use (pixel u covers [u, u + 1)); a point click is the
clicked pixel's centre (u + 0.5, v + 0.5). Click prompts are persistent and get
ids from :data:`CLICK_ID_BASE` up, so they never collide with ids chosen by
programs publishing on ``~/prompts`` (keep those below 2**31).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Optional

import numpy as np

from seal_ros.segment.plane import PlaneGeometry
from seal_ros.segment.prompts import Prompt

MODES = ("box", "point")
CLICK_ID_BASE = 2**31


class ClickError(ValueError):
    """A click that does not make a prompt; the message says why."""


def plane_click_to_pixel(geometry: PlaneGeometry, x: float, y: float, frame_id: str = "") -> tuple[int, int]:
    """The pixel (u, v) under a Publish Point click at (x, y) in ``frame_id`` (raises :class:`ClickError`)."""
    if frame_id and frame_id.lstrip("/") != geometry.frame_id.lstrip("/"):
        raise ClickError(
            f"click in frame {frame_id!r}, but the image plane is in {geometry.frame_id!r}:"
            f" set RViz2's Fixed Frame to {geometry.frame_id!r}")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ClickError(f"click at non-finite position ({x}, {y})")
    u, v = geometry.world_to_pixel(x, y)
    return _pixel(u, v, geometry.width, geometry.height)


def image_click_to_pixel(x: float, y: float, width: int, height: int) -> tuple[int, int]:
    """The pixel under an rqt_image_view click at image coordinates (x, y)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ClickError(f"click at non-finite position ({x}, {y})")
    return _pixel(x, y, width, height)


def _pixel(u: float, v: float, width: int, height: int) -> tuple[int, int]:
    col, row = math.floor(u), math.floor(v)
    if not (0 <= col < width and 0 <= row < height):
        raise ClickError(f"click at pixel ({u:.1f}, {v:.1f}) is outside the {width}x{height} image")
    return int(col), int(row)


class ClickPrompter:
    """Turns pixel clicks into prompts according to the click mode."""

    def __init__(self, mode: str = "box", granularity: str = "instance", pending_timeout_s: float = 0.0,
                 clock=time.monotonic):
        self._lock = threading.Lock()
        self.mode = mode
        self.granularity = granularity
        self.pending_timeout_s = pending_timeout_s  # 0: a first corner waits forever
        self._clock = clock
        self._pending: Optional[tuple[int, int, float]] = None
        self._next_id = CLICK_ID_BASE

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"click_mode {mode!r} is not one of {MODES}")
        with self._lock:
            self._mode = mode
            self._pending = None

    @property
    def pending(self) -> Optional[tuple[int, int]]:
        """The first box corner waiting for its partner, if any."""
        with self._lock:
            self._expire()
            return None if self._pending is None else self._pending[:2]

    def reset(self) -> None:
        with self._lock:
            self._pending = None

    def _expire(self) -> None:
        if self._pending and self.pending_timeout_s > 0 and self._clock() - self._pending[2] > self.pending_timeout_s:
            self._pending = None

    def click(self, col: int, row: int) -> Optional[Prompt]:
        """Feed one clicked pixel; returns the finished prompt, or None while a box waits for its second corner."""
        with self._lock:
            if self._mode == "point":
                return self._make(points=np.array([[col + 0.5, row + 0.5]], np.float32),
                                  point_labels=np.ones(1, np.uint8))
            self._expire()
            if self._pending is None:
                self._pending = (col, row, self._clock())
                return None
            c0, r0, _ = self._pending
            self._pending = None
            box = (float(min(c0, col)), float(min(r0, row)), float(max(c0, col) + 1), float(max(r0, row) + 1))
            return self._make(box=box)

    def _make(self, **kw) -> Prompt:
        pid = self._next_id
        self._next_id = CLICK_ID_BASE + (self._next_id + 1 - CLICK_ID_BASE) % 2**31
        return Prompt(id=pid, granularity=self.granularity, persistent=True, **kw).validated()
