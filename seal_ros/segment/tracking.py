"""Stable instance ids across event windows: association by mask IoU and class.

Each window's results are matched to the live tracks. A result may continue a
track only when both have the same class (normalised name; an unclassified
result only an unclassified track) and the same prompt id (0 for automatic
results, so a prompted object and an automatic one stay apart), and their
masks overlap by at least ``iou`` (intersection over union, on the masks
max-pooled over ``stride`` x ``stride`` blocks, so a small mask keeps its cells). Among those pairs the assignment with
the largest total IoU wins (``scipy.optimize.linear_sum_assignment``); an
unmatched result starts a new track. A track not seen in a window is kept for
``memory`` windows (counted in window numbers, so windows the worker dropped
count too): an object that stops moving produces no events and no mask, and
gets its id back when it moves again where it stood. Its last mask is what a
new result is compared with.

Ids start at 1 and never repeat while the tracker lives; 0 means "not
tracked". :meth:`Tracker.update` for the same window number again (the
segmenter answering a window anew after a prompt change) replaces that
window's association instead of adding one. :meth:`Tracker.reset` (a new
timeline) forgets every track; ids go on counting.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = ["Tracker", "Track", "TrackItem"]


@dataclass
class TrackItem:
    """What the tracker needs of one result."""

    mask: np.ndarray  # bool (H, W)
    class_key: str  # normalised class name ("" when unclassified)
    prompt_id: int = 0


@dataclass
class Track:
    id: int
    mask: np.ndarray  # bool, max-pooled
    class_key: str
    prompt_id: int
    last_seen: int  # window number
    first_seen: int
    hits: int = 1


class Tracker:
    def __init__(self, iou: float = 0.3, memory: int = 5, stride: int = 4):
        self.iou = float(iou)
        self.memory = int(memory)
        self.stride = max(1, int(stride))
        self.tracks: list[Track] = []
        self._next_id = 1
        self._window: Optional[int] = None
        self._before: Optional[tuple] = None  # (tracks, next id) before the last window's update

    def reset(self) -> None:
        self.tracks, self._window, self._before = [], None, None

    def update(self, window: int, items: Sequence[TrackItem]) -> list[int]:
        """Track id of each item (in order) for window number ``window``."""
        window = int(window)
        if window == self._window and self._before is not None:  # the same window answered again
            self.tracks, self._next_id = copy.deepcopy(self._before[0]), self._before[1]
        else:
            self._before = (copy.deepcopy(self.tracks), self._next_id)
            self._window = window
        self.tracks = [t for t in self.tracks if window - t.last_seen - 1 <= self.memory]  # unseen windows
        small = [_pool(it.mask, self.stride) for it in items]
        pairs = self._assign(items, small)
        ids = []
        for i, it in enumerate(items):
            t = pairs.get(i)
            if t is None:
                t = Track(self._next_id, small[i], it.class_key, int(it.prompt_id), window, window, 0)
                self._next_id += 1
                self.tracks.append(t)
            t.mask, t.last_seen, t.hits = small[i], window, t.hits + 1
            ids.append(t.id)
        return ids

    def _assign(self, items: Sequence[TrackItem], small: list) -> dict:
        """{item index: track} maximising the total IoU over the allowed pairs."""
        if not items or not self.tracks:
            return {}
        iou = np.zeros((len(items), len(self.tracks)))
        for j, t in enumerate(self.tracks):
            same = [i for i, it in enumerate(items)
                    if it.class_key == t.class_key and int(it.prompt_id) == t.prompt_id
                    and small[i].shape == t.mask.shape]
            if not same:
                continue
            a = np.stack([small[i].ravel() for i in same]).astype(np.float32)
            b = t.mask.ravel().astype(np.float32)
            inter = a @ b
            union = a.sum(1) + b.sum() - inter
            iou[same, j] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        allowed = iou >= max(self.iou, 1e-9)
        if not allowed.any():
            return {}
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(np.where(allowed, -iou, 1.0))
        return {int(r): self.tracks[c] for r, c in zip(rows, cols) if allowed[r, c]}


def _pool(mask: np.ndarray, s: int) -> np.ndarray:
    """bool (H, W) -> (ceil(H/s), ceil(W/s)): a block is in when any of its pixels is."""
    m = np.asarray(mask, bool)
    if s == 1:
        return np.ascontiguousarray(m)
    h, w = m.shape
    m = np.pad(m, ((0, -h % s), (0, -w % s)))
    return m.reshape(m.shape[0] // s, s, m.shape[1] // s, s).any(axis=(1, 3))
