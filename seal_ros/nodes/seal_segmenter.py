"""``seal_segmenter``: SEAL open-vocabulary instance segmentation of an event stream.

Thin adapter: packets to stamped windows (:mod:`seal_ros.events.source`), prompts
(:mod:`~seal_ros.segment.prompts`, :mod:`~seal_ros.segment.clicks`) and
inference (:mod:`~seal_ros.segment.runner`, :mod:`seal_ros.seal.predictor`)
live in the core; the node subscribes, builds the results' ``InstanceMaskArray``
(:func:`instances_msg`) and publishes. Parameters: :mod:`seal_ros.nodes.segmenter_params`;
the picture outputs' messages: :mod:`seal_ros.nodes.segmenter_msgs`. See docs/segmenter.md
for topics, parameters and the RViz2 workflow.
"""
from __future__ import annotations

import array
import threading
import time

import numpy as np

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from seal_ros.nodes import segmenter_msgs as msgs
from seal_ros.events.source import PROBLEM_COUNTERS as INGEST_PROBLEMS, WindowSource
from seal_ros.nodes.common import (
    EVENTS_QOS, RESULT_QOS, SENSOR_QOS, Diagnostics, ErrorCounter, TopicWatch, event_packet_type, image_qos,
    ns_to_stamp, packet_from_msg, safe_service,
)
from seal_ros.nodes.ingest import IngestReporter, ingest_config
from seal_ros.nodes.params import ParameterError, ParamSet
from seal_ros.nodes.segmenter_params import (AUTO_FIELDS, PARAMS, TRACK_PARAMS, auto_classes, mode_refused,
                                             segment_config)
from seal_ros.seal.prompt import Granularity
from seal_ros.segment import vocabulary as V
from seal_ros.segment.event_images import make_event_image, make_event_image_tensor
from seal_ros.segment.clicks import ClickError, ClickPrompter, image_click_to_pixel, plane_click_to_pixel
from seal_ros.segment.plane import PlaneGeometry
from seal_ros.segment.prompts import PromptError, PromptStore, prompt_from_msg
from seal_ros.segment.runner import SegmentRunner, WindowOutput
from seal_ros.warmup import warm_up

# Reliable + transient local: RViz2's Map display (transient local by default) and
# volatile subscribers both match, and a late RViz2 gets the current plane at once.
PLANE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Keys of _diag_values() that count lost, refused or discontinuous data.
PROBLEM_COUNTERS = INGEST_PROBLEMS + ("dropped_windows", "internal_errors")


def rle_field(r) -> array.array:
    """``InstanceMask.mask_rle`` of a result: its run lengths (encoded on the model's device), or
    encoded here from a dense mask."""
    from seal_ros.seal.rle import encode_rle_numpy

    counts = r.rle if r.rle is not None else encode_rle_numpy(r.mask)
    out = array.array("I")
    out.frombytes(np.ascontiguousarray(counts, dtype=np.uint32).tobytes())
    return out


def instances_msg(out: WindowOutput, stamp, start_stamp, mask_image: bool = False):
    """``seal_ros/InstanceMaskArray``: stamp = window end; class indices into the carried vocabulary;
    masks as run lengths (``mask_rle``), and as mono8 images (``mask``) only with ``mask_image``."""
    from sensor_msgs.msg import Image

    from seal_ros.msg import InstanceMask, InstanceMaskArray

    w = out.window
    arr = InstanceMaskArray(window_start=start_stamp, event_count=w.count, width=w.width, height=w.height,
                            vocabulary=list(out.vocabulary))
    arr.header.stamp, arr.header.frame_id = stamp, w.frame_id
    tracks = out.track_ids or [0] * len(out.results)
    for i, (r, ci, t) in enumerate(zip(out.results, out.class_indices, tracks)):
        mask = msgs.image_msg(r.mask_array().astype(np.uint8) * 255, stamp, w.frame_id) if mask_image else Image()
        arr.instances.append(InstanceMask(
            id=i, prompt_id=int(r.prompt_id), class_index=int(ci), class_name=out.vocabulary[ci] if ci >= 0 else "",
            class_score=float(r.class_score), mask_score=float(r.mask_score), score=float(r.score),
            granularity=Granularity.parse(r.granularity).code, bbox=[float(v) for v in r.bbox], track_id=int(t),
            mask=mask, mask_rle=rle_field(r)))
    return arr


