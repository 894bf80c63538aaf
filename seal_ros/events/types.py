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
    def _of_span(cls, store, a: int, b: int) -> "EventArray":
        """Views of events ``[a, b)`` of ``store`` (an object with x, y, p, t arrays: a decoder's
        output slab), remembering where they lie so that adjacent ones join without a copy."""
        self = object.__new__(cls)
        self.x, self.y, self.p, self.t = store.x[a:b], store.y[a:b], store.p[a:b], store.t[a:b]
        self._span = (store, a, b)
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
        joined = _join_spans(parts)
        if joined is not None:  # consecutive views of one store (packets decoded one after another)
            return joined
        return cls(*(np.concatenate([getattr(a, f) for a in parts]) for f in ("x", "y", "p", "t")))

    def __len__(self) -> int:
        return len(self.t)

    def __getstate__(self) -> dict:  # pickles the events, not the decoder's store they are views of
        return {f: getattr(self, f) for f in ("x", "y", "p", "t")}

    def __getitem__(self, idx) -> "EventArray":
        span = getattr(self, "_span", None)
        if span is not None and type(idx) is slice and idx.step is None:  # still a span of the store
            a, b, _ = idx.indices(span[2] - span[1])
            return EventArray._of_span(span[0], span[1] + a, span[1] + max(a, b))
        return EventArray(self.x[idx], self.y[idx], self.p[idx], self.t[idx])

    @property
    def t_range(self):
        """(first, last) event time in ns, or None when empty."""
        return (int(self.t[0]), int(self.t[-1])) if len(self) else None


def _join_spans(parts):
    """One view over parts that are consecutive views of the same store, else None."""
    span = getattr(parts[0], "_span", None)
    if span is None:
        return None
    store, a, b = span
    for ev in parts[1:]:
        sp = getattr(ev, "_span", None)
        if sp is None or sp[0] is not store or sp[1] != b:
            return None
        b = sp[2]
    return EventArray._of_span(store, a, b)


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
