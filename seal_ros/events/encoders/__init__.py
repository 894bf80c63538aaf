"""Encoders for the ``event_camera_msgs/EventPacket`` encodings (the decoders' inverse).

``make_encoder(encoding, width, height)`` returns an :class:`Encoder` whose
``encode(events, triggers) -> (payload, time_base)`` writes one packet and
carries the stream state to the next, like a driver. One module per encoding:
:mod:`.evt3`, :mod:`.evt2`, :mod:`.libcaer_cmp`, :mod:`.libcaer`, :mod:`.mono`
(``mono`` and ``trigger``). ``seal-ros convert`` and ``bag_player`` use them
to turn any recording into EventPackets.
"""
from __future__ import annotations

from .base import COUNTER_NAMES, EncodeError, Encoder  # noqa: F401
from .evt2 import Evt2Encoder
from .evt3 import Evt3Encoder
from .libcaer import LibcaerEncoder
from .libcaer_cmp import LibcaerCmpEncoder
from .mono import MonoEncoder, TriggerEncoder

ENCODERS = {
    cls.encoding: cls
    for cls in (Evt3Encoder, Evt2Encoder, LibcaerCmpEncoder, LibcaerEncoder, MonoEncoder, TriggerEncoder)
}
SUPPORTED_ENCODINGS = tuple(sorted(ENCODERS))


def make_encoder(encoding: str, width: int, height: int) -> Encoder:
    """A fresh encoder for ``encoding``; raises :class:`EncodeError` (a ValueError) with a reason."""
    cls = ENCODERS.get(str(encoding))
    if cls is None:
        raise EncodeError(f"no encoder for {encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    return cls(width, height)
