"""Per-event high-pass and complementary filters (Scheerlinck, Barnes, Mahony, ACCV 2018).

State per pixel: log intensity ``L`` and the time of its last update. Every
event at pixel (x, y), time t, polarity s (+1 ON / -1 OFF)::

    b  = exp(-alpha * (t - t_last) - beta)
    L <- B + b * (L - B) + (c+ if ON else -c-)

with ``alpha = 2 * pi * cutoff_hz`` (continuous-time decay, 1/s), ``beta`` a
decay applied once per event (a leak that bounds how far repeated events can
drive one pixel: ``c / (1 - exp(-beta))``), ``c+``/``c-`` the contrast
thresholds, and ``B`` the base the filter decays to: 0 for the high-pass
filter, ``log(frame)`` for the complementary filter once a frame arrived.
Before output every pixel decays to the output time with
``b = exp(-alpha * dt)`` (the same equation without an event), which, with a
frame as base, is ``L <- b * L + (1 - b) * log(frame)``. On a new frame all
pixels first decay to the frame time toward the previous base, then the base
is replaced; the very first frame also initialises ``L`` (a reset).

Frames are taken as uint8 intensity; ``log(frame)`` is ``log((I + 1) / 256)``.
The loop over events is compiled with numba.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from seal_ros.events.types import EventArray

DEFAULT_CUTOFF_HZ = 0.5
DEFAULT_BETA = 0.06
DEFAULT_CONTRAST = 0.1


@numba.njit(cache=True, nogil=True)
def _filter_events(L, t_last, base, use_base, x, y, p, t, width, height, alpha_per_ns, event_decay, c_pos, c_neg):
    dropped = 0
    for i in range(t.shape[0]):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            dropped += 1
            continue
        k = yi * width + xi
        dt = t[i] - t_last[k]
        if dt < 0:
            dt = 0
        b = math.exp(-alpha_per_ns * dt) * event_decay
        if use_base:
            v = base[k] + b * (L[k] - base[k])
        else:
            v = b * L[k]
        if p[i]:
            v += c_pos
        else:
            v -= c_neg
        L[k] = v
        t_last[k] = t[i]
    return dropped


@numba.njit(cache=True, nogil=True)
def _decay_all(L, t_last, base, use_base, t_out, alpha_per_ns):
    for k in range(L.shape[0]):
        dt = t_out - t_last[k]
        if dt <= 0:
            continue
        b = math.exp(-alpha_per_ns * dt)
        if use_base:
            L[k] = base[k] + b * (L[k] - base[k])
        else:
            L[k] = b * L[k]
        t_last[k] = t_out


def log_frame(image: np.ndarray) -> np.ndarray:
    return np.log((image.astype(np.float32) + 1.0) / 256.0)


class HighPassFilter:
    """High-pass filter on events; complementary filter once frames are added."""

    def __init__(self, width: int, height: int, cutoff_hz: float = DEFAULT_CUTOFF_HZ, beta: float = DEFAULT_BETA,
                 c_pos: float = DEFAULT_CONTRAST, c_neg: float = DEFAULT_CONTRAST):
        self.width, self.height = int(width), int(height)
        self.cutoff_hz, self.beta, self.c_pos, self.c_neg = float(cutoff_hz), float(beta), float(c_pos), float(c_neg)
        n = self.width * self.height
        self.L = np.zeros(n, np.float32)
        self.t_last = np.zeros(n, np.int64)
        self.base = np.zeros(n, np.float32)
        self.use_base = False
        self.started = False
        self.dropped = 0  # events outside the sensor

    @property
    def alpha(self) -> float:
        """Continuous decay rate in 1/s: 2 pi cutoff."""
        return 2.0 * math.pi * self.cutoff_hz

    def reset(self) -> None:
        self.L[:] = 0
        self.t_last[:] = 0
        self.base[:] = 0
        self.use_base = False
        self.started = False

    def _start(self, t_ns: int) -> None:
        if not self.started:
            self.t_last[:] = t_ns
            self.started = True

    def process(self, events: EventArray) -> None:
        if not len(events):
            return
        self._start(int(events.t[0]))
        self.dropped += int(_filter_events(
            self.L, self.t_last, self.base, self.use_base, events.x, events.y, events.p, events.t,
            self.width, self.height, self.alpha * 1e-9, math.exp(-self.beta), self.c_pos, self.c_neg))

    def decay_to(self, t_ns: int) -> None:
        self._start(int(t_ns))
        _decay_all(self.L, self.t_last, self.base, self.use_base, np.int64(t_ns), self.alpha * 1e-9)

    def add_frame(self, t_ns: int, image: np.ndarray) -> None:
        """Switch to (or update) the complementary filter with an intensity frame (uint8, H x W)."""
        if image.shape != (self.height, self.width):
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the sensor is {self.width}x{self.height}")
        logf = log_frame(image).ravel()
        if not self.use_base:
            self.L[:] = logf
            self.t_last[:] = t_ns
            self.started = True
        else:
            self.decay_to(t_ns)
        self.base[:] = logf
        self.use_base = True

    def log_image(self, t_ns: int) -> np.ndarray:
        """Log intensity at ``t_ns`` (float32, H x W), all pixels decayed to that time."""
        self.decay_to(t_ns)
        return self.L.reshape(self.height, self.width).copy()

    def image(self, t_ns: int) -> np.ndarray:
        """Linear intensity ``exp(L)`` at ``t_ns`` (float32, H x W), for display."""
        return np.exp(self.log_image(t_ns))
