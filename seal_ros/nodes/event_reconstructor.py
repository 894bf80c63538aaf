"""``event_reconstructor``: live grayscale video from an event camera.

A thin adapter over :class:`seal_ros.e2v.reconstructor.Reconstructor`:
packets become stamped windows (duration, count, or everything since the
last tick of ``rate_hz``) in :class:`seal_ros.events.source.WindowSource`, are
reconstructed, and published as mono8 on ``~/image`` with ``header.stamp`` =
the window's end (ROS time unless ``stamp_source`` is ``sensor``). Topics,
parameters and services: docs/e2v.md.
"""
from __future__ import annotations

import threading
import time

from rclpy.node import Node

from seal_ros.e2v.reconstructor import ALL_METHODS, DEVICES, PADDING_MODES, Reconstructor
from seal_ros.events.source import PROBLEM_COUNTERS as INGEST_PROBLEMS, WINDOW_MODES, WindowSource
from seal_ros.events.types import EventArray
from seal_ros.nodes.common import (
    EVENTS_QOS, SENSOR_QOS, Diagnostics, ErrorCounter, TopicWatch, event_packet_type, image_qos,
    image_reliability_param, ns_to_stamp, packet_from_msg, safe_service, stamp_to_ns, topic_timeout_param,
)
from seal_ros.nodes.ingest import IngestReporter, ingest_config, ingest_params
from seal_ros.nodes.params import Param, ParamSet
from seal_ros.warmup import warm_up

# Keys of _diag_values() that count lost, refused or discontinuous data.
PROBLEM_COUNTERS = INGEST_PROBLEMS + ("dropped_no_reconstructor", "frames_rejected", "method_failures",
                                      "internal_errors", "filter_events_outside")

PARAMS = [
    Param("events_topic", "event_camera/events", "EventPacket topic to reconstruct (relative: moves with the "
          "node's namespace).", read_only=True),
    Param("frame_id", "", "header.frame_id of ~/image (empty: the packets' frame_id).",),
    Param("rate_hz", 0.0, "Publish at this rate, each image covering the events since the previous one "
          "(0: once per window, see window_mode).", range=(0.0, 1000.0)),
    Param("window_mode", "duration", "How windows are cut when rate_hz is 0.", choices=WINDOW_MODES),
    Param("window_duration_ms", 33.3, "Window length in duration mode (ms).", range=(0.1, 10000.0)),
    Param("window_events", 30000, "Events per window in count mode (E2VID uses 0.35 * width * height).",
          range=(1, 100_000_000)),
    Param("method", "hpf", "Reconstruction method: hpf (high-pass filter), cf (complementary filter, needs "
          "~/frames), or a network (needs a checkpoint). Changeable at run time; if the network cannot be loaded "
          "the node says so and runs on hpf.", choices=ALL_METHODS),
    Param("device", "cpu", "Torch device for learned methods.", choices=DEVICES),
    Param("checkpoint", "", "Weights file for learned methods, as published (rpg_e2vid / EVREAL layouts).", path=True),
    Param("cutoff_hz", -1.0, "Filter cutoff frequency (Hz), alpha = 2 pi cutoff; -1: the reference default "
          "(0.06 hpf, 0.5 cf).", range=(-1.0, 1000.0)),
    Param("beta", 0.06, "hpf: per-event decay (the reference's Cutoff_frequency_per_event_component).",
          range=(0.0, 10.0)),
    Param("contrast_pos", 0.1, "Contrast threshold c+ of ON events (log intensity).", range=(0.001, 10.0)),
    Param("contrast_neg", 0.1, "Contrast threshold c- of OFF events (log intensity).", range=(0.001, 10.0)),
    Param("cf_init_from_frame", False, "cf: start from the first frame instead of 0 (a seal_ros option: no "
          "fade-in from black; the reference starts at 0)."),
    Param("unsharp_amount", -1.0, "Networks: rpg_e2vid's unsharp-mask amount, applied before rescaling "
          "(-1: rpg's 0.3; 0: off).", range=(-1.0, 5.0)),
    Param("auto_hdr", False, "Networks: rpg_e2vid's auto-HDR intensity range (off: [0, 1] maps to 0..255, as rpg "
          "by default)."),
    Param("padding", "reflect", "Networks: pad inputs to the stride by reflection (rpg_e2vid) or zeros (EVREAL).",
          choices=PADDING_MODES),
    Param("reset_gap_s", 1.0, "A gap in event time longer than this resets a network's state (s).",
          range=(0.001, 3600.0)),
    Param("publish_on_idle", False, "With no events for idle_timeout_s, keep publishing the decayed image "
          "(else publish nothing new)."),
    Param("idle_timeout_s", 1.0, "No events for this long counts as idle (s).", range=(0.01, 3600.0)),
    *ingest_params(),
    Param("diagnostics_period_s", 1.0, "Period of the /diagnostics status.", range=(0.1, 60.0), read_only=True),
    image_reliability_param("~/image"),
    topic_timeout_param("The events topic"),
]
REBUILD = {"method", "device", "checkpoint", "cutoff_hz", "beta", "contrast_pos", "contrast_neg",
           "cf_init_from_frame", "unsharp_amount", "auto_hdr", "padding", "reset_gap_s"}
