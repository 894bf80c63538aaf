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

    @staticmethod
    def _of_span(store, a: int, b: int) -> "EventArray":
        """Events ``[a, b)`` of ``store`` (an object with x, y, p, t arrays and the ``arena`` they
        view: a decoder's output slab) as views made on first use, remembering where they lie so
        that adjacent ones join without a copy (:class:`_SpanEvents`). The span holds the arena,
        so the store sees it in use (its reference count) before any view is made."""
        self = object.__new__(_SpanEvents)
        self.__dict__["_span"] = (store, a, b, store.arena)
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


class _Span:
    """Mixin of arrays that are a span ``[a, b)`` of a decoder's output store (``_span`` =
    (store, a, b, arena)); each field array is made on first use from the store attribute
    ``_STORE[field]``. Replacing a field makes them all and ends the span."""

    _STORE: dict = {}

    def __getattr__(self, name):  # only for attributes not made yet
        span = self.__dict__.get("_span")
        if span is None or name not in self._STORE:
            raise AttributeError(name)
        value = self.__dict__[name] = getattr(span[0], self._STORE[name])[span[1]:span[2]]
        return value

    def __setattr__(self, name, value):
        if name in self._STORE and "_span" in self.__dict__:
            for f in self._STORE:
                getattr(self, f)
            del self.__dict__["_span"]
        object.__setattr__(self, name, value)

    def __len__(self) -> int:
        span = self.__dict__.get("_span")
        return span[2] - span[1] if span is not None else len(self.__dict__["t"])


class _SpanEvents(_Span, EventArray):
    """Events of a decoder's output slab: most packets are only handed on to windows, which
    join spans without making their arrays."""

    _STORE = {"x": "x", "y": "y", "p": "p", "t": "t"}


def _join_spans(parts):
    """One view over parts that are consecutive views of the same store, else None."""
    span = getattr(parts[0], "_span", None)
    if span is None:
        return None
    store, a, b, _ = span
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

    @staticmethod
    def _of_span(store, a: int, b: int) -> "TriggerArray":
        """Triggers ``[a, b)`` of ``store`` (with tt, te, ti arrays viewing its ``arena``), as
        views made on first use; the span holds the arena, as :meth:`EventArray._of_span`."""
        self = object.__new__(_SpanTriggers)
        self.__dict__["_span"] = (store, a, b, store.arena)
        return self

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

    def __getitem__(self, idx) -> "TriggerArray":
        return TriggerArray(self.t[idx], self.edge[idx], self.id[idx])


class _SpanTriggers(_Span, TriggerArray):
    """Triggers of a decoder's output slab."""

    _STORE = {"t": "tt", "edge": "te", "id": "ti"}
