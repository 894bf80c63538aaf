"""Aligning images to event windows (no ROS).

An image with header stamp ``s`` is paired with the events of ``[s - window, s)``
or, when its exposure interval is known, ``[exposure_start, exposure_end)``;
``offset`` shifts either window (a fixed clock offset between the cameras).
Windows are integer microseconds, ``t0 = floor(t0_ns / 1000)``; an event
belongs to a window when ``t0 <= floor(t_ns / 1000) < t1``.

Images wait in a stamp-ordered queue until (a) the event stream has passed the
window's end (an event with ``t >= t1`` arrived, so the window is complete),
and (b) ``reorder`` has passed in image time (a newer image is at least that
much later), which puts out-of-order images back in order. When the events
stall, an image is released anyway once images ``stall`` later exist, marked
``stalled``. Images are released in stamp order only; one arriving after a
later-stamped image was released is ``late`` (skipped: ``images/`` stays
sorted as in DSEC).
"""
from __future__ import annotations

import collections
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class PairingConfig:
    window_ns: int = 50_000_000
    offset_ns: int = 0
    use_exposure: bool = True
    reorder_ns: int = 100_000_000
    stall_ns: int = 1_000_000_000


@dataclass(order=True)
class PendingImage:
    stamp_ns: int
    arrival: int
    t0_us: int = field(compare=False)
    t1_us: int = field(compare=False)
    exposure_known: bool = field(compare=False)
    image: np.ndarray = field(compare=False, repr=False)
    image_dropped: bool = field(compare=False, default=False)


def image_window(stamp_ns: int, exposure: Optional[tuple], cfg: PairingConfig) -> tuple[int, int, bool]:
    """(t0_us, t1_us, exposure_known) for an image."""
    if cfg.use_exposure and exposure is not None and exposure[1] > exposure[0]:
        t0, t1, known = int(exposure[0]), int(exposure[1]), True
    else:
        t0, t1, known = int(stamp_ns) - cfg.window_ns, int(stamp_ns), False
    return (t0 + cfg.offset_ns) // 1000, (t1 + cfg.offset_ns) // 1000, known


class Pairer:
    """Holds images until their event window is complete, releases them in stamp order."""

    def __init__(self, cfg: PairingConfig):
        self.cfg = cfg
        self._heap: list[PendingImage] = []
        self._arrivals = itertools.count()
        self.newest_stamp_ns: Optional[int] = None
        self.last_released_ns: Optional[int] = None
        self._intervals = collections.deque(maxlen=15)
        self._prev_stamp: Optional[int] = None

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, stamp_ns: int, image: np.ndarray, exposure: Optional[tuple] = None) -> Optional[str]:
        """Queue an image; returns a skip reason ("late", "duplicate") or None."""
        stamp_ns = int(stamp_ns)
        if self.last_released_ns is not None and stamp_ns <= self.last_released_ns:
            return "duplicate" if stamp_ns == self.last_released_ns else "late"
        if any(p.stamp_ns == stamp_ns for p in self._heap):
            return "duplicate"
        t0, t1, known = image_window(stamp_ns, exposure, self.cfg)
        dropped = self._gap_suspect(stamp_ns)
        heapq.heappush(self._heap, PendingImage(stamp_ns, next(self._arrivals), t0, t1, known, image, dropped))
        if self.newest_stamp_ns is None or stamp_ns > self.newest_stamp_ns:
            self.newest_stamp_ns = stamp_ns
        return None

    def _gap_suspect(self, stamp_ns: int) -> bool:
        """True when the gap to the previous image is > 1.5x the median interval (a frame lost upstream)."""
        prev, self._prev_stamp = self._prev_stamp, stamp_ns
        if prev is None or stamp_ns <= prev:
            return False
        gap = stamp_ns - prev
        suspect = len(self._intervals) >= 5 and gap > 1.5 * float(np.median(self._intervals))
        self._intervals.append(gap)
        return bool(suspect)

    def release(self, watermark_us: Optional[int], force: bool = False) -> list[tuple[PendingImage, bool]]:
        """Images ready for pairing as ``(image, stalled)``, in stamp order.

        ``watermark_us``: time of the newest stored event (None: no events yet).
        ``force``: release everything (end of recording).
        """
        out = []
        while self._heap:
            head = self._heap[0]
            complete = watermark_us is not None and watermark_us >= head.t1_us
            if not force:
                newest = self.newest_stamp_ns
                if newest - head.stamp_ns < self.cfg.reorder_ns:
                    break
                stalled_long = (newest // 1000) - head.t1_us >= self.cfg.stall_ns // 1000
                if not complete and not stalled_long:
                    break
            heapq.heappop(self._heap)
            self.last_released_ns = head.stamp_ns
            out.append((head, not complete))
        return out

    def drop_all(self) -> int:
        n = len(self._heap)
        self._heap.clear()
        return n


class GapLog:
    """Where lost event packets fell in time: gaps between the last event before and the first after."""

    def __init__(self, maxlen: int = 4096):
        self._gaps = collections.deque(maxlen=maxlen)  # [lo_us or None, hi_us or None, count]
        self.total = 0

    def on_batch(self, lost: int, first_us: Optional[int], last_before_us: Optional[int]) -> None:
        if self._gaps and self._gaps[-1][1] is None and first_us is not None:
            self._gaps[-1][1] = first_us
        if lost > 0:
            self.total += int(lost)
            self._gaps.append([last_before_us, first_us, int(lost)])

    def lost_in(self, t0_us: int, t1_us: int) -> int:
        """Packets lost in gaps overlapping ``[t0, t1)``."""
        n = 0
        for lo, hi, count in self._gaps:
            if (lo is None or lo < t1_us) and (hi is None or hi > t0_us):
                n += count
        return n