REWINDOW = {"window_mode", "window_duration_ms", "window_events", "max_window_events", "rate_hz"}


class EventReconstructorNode(Node):
    def __init__(self, **kwargs):
        super().__init__("event_reconstructor", **kwargs)
        from sensor_msgs.msg import Image
        from std_srvs.srv import Trigger

        self._image_type = Image
        self._lock = threading.RLock()
        self.errors = ErrorCounter(self.get_logger())
        self.recon = None
        self.active_method = "hpf"
        self.size = None
        self._frame_id = "event_camera"
        self.counts = dict(windows_out=0, images_published=0, frames_in=0, frames_rejected=0, frames_before_events=0,
                           method_failures=0, dropped_no_reconstructor=0, internal_errors=0)
        self._latency_sum = 0.0
        self._latency_n = 0
        self._latency_max = 0.0
        self._last_event_wall = None
        self._last_t = None  # (event clock, output stamp) of the newest image
        self.params = ParamSet(self, PARAMS, self._on_param)
        self.get_logger().info(warm_up("event_reconstructor"))  # numba kernels before the first packet
        self.source = WindowSource(config=ingest_config(self.params))
        self._report = IngestReporter(self, self.errors)
        self._configure_source()
        self.pub = self.create_publisher(Image, "~/image", image_qos(self.params["image_reliability"]))
        self.watch = TopicWatch(self.params["topic_timeout_s"])
        self.create_subscription(event_packet_type(), self.params["events_topic"],
                                 self.watch.wrap("events", self.params["events_topic"], self._on_events), EVENTS_QOS)
        self.create_subscription(Image, "~/frames", self._on_frame, SENSOR_QOS)
        self.create_service(Trigger, "~/reset", safe_service(self.errors, "~/reset")(self._srv_reset))
        self._tick_timer = None
        self._set_rate_timer()
        self.create_timer(0.25, self._idle_tick)
        self.diagnostics = Diagnostics(self, "event reconstruction", self._diag_values,
                                       self.params["diagnostics_period_s"], problem_keys=PROBLEM_COUNTERS,
                                       errors=self.errors, watch=self.watch)

    # -- configuration ------------------------------------------------------------------------
    def _configure_source(self) -> None:
        p = self.params
        mode = "tick" if p["rate_hz"] > 0 else p["window_mode"]
        self.source.configure(mode, int(p["window_duration_ms"] * 1e6), p["window_events"], p["max_window_events"])

    def _set_rate_timer(self) -> None:
        if self._tick_timer is not None:
            self.destroy_timer(self._tick_timer)
            self._tick_timer = None
        if self.params["rate_hz"] > 0:
            self._tick_timer = self.create_timer(1.0 / self.params["rate_hz"], self._rate_tick)

    def _build(self) -> None:
        """(Re)build the reconstructor for the sensor size; fall back to hpf when a network cannot be used."""
        p = self.params
        width, height = self.size
        unsharp = None if p["unsharp_amount"] < 0 else p["unsharp_amount"]
        cutoff = None if p["cutoff_hz"] < 0 else p["cutoff_hz"]
        kw = dict(cutoff_hz=cutoff, beta=p["beta"], c_pos=p["contrast_pos"], c_neg=p["contrast_neg"],
                  init_from_frame=p["cf_init_from_frame"], unsharp_amount=unsharp, auto_hdr=p["auto_hdr"],
                  padding=p["padding"], reset_gap_s=p["reset_gap_s"])
        self.recon = None
        try:
            self.recon = Reconstructor(p["method"], width, height, p["device"], p["checkpoint"] or None, **kw)
            self.active_method = p["method"]
        except Exception as exc:  # noqa: BLE001 - any load failure: say so once, keep running on hpf
            self.counts["method_failures"] += 1
            self.get_logger().error(f"cannot use method {p['method']!r}: {exc}; running on hpf instead")
            try:
                self.recon = Reconstructor("hpf", width, height, **kw)
                self.active_method = "hpf"
            except (Exception, MemoryError) as exc2:  # noqa: BLE001 - e.g. no memory for this sensor size
                self.errors.report("no_reconstructor", f"cannot reconstruct {width}x{height}: "
                                   f"{type(exc2).__name__}: {exc2}; windows of this size are dropped")
                return
        self.get_logger().info(f"reconstructing {width}x{height} with {self.active_method} on {self.recon.device}")

    def _on_param(self, name, value) -> None:
        with self._lock:
            if name in REBUILD and self.size is not None:
                self._build()
            if name in REWINDOW:
                self._configure_source()
            if name == "rate_hz":
                self._set_rate_timer()

    # -- input --------------------------------------------------------------------------------
    def _on_events(self, msg) -> None:
        arrival = time.monotonic()
        with self._lock:
            try:
                res = self.source.push(packet_from_msg(msg))
                self._report(res)
                if res.error is None:
                    self._last_event_wall = arrival
                    if msg.header.frame_id:
                        self._frame_id = msg.header.frame_id
                for w in res.windows:
                    self._reconstruct(w, arrival)
            except Exception as exc:  # noqa: BLE001 - no input may end the node
                self.counts["internal_errors"] += 1
                self._report.crashed("event packet", exc)

    def _reconstruct(self, w, arrival) -> None:
        size = (w.width, w.height)
        if size != self.size:
            self.size = size
            self._build()
        if self.recon is None:
            self.counts["dropped_no_reconstructor"] += 1
            return
        if w.resync:  # a new stream or a time jump: no state carries over
            self.recon.reset()
        self._publish(self.recon.process(w.window.events, w.window.t1), w.window.t1, w.t1_ns, arrival)

    def _on_frame(self, msg) -> None:
        from seal_ros.io.images import ImageError, image_msg_to_array

        with self._lock:
            self.counts["frames_in"] += 1
            t = self.source.mapper.to_sensor(stamp_to_ns(msg.header.stamp))
            if self.recon is None or t is None:
                # no window yet (no sensor size) or no clock offset: it cannot be placed among the events
                self.counts["frames_before_events"] += 1
                return
            try:
                img = image_msg_to_array(msg)
                if img.ndim == 3:
                    img = (img[..., :3].astype("float32") @ [0.299, 0.587, 0.114]).round().clip(0, 255).astype("uint8")
                self.recon.add_frame(t, img)
            except (ImageError, ValueError) as exc:
                self.counts["frames_rejected"] += 1
                self.errors.report("bad_frame", f"frame rejected: {exc}")

    # -- output -------------------------------------------------------------------------------
    def _publish(self, img, t_event: int, stamp_ns: int, arrival: float | None, window: bool = True) -> None:
        from seal_ros.io.images import array_to_image_fields

        msg = self._image_type(**array_to_image_fields(img))
        msg.header.stamp = ns_to_stamp(int(stamp_ns))
        msg.header.frame_id = self.params["frame_id"] or self._frame_id
        self.pub.publish(msg)
        self._last_t = (int(t_event), int(stamp_ns))
        self.counts["windows_out"] += int(window)
        self.counts["images_published"] += 1
        if arrival is not None:
            lat = time.monotonic() - arrival
            self._latency_sum += lat
            self._latency_n += 1
            self._latency_max = max(self._latency_max, lat)

    def _rate_tick(self) -> None:
        with self._lock:
            try:
                for w in self.source.tick():
                    self._reconstruct(w, self._last_event_wall)
            except Exception as exc:  # noqa: BLE001
                self.counts["internal_errors"] += 1
                self._report.crashed("rate tick", exc)

    def _idle_tick(self) -> None:
        with self._lock:
            if (not self.params["publish_on_idle"] or self.recon is None or self._last_event_wall is None
                    or self._last_t is None):
                return
            idle = time.monotonic() - self._last_event_wall
            if idle < self.params["idle_timeout_s"]:
                return
            # event time advances with the wall clock while the camera is silent
            t, stamp = (v + int(0.25e9) for v in self._last_t)
            self._publish(self.recon.process(EventArray.empty(), t), t, stamp, None, window=False)

    def _srv_reset(self, request, response):
        with self._lock:
            if self.recon is not None:
                self.recon.reset()
            self.source.reset()
            self._last_t = None
        response.success, response.message = True, "reconstruction and stream state reset"
        return response

    def _diag_values(self) -> dict:
        with self._lock:
            v = self.source.counters()
            v.update(self.counts)
            v.update(self.recon.counters if self.recon is not None else {})
            v.setdefault("filter_events_outside", 0)
            v.update(method=self.params["method"], active_method=self.active_method,
                     device=getattr(self.recon, "device", "-"), resets=getattr(self.recon, "resets", 0),
                     latency_ms_mean=round(1000 * self._latency_sum / self._latency_n, 3) if self._latency_n else 0,
                     latency_ms_max=round(1000 * self._latency_max, 3),
                     fault="" if self.recon is None or self.active_method == self.params["method"] else
                     f"method {self.params['method']} could not be loaded; running on {self.active_method}")
            return v


def main(args=None):
    from seal_ros.nodes.common import run_node

    return run_node(EventReconstructorNode, args)
