"""Streaming decoders for every ``event_camera_msgs/EventPacket`` encoding.

``make_decoder(encoding, width, height)`` returns a :class:`Decoder` whose
``decode(buf, time_base) -> (EventArray, TriggerArray)`` carries the stream's
state from packet to packet; ``Decoder.stats`` holds its counters. One module
per encoding: :mod:`.evt3`, :mod:`.evt2`, :mod:`.libcaer_cmp`, :mod:`.libcaer`, :mod:`.mono`
(``mono`` and ``trigger``).
"""
from __future__ import annotations

from .base import COUNTER_NAMES, MAX_DIM, DecodeError, Decoder  # noqa: F401
from .evt2 import Evt2Decoder
from .evt3 import Evt3Decoder
from .libcaer import LibcaerDecoder
from .libcaer_cmp import LibcaerCmpDecoder
from .mono import MonoDecoder, TriggerDecoder

DECODERS = {
    cls.encoding: cls
    for cls in (Evt3Decoder, Evt2Decoder, LibcaerCmpDecoder, LibcaerDecoder, MonoDecoder, TriggerDecoder)
}
SUPPORTED_ENCODINGS = tuple(sorted(DECODERS))


def make_decoder(encoding: str, width: int, height: int) -> Decoder:
    """A fresh decoder for ``encoding``; raises :class:`DecodeError` (a ValueError) with a reason."""
    cls = DECODERS.get(str(encoding))
    if cls is None:
        raise DecodeError(
            f"unsupported encoding {encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})"
        )
    return cls(width, height)


def warm_up(encodings=SUPPORTED_ENCODINGS, readonly: bool = True) -> None:
    """Compile (or load from numba's cache) every kernel variant of ``encodings``: the slab
    entry of each kernel and its direct call (large packets, the event cap), for writable
    payloads (rclpy messages) and, with ``readonly``, read-only ones (bag readers).

    Call before timing; the first decode in a process otherwise pays the JIT.
    """
    import numpy as np

    from .kernel import KernelDecoder, _alloc

    payloads = [np.zeros(16, np.uint8)]
    if readonly:
        payloads.append(np.zeros(16, np.uint8))
        payloads[-1].flags.writeable = False
    for enc in encodings:
        d = make_decoder(enc, 8, 8)
        for buf in payloads:
            d.decode(buf, 0)
            if isinstance(d, KernelDecoder):
                for entry in d.arenas:
                    entry(buf, 0, d._state.copy(), d._pool.current.arena)
                for kernel in d.kernels:
                    kernel(buf.view(d._word_dtype), 0, 0, d._state.copy(), *_alloc(16, 16), np.empty(32, np.uint8))
