"""``pair_recorder``: records time-synchronised event/image pairs (DSEC layout, crash-safe).

A thin adapter: callbacks hand packets and images to
:class:`seal_ros.recorder.worker.RecorderWorker`, which decodes, pairs and
writes on its own thread (format and guarantees: docs/recorder.md).
"""
from __future__ import annotations

from rclpy.node import Node

from seal_ros.nodes.common import (
    EVENTS_QOS, RESULT_QOS, SENSOR_QOS, Diagnostics, ErrorCounter, TopicWatch, event_packet_type, packet_from_msg,
    run_node, safe_service, stamp_to_ns, topic_timeout_param,
)
from seal_ros.nodes.ingest import IngestReporter, ingest_config, ingest_params
from seal_ros.nodes.params import Param, ParamSet
from seal_ros.recorder.session import RecorderConfig, RecorderError, session_name_problem
from seal_ros.recorder.worker import PROBLEM_COUNTERS as WORKER_PROBLEMS, RecorderWorker
from seal_ros.warmup import warm_up


PARAMS = [
    Param("events_topic", "event_camera/events", "EventPacket topic to record (relative: moves with the node's "
          "namespace).", read_only=True),
    Param("image_topic", "camera/image_raw", "sensor_msgs/Image topic to pair with the events.", read_only=True),
    Param("camera_info_topic", "", "sensor_msgs/CameraInfo topic saved with the session (empty: beside "
          "image_topic, i.e. <image_topic namespace>/camera_info).", read_only=True),
    Param("record_on_start", False, "Start recording as soon as the node starts.", read_only=True),
    Param("output_dir", "~/seal_ros_pairs", "Directory that receives one sub-directory per session.",
          validate=lambda v: None if v.strip() else "output_dir must not be empty", path=True),
    Param("session_name", "", "Name of the next session's directory (empty: UTC time stamp; "
          "an existing name gets a _N suffix). A plain file name: no '/', no NUL, not . or .., at most 247 bytes.",
          validate=session_name_problem),
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
    Param("diagnostics_period_s", 1.0, "Period of the /diagnostics status.", range=(0.1, 60.0), read_only=True),
    topic_timeout_param("The events or image topic"),
    *ingest_params(windows=False),
    Param("max_queue_mb", 512.0, "Most received data (event payloads, image pixels) waiting for the writer; "
          "beyond it messages are dropped (dropped_queue_full_packets/_images) (MB).", range=(1.0, 1e6),
          read_only=True),
]
# Keys of _diag_values() whose rise is a diagnostics warning (lost, refused or discontinuous data).
PROBLEM_COUNTERS = WORKER_PROBLEMS + (
    "events_out_of_order", "events_out_of_range", "skip_late", "skip_bad_image", "skip_bad_image_message",
    "skip_write_failed", "skip_disk_full", "skip_recording_stopped", "skip_queue_full")



class PairRecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__("pair_recorder", **kwargs)
        from sensor_msgs.msg import CameraInfo, Image
        from std_srvs.srv import Trigger

        from seal_ros.msg import RecorderStatus

        self._status_type = RecorderStatus
        self.params = ParamSet(self, PARAMS)
        self.get_logger().info(warm_up("pair_recorder"))  # numba kernels before the first packet
        self.errors = ErrorCounter(self.get_logger())
        self.worker = RecorderWorker(int(self.params["max_queue_mb"] * 1e6))
        self._report = IngestReporter(self, self.errors)
        self._internal_errors = 0
        self._camera_info_saved = False
        image_topic = self.params["image_topic"]
        info_topic = self.params["camera_info_topic"] or (
            image_topic.rsplit("/", 1)[0] + "/camera_info" if "/" in image_topic else "camera_info")
        self.watch = w = TopicWatch(self.params["topic_timeout_s"])
        events_topic = self.params["events_topic"]
        self.create_subscription(event_packet_type(), events_topic, w.wrap("events", events_topic, self._on_events),
                                 EVENTS_QOS)
        self.create_subscription(Image, image_topic, w.wrap("images", image_topic, self._on_image), SENSOR_QOS)
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info, SENSOR_QOS)
        self.create_service(Trigger, "~/start", safe_service(self.errors, "~/start")(self._srv_start))
        self.create_service(Trigger, "~/stop", safe_service(self.errors, "~/stop")(self._srv_stop))
        self._status_pub = self.create_publisher(RecorderStatus, "~/status", RESULT_QOS)
        self.create_timer(self.params["status_period_s"], self._publish_status)
        self.diagnostics = Diagnostics(self, "pair recording", self._diag_values, self.params["diagnostics_period_s"],
                                       problem_keys=PROBLEM_COUNTERS, errors=self.errors, watch=w)
        self._reported_stop = None
        self._last_start_error = ""
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
    def _skips(self, s: dict) -> dict:
        skips = dict(s.get("skips", {}))
        if self.errors.counts.get("bad_image"):
            skips["bad_image_message"] = self.errors.counts["bad_image"]
        if self.worker.counts["dropped_queue_full_images"]:
            skips["queue_full"] = self.worker.counts["dropped_queue_full_images"]
        return skips

    def _diag_values(self) -> dict:
        """Every counter of the worker and its session as a flat key (skips as ``skip_<reason>``)."""
        s = self.worker.status()
        v = self.worker.counters()
        v.update({k: val for k, val in s.items() if isinstance(val, (int, float, str)) and k != "skips"})
        v["internal_errors"] = v.get("internal_errors", 0) + self._internal_errors
        v.update({f"skip_{k}": n for k, n in self._skips(s).items()})
        for k in PROBLEM_COUNTERS:  # every problem counter a key, zero until it happens
            v.setdefault(k, 0)
        v["images_received"] = int(s.get("images_received", 0)) + self.errors.counts.get("bad_image", 0)
        error = str(s.get("last_error", "") or self._last_start_error)
        v["fault"] = (f"recording stopped: {error}" if s.get("last_error") else f"cannot start recording: {error}") \
            if error and not s.get("recording") else ""
        return v

    def _publish_status(self) -> None:
        s = self.worker.status()
        msg = self._status_type()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.recording = bool(s.get("recording"))
        msg.session_dir = str(s.get("path", ""))
        msg.pairs_written = int(s.get("pairs_written", 0))
        msg.events_written = int(s.get("events_written", 0))
        msg.bytes_written = int(s.get("bytes_written", 0))
        skips = self._skips(s)
        for note in self.worker.take_notes():
            self.get_logger().warning(note)
        msg.skip_reasons = list(skips)
        msg.skip_counts = [int(v) for v in skips.values()]
        msg.lost_packets = int(s.get("lost_packets", 0))
        msg.last_error = str(s.get("last_error", "") or self._last_start_error)
        msg.images_received = int(s.get("images_received", 0)) + int(self.errors.counts.get("bad_image", 0))
        msg.images_pending = int(s.get("pending_images", 0))
        msg.images_out_of_order = int(s.get("images_out_of_order", 0))
        msg.silent_topics = [topic for topic, _ in self.watch.silent()]
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

    def destroy_node(self):
        self.worker.shutdown(timeout_s=1.0)  # what is not written by then stays valid (crash-safe format)
        return super().destroy_node()


def main(args=None):
    return run_node(PairRecorderNode, args)
