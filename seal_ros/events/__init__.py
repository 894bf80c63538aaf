"""Event ingestion: packet decoding, buffering/windowing, and representations."""
from .types import EventArray, TriggerArray  # noqa: F401
from .packet import EventPacket  # noqa: F401
