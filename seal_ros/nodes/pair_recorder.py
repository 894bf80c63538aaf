"""``pair_recorder``: records time-synchronised event/image pairs (DSEC layout, crash-safe).

A thin adapter: callbacks hand packets and images to
:class:`seal_ros.recorder.worker.RecorderWorker`, which decodes, pairs and
writes on its own thread (format and guarantees: docs/recorder.md).
"""
from __future__ import annotations

from rclpy.node import Node

from seal_ros.nodes.common import (
    EVENTS_QOS, RESULT_QOS, SENSOR_QOS, Diagnostics, ErrorCounter, event_packet_type, packet_from_msg, run_node,
    stamp_to_ns,
)
from seal_ros.nodes.ingest import IngestReporter, ingest_config, ingest_params
from seal_ros.nodes.params import Param, ParamSet
from seal_ros.recorder.session import RecorderConfig, RecorderError
from seal_ros.recorder.worker import PROBLEM_COUNTERS as WORKER_PROBLEMS, RecorderWorker

# Keys of _diag_values() that count lost, refused or discontinuous data.
PROBLEM_COUNTERS = WORKER_PROBLEMS + ("bad_image_messages",)


def _dir_name(value) -> str | None:
    if "/" in value or value in (".", ".."):
        return f"session_name={value!r} must be a plain directory name"
    return None


PARAMS = [
    Param("events_topic", "/event_camera/events", "EventPacket topic to record.", read_only=True),
    Param("image_topic", "/camera/image_raw", "sensor_msgs/Image topic to pair with the events.", read_only=True),
    Param("camera_info_topic", "", "sensor_msgs/CameraInfo topic saved with the session (empty: beside "
          "image_topic, i.e. <image_topic namespace>/camera_info).", read_only=True),
    Param("record_on_start", False, "Start recording as soon as the node starts.", read_only=True),
    Param("output_dir", "~/seal_ros_pairs", "Directory that receives one sub-directory per session.",
          validate=lambda v: None if v.strip() else "output_dir must not be empty"),
    Param("session_name", "", "Name of the next session's directory (empty: UTC time stamp; "
          "an existing name gets a _N suffix).", validate=_dir_name),
    Param("window_ms", 50.0, "Event window before each image stamp, when the exposure is unknown (ms).",
          range=(0.1, 10000.0)),
    Param("offset_ms", 0.0, "Added to both window ends (image clock minus event clock, ms).",
          range=(-10000.0, 10000.0)),
    Param("use_exposure", True, "Pair with the exposure interval instead of the window when it is known."),
    Param("exposure_us", 0.0, "Camera exposure time (us); 0: unknown (use window_ms).", range=(0.0, 1e7)),
    Param("stamp_position", "end", "Where in the exposure the image stamp lies (with exposure_us > 0).",
          choices=("start", "middle", "end")),
    Param("min_events", 0, "Skip pairs with fewer events than this (0: keep all).", range=(0, 1 << 31)),
    Param("skip_empty", True, "Skip images with no events in their window (else write them, flagged empty)."),
    Param("max_bytes", 0, "Stop the session at this dataset size in bytes (0: no limit).", range=(0, 1 << 62)),
    Param("max_duration_s", 0.0, "Stop the session after this much recorded time (0: no limit; "
          "the format holds about 71 min).", range=(0.0, 4200.0)),
    Param("reorder_ms", 100.0, "How long (image time) images wait for out-of-order predecessors.",
          range=(0.0, 10000.0)),
    Param("stall_ms", 1000.0, "Pair an image anyway when its events have not completed after this (ms).",
          range=(1.0, 60000.0)),
    Param("min_free_mb", 64.0, "Stop cleanly (disk_full) before free disk space falls below this (MB).",
          range=(0.0, 1e6)),
    Param("compression", "", "HDF5 compression of the event datasets.", choices=("", "lzf", "gzip")),
    Param("status_period_s", 1.0, "Period of ~/status.", range=(0.05, 60.0), read_only=True),
    *ingest_params(windows=False),
    Param("max_queue_mb", 512.0, "Most received data (event payloads, image pixels) waiting for the writer; "
          "beyond it messages are dropped (dropped_queue_full_packets/_images) (MB).", range=(1.0, 1e6),
          read_only=True),
]


class PairRecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__("pair_recorder", **kwargs)
        from sensor_msgs.msg import CameraInfo, Image
        from std_srvs.srv import Trigger

        from seal_ros.msg import RecorderStatus

        self._status_type = RecorderStatus
        self.params = ParamSet(self, PARAMS)
        self.errors = ErrorCounter(self.get_logger())
        self.worker = RecorderWorker(int(self.params["max_queue_mb"] * 1e6))
        self._report = IngestReporter(self, self.errors)
        self._internal_errors = 0
        self._camera_info_saved = False
        image_topic = self.params["image_topic"]
        info_topic = self.params["camera_info_topic"] or image_topic.rsplit("/", 1)[0] + "/camera_info"
        self.create_subscription(event_packet_type(), self.params["events_topic"], self._on_events, EVENTS_QOS)
        self.create_subscription(Image, image_topic, self._on_image, SENSOR_QOS)
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info, SENSOR_QOS)
        self.create_service(Trigger, "~/start", self._srv_start)
        self.create_service(Trigger, "~/stop", self._srv_stop)
        self._status_pub = self.create_publisher(RecorderStatus, "~/status", RESULT_QOS)
        self.create_timer(self.params["status_period_s"], self._publish_status)
        self._reported_stop = None
        self._last_start_error = ""
        self.diagnostics = Diagnostics(self, "pair recorder", self._diag_values, self.params["status_period_s"])
        if self.params["record_on_start"]:
            ok, message = self.start_recording()
            (self.get_logger().info if ok else self.get_logger().error)(message)

    # -- recording control ------------------------------------------------------------
    def config(self) -> RecorderConfig:
        p = self.params
        return RecorderConfig(
            window_ms=p["window_ms"], offset_ms=p["offset_ms"], use_exposure=p["use_exposure"],
            min_events=p["min_events"], skip_empty=p["skip_empty"], max_bytes=p["max_bytes"],
            max_duration_s=p["max_duration_s"], reorder_ms=p["reorder_ms"], stall_ms=p["stall_ms"],
            compression=p["compression"], min_free_mb=p["min_free_mb"],
        )

    def start_recording(self) -> tuple[bool, str]:
        try:
            path = self.worker.start(self.params["output_dir"], self.params["session_name"], self.config(),
                                     ingest_config(self.params))
        except RecorderError as exc:
            self.errors.report("start_failed", f"cannot start recording: {exc}")
            self._last_start_error = str(exc)
            return False, str(exc)
        self._camera_info_saved = False
        self._reported_stop = None
        self._last_start_error = ""
        return True, f"recording to {path}"

    def _srv_start(self, request, response):
        response.success, response.message = self.start_recording()
        return response

    def _srv_stop(self, request, response):
        if not self.worker.recording:
            response.success, response.message = False, "not recording"
            return response
        try:
            s = self.worker.stop()
        except RecorderError as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success = not s.get("last_error")
        response.message = (f"stopped: {s.get('pairs_written', 0)} pairs, {s.get('events_written', 0)} events "
                            f"in {s.get('path', '')}" + (f"; error: {s['last_error']}" if s.get("last_error") else ""))
        return response

    # -- input --------------------------------------------------------------------------
    def _on_events(self, msg) -> None:
        try:
            if self.worker.recording:
                self.worker.put_packet(packet_from_msg(msg))
        except Exception as exc:  # noqa: BLE001 - no input may end the node
            self._internal_errors += 1
            self._report.crashed("event packet", exc)

    def _on_image(self, msg) -> None:
        if not self.worker.recording:
            return
        from seal_ros.io.images import ImageError, image_msg_to_array

        try:
            img = image_msg_to_array(msg)
            stamp = stamp_to_ns(msg.header.stamp)
            self.worker.put_image(stamp, img, self._exposure(stamp))
        except ImageError as exc:
            self.errors.report("bad_image", f"image dropped: {exc}")
        except Exception as exc:  # noqa: BLE001
            self._internal_errors += 1
            self._report.crashed("image", exc)

    def _exposure(self, stamp_ns: int):
        exp_ns = int(self.params["exposure_us"] * 1000)
        if exp_ns <= 0:
            return None
        start = {"start": stamp_ns, "middle": stamp_ns - exp_ns // 2, "end": stamp_ns - exp_ns}[
            self.params["stamp_position"]]
        return (start, start + exp_ns)

    def _on_camera_info(self, msg) -> None:
        if self._camera_info_saved or not self.worker.recording:
            return
        self._camera_info_saved = True
        self.worker.set_meta(camera_info=dict(
            frame_id=msg.header.frame_id, width=int(msg.width), height=int(msg.height),
            distortion_model=msg.distortion_model, d=list(msg.d), k=list(msg.k), r=list(msg.r), p=list(msg.p)))

    # -- status -------------------------------------------------------------------------
    def _publish_status(self) -> None:
        s = self.worker.status()
        msg = self._status_type()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.recording = bool(s.get("recording"))
        msg.session_dir = str(s.get("path", ""))
        msg.pairs_written = int(s.get("pairs_written", 0))
        msg.events_written = int(s.get("events_written", 0))
        msg.bytes_written = int(s.get("bytes_written", 0))
        skips = dict(s.get("skips", {}))
        if self.errors.counts.get("bad_image"):
            skips["bad_image_message"] = self.errors.counts["bad_image"]
        if self.worker.counts["dropped_queue_full_images"]:
            skips["queue_full"] = self.worker.counts["dropped_queue_full_images"]
        for note in self.worker.take_notes():
            self.get_logger().warning(note)
        msg.skip_reasons = list(skips)
        msg.skip_counts = [int(v) for v in skips.values()]
        msg.lost_packets = int(s.get("lost_packets", 0))
        msg.last_error = str(s.get("last_error", "") or self._last_start_error)
        self._status_pub.publish(msg)
        key = (s.get("path"), s.get("stop_reason"))
        if not msg.recording and s.get("stop_reason") and key != self._reported_stop:
            self._reported_stop = key
            text = f"recording stopped ({s['stop_reason']}): {msg.pairs_written} pairs in {msg.session_dir}"
            # one call site per severity: rclpy refuses a call site whose severity changes
            if s.get("last_error"):
                self.get_logger().error(f"{text}; {s['last_error']}")
            else:
                self.get_logger().info(text)

    def _diag_values(self) -> dict:
        v = self.worker.counters()
        s = self.worker.status()
        v.update(recording=int(bool(s.get("recording"))), pairs_written=int(s.get("pairs_written", 0)),
                 events_written=int(s.get("events_written", 0)), bad_image_messages=self.errors.counts["bad_image"],
                 internal_errors=v.get("internal_errors", 0) + self._internal_errors,
                 errors=sum(self.errors.counts.values()))
        return v

    def destroy_node(self):
        self.worker.shutdown()
        return super().destroy_node()


def main(args=None):
    run_node(PairRecorderNode, args)
