"""``event_reconstructor``: live grayscale video from an event camera.

A thin adapter over :class:`seal_ros.e2v.reconstructor.Reconstructor`:
packets are decoded (:class:`~seal_ros.events.stream.EventStream`), cut into
windows (duration or count), reconstructed, and published as mono8 on
``~/image`` with ``header.stamp`` = the window's end. Topics, parameters and
services: docs/e2v.md.
"""
from __future__ import annotations

import threading
import time

from rclpy.node import Node

from seal_ros.e2v.reconstructor import ALL_METHODS, DEVICES, PADDING_MODES, Reconstructor
from seal_ros.events.buffer import CountWindower, DurationWindower
from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.nodes.common import (
    EVENTS_QOS, SENSOR_QOS, Diagnostics, ErrorCounter, event_packet_type, ns_to_stamp, packet_from_msg, stamp_to_ns,
)
from seal_ros.nodes.params import Param, ParamSet

PARAMS = [
    Param("events_topic", "/event_camera/events", "EventPacket topic to reconstruct.", read_only=True),
    Param("frame_id", "", "header.frame_id of ~/image (empty: the packets' frame_id).",),
    Param("rate_hz", 0.0, "Publish at this rate, each image covering the events since the previous one "
          "(0: once per window, see window_mode).", range=(0.0, 1000.0)),
    Param("window_mode", "duration", "How windows are cut when rate_hz is 0.", choices=("duration", "count")),
    Param("window_duration_ms", 33.3, "Window length in duration mode (ms).", range=(0.1, 10000.0)),
    Param("window_events", 30000, "Events per window in count mode (E2VID uses 0.35 * width * height).",
          range=(1, 100_000_000)),
    Param("method", "hpf", "Reconstruction method: hpf (high-pass filter), cf (complementary filter, needs "
          "~/frames), or a network (needs a checkpoint). Changeable at run time; if the network cannot be loaded "
          "the node says so and runs on hpf.", choices=ALL_METHODS),
    Param("device", "cpu", "Torch device for learned methods.", choices=DEVICES),
    Param("checkpoint", "", "Weights file for learned methods, as published (rpg_e2vid / EVREAL layouts)."),
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
    Param("max_window_events", 5_000_000, "Events kept in one open window at most (oldest dropped, counted).",
          range=(1000, 1_000_000_000)),
    Param("diagnostics_period_s", 1.0, "Period of the /diagnostics status.", range=(0.1, 60.0), read_only=True),
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
        self.stream = EventStream()
        self.recon = None
        self.active_method = "hpf"
        self.size = None
        self._frame_id = "event_camera"
        self.counts = dict(packets_in=0, events_in=0, windows_out=0, images_published=0, lost_packets=0,
                           bad_packets=0, frames_in=0, frames_rejected=0, method_failures=0)
        self._latency_sum = 0.0
        self._latency_n = 0
        self._latency_max = 0.0
        self._last_event_wall = None
        self._pending = []  # rate_hz mode: events since the last tick
        self._last_published_t = None
        self.params = ParamSet(self, PARAMS, self._on_param)
        self._make_windower()
        self.pub = self.create_publisher(Image, "~/image", SENSOR_QOS)
        self.create_subscription(event_packet_type(), self.params["events_topic"], self._on_events, EVENTS_QOS)
        self.create_subscription(Image, "~/frames", self._on_frame, SENSOR_QOS)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self._tick_timer = None
        self._set_rate_timer()
        self.create_timer(0.25, self._idle_tick)
        self.diagnostics = Diagnostics(self, "event reconstruction", self._diag_values,
                                       self.params["diagnostics_period_s"])

    # -- configuration ------------------------------------------------------------------------
    def _make_windower(self) -> None:
        p = self.params
        if p["window_mode"] == "count":
            self.windower = CountWindower(p["window_events"])
        else:
            self.windower = DurationWindower(int(p["window_duration_ms"] * 1e6), max_events=p["max_window_events"])

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
        try:
            self.recon = Reconstructor(p["method"], width, height, p["device"], p["checkpoint"] or None, **kw)
            self.active_method = p["method"]
        except Exception as exc:  # noqa: BLE001 - any load failure: say so once, keep running on hpf
            self.counts["method_failures"] += 1
            self.get_logger().error(f"cannot use method {p['method']!r}: {exc}; running on hpf instead")
            self.recon = Reconstructor("hpf", width, height, **kw)
            self.active_method = "hpf"
        self.get_logger().info(f"reconstructing {width}x{height} with {self.active_method} on {self.recon.device}")

    def _on_param(self, name, value) -> None:
        with self._lock:
            if name in REBUILD and self.size is not None:
                self._build()
            if name in REWINDOW:
                self._make_windower()
                self._pending = []
            if name == "rate_hz":
                self._set_rate_timer()

    # -- input --------------------------------------------------------------------------------
    def _on_events(self, msg) -> None:
        arrival = time.monotonic()
        with self._lock:
            pkt = packet_from_msg(msg)
            d = self.stream.push(pkt)
            self.counts["packets_in"] += 1
            self.counts["lost_packets"] += d.lost_packets
            if d.error:
                self.counts["bad_packets"] += 1
                self.errors.report("bad_packet", f"event packet dropped: {d.error}")
                return
            if pkt.frame_id:
                self._frame_id = pkt.frame_id
            size = (int(pkt.width), int(pkt.height))
            if size != self.size:
                self.size = size
                self._build()
                self._make_windower()
            if not len(d.events):
                return
            self.counts["events_in"] += len(d.events)
            self._last_event_wall = arrival
            if self.params["rate_hz"] > 0:
                self._pending.append(d.events)
                return
            for w in self.windower.feed(d.events, d.lost_packets):
                self._publish(self.recon.process(w.events, w.t1), w.t1, arrival)

    def _on_frame(self, msg) -> None:
        from seal_ros.io.images import ImageError, image_msg_to_array

        with self._lock:
            self.counts["frames_in"] += 1
            if self.recon is None:
                return  # no sensor size yet
            try:
                img = image_msg_to_array(msg)
                if img.ndim == 3:
                    img = (img[..., :3].astype("float32") @ [0.299, 0.587, 0.114]).round().clip(0, 255).astype("uint8")
                self.recon.add_frame(stamp_to_ns(msg.header.stamp), img)
            except (ImageError, ValueError) as exc:
                self.counts["frames_rejected"] += 1
                self.errors.report("bad_frame", f"frame rejected: {exc}")

    # -- output -------------------------------------------------------------------------------
    def _publish(self, img, t_ns: int, arrival: float | None, window: bool = True) -> None:
        from seal_ros.io.images import array_to_image_fields

        msg = self._image_type(**array_to_image_fields(img))
        msg.header.stamp = ns_to_stamp(int(t_ns))
        msg.header.frame_id = self.params["frame_id"] or self._frame_id
        self.pub.publish(msg)
        self._last_published_t = int(t_ns)
        self.counts["windows_out"] += int(window)
        self.counts["images_published"] += 1
        if arrival is not None:
            lat = time.monotonic() - arrival
            self._latency_sum += lat
            self._latency_n += 1
            self._latency_max = max(self._latency_max, lat)

    def _rate_tick(self) -> None:
        with self._lock:
            if not self._pending or self.recon is None:
                return
            ev = EventArray.concatenate(self._pending)
            self._pending = []
            t_end = int(ev.t.max()) + 1
            self._publish(self.recon.process(ev, t_end), t_end, self._last_event_wall)

    def _idle_tick(self) -> None:
        with self._lock:
            if (not self.params["publish_on_idle"] or self.recon is None or self._last_event_wall is None
                    or self._last_published_t is None):
                return
            idle = time.monotonic() - self._last_event_wall
            if idle < self.params["idle_timeout_s"]:
                return
            # event time advances with the wall clock while the camera is silent
            t = self._last_published_t + int(0.25e9)
            self._publish(self.recon.process(EventArray.empty(), t), t, None, window=False)

    def _srv_reset(self, request, response):
        with self._lock:
            if self.recon is not None:
                self.recon.reset()
            self._make_windower()
            self._pending = []
        response.success, response.message = True, "reconstruction state reset"
        return response

    def _diag_values(self) -> dict:
        with self._lock:
            s = self.stream.stats
            v = dict(self.counts)
            v.update(method=self.params["method"], active_method=self.active_method,
                     device=getattr(self.recon, "device", "-"), resets=getattr(self.recon, "resets", 0),
                     late_events=getattr(self.windower, "late_events", 0),
                     dropped_overflow=getattr(self.windower, "dropped_overflow", 0),
                     latency_ms_mean=round(1000 * self._latency_sum / self._latency_n, 3) if self._latency_n else 0,
                     latency_ms_max=round(1000 * self._latency_max, 3),
                     decode_errors=s.get("bad_packets", 0),
                     errors=sum(self.errors.counts.values()) + (self.active_method != self.params["method"]))
            return v


def main(args=None):
    from seal_ros.nodes.common import run_node

    run_node(EventReconstructorNode, args)
