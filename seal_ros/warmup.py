"""Warm start: compile, or load from numba's on-disk cache, every numba kernel a node uses.

Each node calls :func:`warm_up` with its name once at start, before it
subscribes, so that its first window does not pay numba's just-in-time
compilation. The kernels are declared ``cache=True``: the first start on a
machine compiles them and numba stores the machine code beside the sources
(``__pycache__``) or, where that folder is read-only (an installed package),
in its user-wide cache (``~/.cache/numba``, or ``NUMBA_CACHE_DIR``); later
starts load it. Numba's cache is keyed on each kernel's own source file only,
so after editing a helper module of the kernels (e.g. ``decoders/slab.py``)
remove the ``*.nbi``/``*.nbc`` files in ``seal_ros/**/__pycache__`` (installed
packages are rewritten whole and are not affected).

Kernel sets: ``decoders`` (every encoding, every kernel variant, for the
writable payloads rclpy gives; read-only ones, from bag readers, compile on
first use),
``encoders`` (bag_player packs recordings other than bags and RAW files into packets), ``representations``
(voxel grid, event image), ``e2v`` (the high-pass and complementary filters and
their displays). No rclpy here: the nodes call it.
"""
from __future__ import annotations

import os
import time

import numpy as np

NODE_KERNELS = {
    "event_reconstructor": ("decoders", "representations", "e2v"),
    "seal_segmenter": ("decoders", "representations"),
    "pair_recorder": ("decoders",),
    "bag_player": ("encoders",),  # bags and RAW files pass their words through; other recordings are encoded
}


def _events(n: int = 64, size: int = 8):
    from seal_ros.events.types import EventArray

    i = np.arange(n)
    return EventArray((i % size).astype(np.uint16), (i // size % size).astype(np.uint16), (i % 2).astype(np.uint8),
                      (i * 1000 + 10**9).astype(np.int64))


def _decoders() -> None:
    from seal_ros.events.decoders import warm_up as warm_decoders

    warm_decoders(readonly=False)  # nodes get writable payloads (rclpy); bag readers compile theirs when used


def _encoders() -> None:
    from seal_ros.events.encoders import ENCODERS, make_encoder
    from seal_ros.events.types import TriggerArray

    ev = _events()
    for enc in ENCODERS:
        make_encoder(enc, 8, 8).encode(ev, TriggerArray.empty())


def _representations() -> None:
    from seal_ros.events.representations import event_image, voxel_grid

    ev = _events()
    voxel_grid(ev, 5, 8, 8)
    voxel_grid(ev, 5, 8, 8, normalize=True)
    event_image(ev, 8, 8)


def _e2v() -> None:
    from seal_ros.e2v.reconstructor import Reconstructor

    ev = _events()
    for method in ("hpf", "cf"):
        r = Reconstructor(method, 8, 8, "cpu")
        if method == "cf":
            r.add_frame(10**9, np.full((8, 8), 128, np.uint8))
        r.process(ev, int(ev.t[-1]) + 1000)
        r.process(ev[:0], int(ev.t[-1]) + 2000)


KERNEL_SETS = {"decoders": _decoders, "encoders": _encoders, "representations": _representations, "e2v": _e2v}


def warm_up(node: str) -> str:
    """Load or compile the numba kernels ``node`` uses (see :data:`NODE_KERNELS`); a log line.

    Never raises: a kernel set that fails is named in the line (the node then
    compiles that set on its first packet, as without a warm-up). ``SEAL_ROS_WARMUP=0``
    in the environment skips it (for measuring what it saves: bench/bench_warmstart.py).
    """
    if os.environ.get("SEAL_ROS_WARMUP", "1") == "0":
        return "numba warm-up skipped (SEAL_ROS_WARMUP=0): kernels load on the first packet"
    done, failed = [], []
    t0 = time.perf_counter()
    for name in NODE_KERNELS[node]:
        t = time.perf_counter()
        try:
            KERNEL_SETS[name]()
        except Exception as exc:  # noqa: BLE001 - only an optimisation: the node runs without it
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
            continue
        done.append(f"{name} {time.perf_counter() - t:.2f} s")
    line = f"numba kernels ready in {time.perf_counter() - t0:.2f} s ({', '.join(done)})"
    return line + (f"; not warmed: {'; '.join(failed)}" if failed else "")