class SealSegmenterNode(Node):
    def __init__(self, **kwargs):
        super().__init__("seal_segmenter", **kwargs)
        from geometry_msgs.msg import Point, PointStamped
        from nav_msgs.msg import OccupancyGrid
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import Trigger
        from visualization_msgs.msg import MarkerArray

        from seal_ros.msg import InstanceMaskArray, Prompt, PromptArray

        self.params = p = ParamSet(self, PARAMS, self._on_param)
        self._backend = p["backend"]  # the backend loaded, once it is
        if mode_refused(p["mode"], self._backend):
            raise ParameterError(f"{self.get_name()}: invalid start-up value mode={p['mode']!r} with backend "
                                 f"{self._backend!r}: {mode_refused(p['mode'], self._backend)} (rule: backend "
                                 "onnx runs mode prompted only)")
        self.add_on_set_parameters_callback(self._refuse_mode)
        self.get_logger().info(warm_up("seal_segmenter"))  # numba kernels before the first packet
        self.errors = ErrorCounter(self.get_logger())
        self.source = WindowSource(p["window_mode"], int(p["window_duration_ms"] * 1e6), p["window_events"],
                                   ingest_config(p), p["max_window_events"])
        self._report = IngestReporter(self, self.errors)
        self._internal_errors = 0
        self.store = PromptStore(track=p["track_prompts"])
        self.clicks = ClickPrompter(p["click_mode"], p["click_granularity"])
        self._sensor = None  # (w, h) once packets arrive
        self._image_device = None  # torch device of the event images (None: numba on the CPU)
        self.last_timings: dict = {}  # stage seconds of the last window published (WindowOutput.timings)
        self.last_timed_window = None  # its end (ns), set just after last_timings
        self._bg = None  # (wall time, image) from ~/image_in
        self._last_plane = 0.0
        self._plane_lock = threading.Lock()
        self.runner = SegmentRunner(self._load_model, self.store, self._publish, self.get_logger(), self.errors,
                                    self._event_image, p["overlay_alpha"])
        self.runner.background = self._background
        self.runner.mask_format = "both" if p["mask_image"] else "rle"
        self.runner.pending_corner = lambda: self.clicks.pending
        self.runner.set_vocabulary("instance", V.clean_vocabulary(p["vocabulary"]), p["prompt_templates"])
        self.runner.set_vocabulary("part", V.clean_vocabulary(p["part_vocabulary"]), p["part_prompt_templates"])
        self.runner.segmenter.configure(segment_config(p))
        self.runner.set_auto_classes(*auto_classes(p), p["prompt_templates"])

        self._pub_instances = self.create_publisher(InstanceMaskArray, "~/instances", RESULT_QOS)
        self._pub_overlay = self.create_publisher(Image, "~/overlay", image_qos(p["image_reliability"]))
        self._pub_event_image = self.create_publisher(Image, "~/event_image", image_qos(p["image_reliability"]))
        self._pub_plane = self.create_publisher(OccupancyGrid, "~/plane", PLANE_QOS)
        self._pub_markers = self.create_publisher(MarkerArray, "~/markers", RESULT_QOS)
        self.runner.want_overlay = lambda: self._pub_overlay.get_subscription_count() > 0
        self.runner.publish_overlay = self._publish_overlay
        self.watch = TopicWatch(p["topic_timeout_s"])
        self.create_subscription(event_packet_type(), p["events_topic"],
                                 self.watch.wrap("events", p["events_topic"], self._on_events), EVENTS_QOS)
        self.create_subscription(PromptArray, "~/prompts", lambda m: self._on_prompts(m.prompts), RESULT_QOS)
        self.create_subscription(Prompt, "~/prompt", lambda m: self._on_prompts([m]), RESULT_QOS)
        self.create_subscription(String, "~/query", self._on_query, RESULT_QOS)
        self.create_subscription(PointStamped, "clicked_point", self._on_plane_click, RESULT_QOS)
        self.create_subscription(Point, "~/mouse_left", self._on_image_click, RESULT_QOS)
        self.create_subscription(Image, "~/image_in", self._on_image_in, SENSOR_QOS)
        self.create_service(Trigger, "~/clear_prompts", safe_service(self.errors, "~/clear_prompts")(self._srv_clear))
        self.diagnostics = Diagnostics(self, "segmenter", self._diag_values, problem_keys=PROBLEM_COUNTERS,
                                       errors=self.errors, watch=self.watch)
        self.runner.start()

    # -- model -------------------------------------------------------------------------------
    def _load_model(self):
        from seal_ros.deps import require

        require("segment_anything"), require("open_clip")  # pip-only: one line naming the pip step
        from seal_ros.segment.loading import load_predictor

        p, log = self.params, self.get_logger()
        predictor, info = load_predictor(
            p["model"], p["models_dir"], p["device"], p["precision"], p["compile"], p["backend"], p["onnx_dir"],
            log=log.info, warn=lambda m: log.warning(m + (". Use model=vit_b with the real weights."
                                                        if p["model"] == "tiny" else "")),
            automatic=p["mode"] != "prompted")
        self._backend = info["backend"]
        on = p["event_image_on"]
        self._image_device = predictor.device if on == "model_device" or (
            on == "auto" and predictor.device.type == "cuda") else None
        where = self._image_device if self._image_device is not None else "the CPU (numba)"
        log.info(f"SEAL {p['model']} on backend {info['backend']}, {info['device']} ({info['precision']}); "
                 f"event images built on {where}")
        return predictor

    def _refuse_mode(self, params):
        """``ros2 param set mode auto|both`` is refused, with the reason, on an ONNX Runtime model."""
        from rcl_interfaces.msg import SetParametersResult

        reason = next((mode_refused(q.value, self._backend) for q in params if q.name == "mode"), None)
        return SetParametersResult(successful=reason is None, reason=reason or "")

    def _on_param(self, name, value):
        p = self.params
        if name in ("vocabulary", "prompt_templates"):
            self.runner.set_vocabulary("instance", V.clean_vocabulary(p["vocabulary"]), p["prompt_templates"])
        elif name in ("part_vocabulary", "part_prompt_templates"):
            self.runner.set_vocabulary("part", V.clean_vocabulary(p["part_vocabulary"]), p["part_prompt_templates"])
        elif name in ("window_mode", "window_duration_ms", "window_events", "max_window_events"):
            self.source.configure(p["window_mode"], int(p["window_duration_ms"] * 1e6), p["window_events"],
                                  p["max_window_events"])
        elif name == "click_mode":
            self.clicks.mode = value
        elif name == "click_granularity":
            self.clicks.granularity = value
        elif name == "track_prompts":
            self.store.track = value
        elif name == "overlay_alpha":
            self.runner.overlay_alpha = value
        if name in ("vocabulary", "prompt_templates", "query", "background_classes"):
            self.runner.set_auto_classes(*auto_classes(p), p["prompt_templates"])
        if name in ("mode", "query") or name in AUTO_FIELDS or name in TRACK_PARAMS:
            self.runner.segmenter.configure(segment_config(p))
            if name in ("mode", "query"):
                self.runner.poke()  # the last window again, in the new mode
        if name == "mask_image":
            self.runner.mask_format = "both" if value else "rle"

    # -- input ---------------------------------------------------------------------------------
    def _on_events(self, msg) -> None:
        try:
            res = self.source.push(packet_from_msg(msg))
            self._report(res)
            if res.error is None:
                self._sensor = (int(msg.width), int(msg.height))
            for w in res.windows:
                self.runner.submit(w)
        except Exception as exc:  # noqa: BLE001 - no input may end the node
            self._internal_errors += 1
            self._report.crashed("event packet", exc)

    def _on_prompts(self, msgs) -> None:
        try:
            self.store.put([prompt_from_msg(m) for m in msgs])
        except PromptError as exc:
            self.errors.report("bad_prompt", f"prompt refused: {exc}")
            return
        self.runner.poke()

    def _on_query(self, msg) -> None:
        """~/query: the ``query`` parameter set from a message (same check; refused ones counted)."""
        from rclpy.parameter import Parameter

        res = self.set_parameters([Parameter("query", value=str(msg.data))])[0]
        if not res.successful:
            self.errors.report("bad_query", f"~/query refused: {res.reason}")

    def _add_click(self, col: int, row: int) -> None:
        prompt = self.clicks.click(col, row)
        if prompt is None:
            self.get_logger().info(f"first corner at pixel ({col}, {row}); click the opposite corner")
        else:
            self.get_logger().info(f"prompt {prompt.id} from clicks: {prompt.box or prompt.points.tolist()}")
            try:
                self.store.put([prompt])
            except PromptError as exc:
                self.errors.report("bad_prompt", f"click prompt refused: {exc}")
        self.runner.poke()

    def _on_plane_click(self, msg) -> None:
        p = self.params
        if self._sensor is None:
            self.errors.report("click_before_events", "click ignored: no events received yet")
            return
        geo = PlaneGeometry(*self._sensor, p["plane_resolution"], p["plane_origin_x"], p["plane_origin_y"],
                            p["plane_frame"])
        try:
            self._add_click(*plane_click_to_pixel(geo, msg.point.x, msg.point.y, msg.header.frame_id))
        except ClickError as exc:
            self.errors.report("bad_click", str(exc))

    def _on_image_click(self, msg) -> None:
        if self._sensor is None:
            self.errors.report("click_before_events", "click ignored: no events received yet")
            return
        try:
            self._add_click(*image_click_to_pixel(msg.x, msg.y, *self._sensor))
        except ClickError as exc:
            self.errors.report("bad_click", str(exc))

    def _on_image_in(self, msg) -> None:
        from seal_ros.io.images import ImageError, image_msg_to_array

        try:
            self._bg = (time.monotonic(), image_msg_to_array(msg))
        except ImageError as exc:
            self.errors.report("bad_image", f"~/image_in: {exc}")

    def _background(self):
        bg = self._bg
        return bg[1] if bg is not None and time.monotonic() - bg[0] <= self.params["image_timeout_s"] else None

    def _srv_clear(self, request, response):
        n = self.store.clear()
        self.clicks.reset()
        self.runner.poke()
        response.success, response.message = True, f"cleared {n} prompts"
        return response

    def _event_image(self, events, width, height):
        kind, device = self.params["event_representation"], self._image_device
        if device is not None:
            return make_event_image_tensor(kind, events, width, height, device)
        return make_event_image(kind, events, width, height)

    # -- output (worker thread) -------------------------------------------------------------------
    def _publish(self, out: WindowOutput) -> None:
        """Results first (what consumers wait for), then the event image and the plane."""
        stamp = ns_to_stamp(out.window.t1_ns)
        p = self.params
        geo = PlaneGeometry(out.window.width, out.window.height, p["plane_resolution"], p["plane_origin_x"],
                            p["plane_origin_y"], p["plane_frame"])
        if out.results is not None:  # None: no model, so publish nothing false
            t = time.perf_counter()
            arr = instances_msg(out, stamp, ns_to_stamp(out.window.t0_ns), p["mask_image"])
            t1 = time.perf_counter()
            self._pub_instances.publish(arr)
            out.timings.update({"message build": t1 - t, "publish": time.perf_counter() - t1})
            self._pub_markers.publish(msgs.markers_msg(out, geo, stamp))
        self.last_timings, self.last_timed_window = out.timings, out.window.t1_ns
        if not out.rerun:
            self._pub_event_image.publish(msgs.image_msg(out.host_image(), stamp, out.window.frame_id))
        now = time.monotonic()
        with self._plane_lock:
            due = p["plane_rate_hz"] > 0 and now - self._last_plane >= 1.0 / p["plane_rate_hz"]
            self._last_plane = now if due else self._last_plane
        if due:
            self._pub_plane.publish(msgs.plane_msg(out.host_image(), geo, p["plane_encoding"], stamp))

    def _publish_overlay(self, out: WindowOutput) -> None:
        self._pub_overlay.publish(msgs.image_msg(out.overlay, ns_to_stamp(out.window.t1_ns), out.window.frame_id))

    def _diag_values(self) -> dict:
        state = self.runner.state
        v = self.source.counters()
        v.update(self.runner.counts)
        v.update({f"auto_{k}": n for k, n in self.runner.segmenter.totals.items()})
        v.update(model=state, prompts=len(self.store), internal_errors=self._internal_errors, mode=self.params["mode"],
                 fault=(self.runner.banner or f"model {state}") if state in ("missing", "failed") else "")
        return v

    def destroy_node(self):
        self.runner.stop(timeout_s=1.0)
        return super().destroy_node()


def main(args=None):
    from seal_ros.nodes.common import run_node

    return run_node(SealSegmenterNode, args)
