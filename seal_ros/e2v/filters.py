"""The high-pass and complementary filters of Scheerlinck, Barnes, Mahony (ACCV 2018), as their code defines them.

Reference: cedric-scheerlinck/dvs_image_reconstruction, ``pure_event_reconstruction``
(high-pass filter) and ``complementary_filter``; defaults from their ``cfg`` files.
State per pixel: log intensity ``L`` (float64, starts at 0) and the time of
its last update ``t_last`` (starts at time 0). ``alpha = 2 pi cutoff_hz``.

High-pass filter, per event (x, y, t, polarity)::

    L <- exp(-alpha (t - t_last) - beta) L + (c_on if ON else -c_off)

with the per-event component ``beta`` (reference ``Cutoff_frequency_per_event_component``,
0.06, not multiplied by 2 pi); defaults ``cutoff_hz`` 0.06, ``c_on = c_off = 0.1``.
Events on the first row or column are ignored, as the reference does
("preserve border": it keeps ``0 < x < width``, ``0 < y < height``); they are counted.

Complementary filter, with ``F = log(1 + I / 255)`` of the latest frame ``I``
(0 before any frame), per event::

    L <- b L + (1 - b) F + (c_on if ON else -c_off),   b = exp(-alpha (t - t_last))

(no per-event component); default ``cutoff_hz`` 0.5. A frame replaces ``F``
after every pixel decayed to the frame's time toward the previous ``F`` (the
reference's "offline mode", which it recommends because it keeps events and
frames in time order); a frame older than events already processed replaces
``F`` without that decay (the reference's live mode). Frames wait until an
event later than them (or an output at or after their time) arrives, so
events and frames are applied in time order whatever order they are fed in.

Both: before output every pixel decays to the output time (the same update
without the event term). An event older than its pixel's last update resets
the whole state to its start and is dropped (the reference's "non-monotonic
timestamp detected, resetting"); counted in ``resets``.

``init_from_frame`` (complementary filter, a seal_ros option, off by default):
the first frame also sets ``L = F``. Reason: the reference starts at
``L = 0`` (black) and fades in with time constant ``1 / alpha`` (0.32 s at
0.5 Hz), which is most of a short recording or the first moments of a node.
The reference's adaptive contrast thresholds, HDR mode and spatial smoothing
(all off by default there) are not implemented.

Displays (:class:`HpfDisplay`, :class:`CfDisplay`) follow the reference's
``publish_intensity_estimate``; the per-event loops are numba-compiled.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from seal_ros.events.types import EventArray

HPF_CUTOFF_HZ = 0.06
HPF_BETA = 0.06
CF_CUTOFF_HZ = 0.5
CONTRAST = 0.1


@numba.njit(cache=True, nogil=True)
def _events(L, t_last, base, x, y, p, t, width, height, min_xy, alpha_per_ns, event_decay, c_on, c_off, counts):
    """One pass over events; ``base`` None-like (length 0) for the high-pass filter.

    ``counts``: [outside the sensor, on the skipped border, resets]. Returns nothing.
    """
    use_base = base.shape[0] > 0
    for i in range(t.shape[0]):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            counts[0] += 1
            continue
        if xi < min_xy or yi < min_xy:
            counts[1] += 1
            continue
        k = yi * width + xi
        dt = t[i] - t_last[k]
        if dt < 0:  # the reference resets everything (its frame too) and drops the event
            counts[2] += 1
            L[:] = 0.0
            t_last[:] = 0
            base[:] = 0.0
            continue
        b = math.exp(-alpha_per_ns * dt) * event_decay
        c = c_on if p[i] else -c_off
        if use_base:
            L[k] = b * L[k] + (1.0 - b) * base[k] + c
        else:
            L[k] = b * L[k] + c
        t_last[k] = t[i]


@numba.njit(cache=True, nogil=True)
def _decay_all(L, t_last, base, t_out, alpha_per_ns):
    """Every pixel to ``t_out``; returns False (and changes nothing) if any pixel is later."""
    for k in range(L.shape[0]):
        if t_out < t_last[k]:
            return False
    use_base = base.shape[0] > 0
    for k in range(L.shape[0]):
        if use_base:
            b = math.exp(-alpha_per_ns * (t_out - t_last[k]))
            L[k] = b * L[k] + (1.0 - b) * base[k]
        elif L[k] != 0.0:  # b * 0 is 0: most pixels of a high-pass filter
            L[k] = math.exp(-alpha_per_ns * (t_out - t_last[k])) * L[k]
        t_last[k] = t_out
    return True


@numba.njit(cache=True, nogil=True)
def _kth_smallest(values, k):
    """Exactly the ``k``-th smallest (0-based) of float64 ``values``: radix selection on order-preserving keys."""
    bits = values.view(np.uint64)
    top = np.uint64(1) << np.uint64(63)
    prefix = np.uint64(0)
    mask = np.uint64(0)
    counts = np.zeros(65536, np.int64)
    for shift in (48, 32, 16, 0):
        counts[:] = 0
        sh = np.uint64(shift)
        for i in range(bits.shape[0]):
            u = bits[i]
            u = ~u if u & top else u | top  # IEEE-754 order as unsigned integers
            if u & mask == prefix:
                counts[(u >> sh) & np.uint64(0xFFFF)] += 1
        digit = 0
        while k >= counts[digit]:
            k -= counts[digit]
            digit += 1
        prefix |= np.uint64(digit) << sh
        mask |= np.uint64(0xFFFF) << sh
    out = prefix & ~top if prefix & top else ~prefix
    return np.array([out], np.uint64).view(np.float64)[0]


@numba.njit(cache=True, nogil=True)
def _display(L, offset, lower, scale, out):
    """``out = saturate(rint((exp(L + offset) - 1 - lower) * scale))``: the reference's display in one pass."""
    zero = _pixel((math.exp(0.0 + offset) - 1.0 - lower) * scale)  # most pixels of a high-pass filter
    for k in range(L.shape[0]):
        out[k] = zero if L[k] == 0.0 else _pixel((math.exp(L[k] + offset) - 1.0 - lower) * scale)


