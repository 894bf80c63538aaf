"""The event-input parameters and reporting every node shares (one spec, one meaning).

``event_reconstructor``, ``seal_segmenter`` and ``pair_recorder`` declare the
same :func:`ingest_params` and build their
:class:`~seal_ros.events.source.PacketIngest` / ``WindowSource`` from
:func:`ingest_config`; :class:`IngestReporter` turns a push result into
counted, throttled log lines (per kind, so one kind never hides another).
"""
from __future__ import annotations

from seal_ros.events.source import DEFAULT_MAX_WINDOW_EVENTS, STAMP_SOURCES, IngestConfig
from seal_ros.events.stream import DEFAULT_MAX_PACKET_EVENTS, DEFAULT_MAX_SENSOR_SIDE
from seal_ros.events.decoders import MAX_DIM
from seal_ros.events.timeline import DEFAULT_MAX_JUMP_S
from seal_ros.nodes.params import Param

STAMP_SOURCE_DOC = ("Clock of the output stamps: 'header' maps the camera's event clock to ROS time with an offset "
                    "estimated from the packets' header stamps (smallest header-minus-event delay over the last "
                    "10 s); 'sensor' keeps the camera's event clock. Windows are cut in the event clock either way.")


def ingest_params(windows: bool = True) -> list:
    """The event-input parameters (``windows``: with ``max_window_events``)."""
    out = [
        Param("stamp_source", "header", STAMP_SOURCE_DOC, choices=STAMP_SOURCES, read_only=True),
        Param("max_time_jump_s", DEFAULT_MAX_JUMP_S,
              "Event time jumping forward by more than this (beyond what the header stamps advanced), or "
              "going back at all, is a discontinuity: counted (time_jumps), reported with its size, "
              "resynchronised; a single packet off the stream is dropped (dropped_time_outlier) (s).",
              range=(0.01, 86400.0), read_only=True),
        Param("max_sensor_size", DEFAULT_MAX_SENSOR_SIDE, "Largest sensor width or height accepted; packets "
              "declaring more are refused (dropped_sensor_size). The default is above every current sensor "
              "(1280x960) and the 11-bit addresses of evt3, evt2 and libcaer_cmp; it bounds what one packet "
              "can make a node allocate (the reconstructor's filter: 16 bytes a pixel).",
              range=(1, MAX_DIM), read_only=True),
        Param("max_packet_events", DEFAULT_MAX_PACKET_EVENTS, "Most events decoded from one packet (default: "
              "1.1 G events/s, above the fastest sensor, times 10 ms); decoding of a packet stops there "
              "(capped_packets).", range=(1000, 1_000_000_000), read_only=True),
    ]
    if windows:
        out.append(Param("max_window_events", DEFAULT_MAX_WINDOW_EVENTS, "Events kept in one open window at "
                         "most (the oldest dropped, dropped_overflow).", range=(1000, 1_000_000_000)))
    return out


def ingest_config(params) -> IngestConfig:
    return IngestConfig(stamp_source=params["stamp_source"], max_time_jump_s=float(params["max_time_jump_s"]),
                        max_sensor_side=int(params["max_sensor_size"]),
                        max_packet_events=int(params["max_packet_events"]))


class IngestReporter:
    """Logs what a push reports: rejected packets (errors), suspect ones and stream notes (warnings)."""

    def __init__(self, node, errors, throttle_s: float = 5.0):
        self._log = node.get_logger()
        self._errors = errors
        self._throttle = throttle_s

    def __call__(self, result) -> None:
        if result.error:
            self._errors.report("bad_packet", f"event packet dropped: {result.error}")
        if result.warning:
            self._log.warning(f"event packet: {result.warning}", throttle_duration_sec=self._throttle)
        for note in result.notes:
            self._log.warning(note, throttle_duration_sec=1.0)

    def crashed(self, where: str, exc: BaseException) -> None:
        """An unexpected exception in an input callback: counted and logged, the node goes on."""
        self._errors.report("internal_error", f"{where}: {type(exc).__name__}: {exc}")
