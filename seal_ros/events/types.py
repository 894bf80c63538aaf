"""Structure-of-arrays containers for decoded events.

All times are int64 nanoseconds in the ROS time base (``time_base + offset``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EventArray:
    """Change-detection events: x, y (uint16), p (uint8, 1 = ON, 0 = OFF), t (int64 ns)."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    t: np.ndarray

    def __post_init__(self):
        n = len(self.t)
        if not (len(self.x) == len(self.y) == len(self.p) == n):
            raise ValueError("EventArray fields must have equal length")

    @classmethod
    def _trusted(cls, x, y, p, t) -> "EventArray":
        """Build without the length check (decoders, whose arrays are equal by construction)."""
        self = object.__new__(cls)
        self.x, self.y, self.p, self.t = x, y, p, t
        return self

    @classmethod
    def empty(cls) -> "EventArray":
        return cls(np.empty(0, np.uint16), np.empty(0, np.uint16), np.empty(0, np.uint8), np.empty(0, np.int64))

    @classmethod
    def concatenate(cls, parts) -> "EventArray":
        parts = [a for a in parts if len(a)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(a, f) for a in parts]) for f in ("x", "y", "p", "t")))

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, idx) -> "EventArray":
        return EventArray(self.x[idx], self.y[idx], self.p[idx], self.t[idx])

    @property
    def t_range(self):
        """(first, last) event time in ns, or None when empty."""
        return (int(self.t[0]), int(self.t[-1])) if len(self) else None


@dataclass
class TriggerArray:
    """External-trigger events: t (int64 ns), edge (uint8, 1 rising / 0 falling), id (uint8)."""

    t: np.ndarray
    edge: np.ndarray
    id: np.ndarray

    @classmethod
    def empty(cls) -> "TriggerArray":
        return cls(np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.uint8))

    @classmethod
    def concatenate(cls, parts) -> "TriggerArray":
        parts = [a for a in parts if len(a)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(a, f) for a in parts]) for f in ("t", "edge", "id")))

    def __len__(self) -> int:
        return len(self.t)