@numba.njit(cache=True, nogil=True, inline="always")
def _pixel(v):
    if not v > 0.0:  # also NaN, as OpenCV's cvRound(NaN) saturates to 0
        return np.uint8(0)
    if v >= 255.0:
        return np.uint8(255)
    return np.uint8(np.rint(v))


def log_frame(image: np.ndarray) -> np.ndarray:
    """The reference's log of a uint8 frame: ``log(1 + I / 255)`` (float64, in [0, log 2])."""
    return np.log(np.asarray(image, np.float64) / 255.0 + 1.0)


def _to_uint8(log_intensity: np.ndarray, offset: float, lower: float, scale: float) -> np.ndarray:
    """OpenCV's ``convertTo(CV_8U, scale)`` of ``exp(L + offset) - 1 - lower``: round half to even, saturate."""
    L = np.ascontiguousarray(log_intensity, np.float64)
    out = np.empty(L.shape, np.uint8)
    _display(L.reshape(-1), float(offset), float(lower), float(scale), out.reshape(-1))
    return out


class _Filter:
    """State and event loop shared by the two filters."""

    min_xy = 0
    event_beta = 0.0

    def __init__(self, width: int, height: int, cutoff_hz: float, c_on: float, c_off: float):
        self.width, self.height = int(width), int(height)
        self.cutoff_hz, self.c_on, self.c_off = float(cutoff_hz), float(c_on), float(c_off)
        n = self.width * self.height
        self.L = np.zeros(n, np.float64)
        self.t_last = np.zeros(n, np.int64)
        self.base = np.zeros(0, np.float64)
        self.counts = np.zeros(3, np.int64)  # outside, border, resets

    dropped = property(lambda self: int(self.counts[0]), doc="events outside the sensor")
    border = property(lambda self: int(self.counts[1]), doc="events on the skipped first row / column")
    resets = property(lambda self: int(self.counts[2]), doc="resets on an event older than its pixel")

    @property
    def alpha(self) -> float:
        """Continuous decay rate in 1/s: 2 pi cutoff_hz."""
        return 2.0 * math.pi * self.cutoff_hz

    def reset(self) -> None:
        """Back to the start: ``L = 0``, ``t_last = 0`` (and no frame)."""
        self.L[:] = 0.0
        self.t_last[:] = 0
        self.base[:] = 0.0

    def _run(self, events: EventArray) -> None:
        if len(events):
            _events(self.L, self.t_last, self.base, events.x, events.y, events.p, events.t, self.width,
                    self.height, self.min_xy, self.alpha * 1e-9, math.exp(-self.event_beta), self.c_on,
                    self.c_off, self.counts)

    def decay_to(self, t_ns: int) -> None:
        if not _decay_all(self.L, self.t_last, self.base, np.int64(t_ns), self.alpha * 1e-9):
            self.counts[2] += 1
            _Filter.reset(self)  # the state only: frames still to come stay queued

    def log_image(self, t_ns: int, copy: bool = True) -> np.ndarray:
        """Log intensity at ``t_ns`` (float64, H x W), every pixel decayed to that time (a view without ``copy``)."""
        self.decay_to(int(t_ns))
        L = self.L.reshape(self.height, self.width)
        return L.copy() if copy else L


class HighPassFilter(_Filter):
    """The high-pass filter (events only); ``beta`` is the per-event component."""

    min_xy = 1

    def __init__(self, width: int, height: int, cutoff_hz: float = HPF_CUTOFF_HZ, beta: float = HPF_BETA,
                 c_on: float = CONTRAST, c_off: float = CONTRAST):
        super().__init__(width, height, cutoff_hz, c_on, c_off)
        self.event_beta = float(beta)

    def process(self, events: EventArray) -> None:
        self._run(events)


class ComplementaryFilter(_Filter):
    """The complementary filter: events plus intensity frames."""

    def __init__(self, width: int, height: int, cutoff_hz: float = CF_CUTOFF_HZ, c_on: float = CONTRAST,
                 c_off: float = CONTRAST, init_from_frame: bool = False):
        super().__init__(width, height, cutoff_hz, c_on, c_off)
        self.base = np.zeros(self.width * self.height, np.float64)
        self.init_from_frame = bool(init_from_frame)
        self.frames_used = 0
        self._pending = []  # (t_ns, log frame), time order

    def reset(self) -> None:
        super().reset()
        self._pending = []
        self.frames_used = 0

    def add_frame(self, t_ns: int, image: np.ndarray) -> None:
        """Queue a uint8 (H, W) frame; it takes effect in time order with the events."""
        if image.shape != (self.height, self.width):
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the sensor is {self.width}x{self.height}")
        self._pending.append((int(t_ns), log_frame(image).ravel()))
        self._pending.sort(key=lambda f: f[0])

    def _apply_frames_until(self, t_ns: int) -> None:
        """Apply the queued frames older than ``t_ns``."""
        while self._pending and self._pending[0][0] < t_ns:
            t_f, logf = self._pending.pop(0)
            if t_f >= int(self.t_last.max()):  # offline mode: decay to the frame's time first
                _decay_all(self.L, self.t_last, self.base, np.int64(t_f), self.alpha * 1e-9)
            self.base[:] = logf
            if self.init_from_frame and self.frames_used == 0:
                self.L[:] = logf
            self.frames_used += 1

    def process(self, events: EventArray) -> None:
        start = 0
        while self._pending and start < len(events):
            t_f = self._pending[0][0]
            split = start + int(np.searchsorted(events.t[start:], t_f, side="right"))  # events at or before t_f
            self._run(events[start:split])
            start = split
            if start < len(events):
                self._apply_frames_until(int(events.t[start]))
        self._run(events[start:] if start else events)

    def log_image(self, t_ns: int, copy: bool = True) -> np.ndarray:
        self._apply_frames_until(int(t_ns))
        return super().log_image(t_ns, copy)


class HpfDisplay:
    """The high-pass filter's display: ``exp(L + log 1.5) - 1``, range from the reference's bounds.

    ``auto_range`` (reference ``Auto_adjust_dynamic_range``, default on): the
    0.25 % / 99.75 % order statistics of each image, widened by 0.05, low-pass
    filtered in time (95 % in 2 s), the lower bound at most 0.3 and the upper at
    least 0.7; off: the bounds glide to ``intensity_min`` / ``intensity_max``
    (-0.5 / 1.5). Pixels: ``(image - lower) * 255 / (upper - lower)``, rounded, saturated.
    """

    DISCARD_PERCENT = 0.5
    OFFSET = math.log(1.5)
    ALPHA = -math.log(1 - 0.95) / 2.0  # 1/s

    def __init__(self, auto_range: bool = True, intensity_min: float = -0.5, intensity_max: float = 1.5):
        self.auto_range = bool(auto_range)
        self.intensity_min, self.intensity_max = float(intensity_min), float(intensity_max)
        self.reset()

    def reset(self) -> None:
        self.t_last = 0.0
        self.lower, self.upper = self.intensity_min, self.intensity_max

    def robust_bounds(self, log_intensity: np.ndarray) -> tuple[float, float]:
        """The reference's order statistics of ``exp(L + offset) - 1``, taken on ``L`` (exp is monotonic)."""
        flat = np.ascontiguousarray(log_intensity, np.float64).reshape(-1)
        i_min = int((0.5 * self.DISCARD_PERCENT / 100) * flat.size)
        i_max = int((1 - 0.5 * self.DISCARD_PERCENT / 100) * flat.size)
        lo, hi = _kth_smallest(flat, i_min), _kth_smallest(flat, i_max)
        return math.exp(lo + self.OFFSET) - 1.0, math.exp(hi + self.OFFSET) - 1.0

    def __call__(self, log_intensity: np.ndarray, t_ns: int) -> np.ndarray:
        ts = int(t_ns) / 1e9
        dt = ts - self.t_last
        beta = math.exp(-dt * self.ALPHA)
        if dt >= 0:
            if self.auto_range:
                lo, hi = self.robust_bounds(log_intensity)
                self.lower = min(beta * self.lower + (1 - beta) * (lo - 0.05), 0.5 - 0.2)
                self.upper = max(beta * self.upper + (1 - beta) * (hi + 0.05), 0.5 + 0.2)
            else:
                self.lower = beta * self.lower + (1 - beta) * self.intensity_min
                self.upper = beta * self.upper + (1 - beta) * self.intensity_max
        self.t_last = ts
        return _to_uint8(log_intensity, self.OFFSET, self.lower, 255.0 / (self.upper - self.lower))


class CfDisplay:
    """The complementary filter's display: ``(exp(L) - 1 - intensity_min) * 255 / (max - min)``, rounded, saturated.

    Reference defaults ``intensity_min`` -0.1, ``intensity_max`` 1.2.
    """

    def __init__(self, intensity_min: float = -0.1, intensity_max: float = 1.2):
        self.intensity_min, self.intensity_max = float(intensity_min), float(intensity_max)

    def reset(self) -> None:
        pass

    def __call__(self, log_intensity: np.ndarray, t_ns: int) -> np.ndarray:
        return _to_uint8(log_intensity, 0.0, self.intensity_min, 255.0 / (self.intensity_max - self.intensity_min))
