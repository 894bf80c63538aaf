"""The demo: real recordings played into the real node graph over DDS.

For each recording: ``bag_player`` publishes its EventPackets at real speed;
``event_reconstructor`` (high-pass filter) and ``seal_segmenter`` run as they
would on a robot;
a scripted box prompt goes to ``/seal_segmenter/prompts`` and the vocabulary
is changed through the segmenter's real parameter service (what ``ros2 param
set`` calls). A collector node records what comes out. When real FireNet weights are
given, :func:`play_firenet` plays the recording a second time into an
``event_reconstructor`` running FireNet (namespace ``firenet``), so its CPU
load never touches the first pass's latencies. :func:`write_outputs` turns it
all into frames, clips, a contact sheet and ``summary.json``.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from seal_ros.io.images import image_msg_to_array
from seal_ros.nodes.common import RESULT_QOS, SENSOR_QOS, stamp_to_ns

TOPIC = "/event_camera/events"
FIRENET_NS = "firenet"
FIRENET_WINDOW_MS = 100.0  # FireNet on a CPU: fewer, longer windows than the filter's 33.3 ms
FIRST_VOCABULARY = ["person", "car", "bicycle"]
SECOND_VOCABULARY = ["person", "chair", "table", "monitor", "cup"]


@dataclass
class Capture:
    """What one recording's run produced."""

    name: str
    images: list = field(default_factory=list)  # (stamp ns, recv wall s, mono8 array)
    firenet_images: list = field(default_factory=list)  # the same, from the FireNet reconstructor
    firenet_latency_ms: list = field(default_factory=list)  # packet published -> FireNet image received
    overlays: list = field(default_factory=list)  # (stamp ns, recv wall s, rgb8 array)
    instances: list = field(default_factory=list)  # (stamp ns, recv wall s, n instances, vocabulary)
    diagnostics: dict = field(default_factory=dict)  # node name -> last key/values
    published: list = field(default_factory=list)  # player: (stamp ns, wall s)
    packet_last_t: list = field(default_factory=list)  # last event time (ns) of each packet, in play order
    script: list = field(default_factory=list)  # what the script did, with wall offsets
    vocabulary_change: dict = field(default_factory=dict)


class Collector(Node):
    def __init__(self, capture: Capture, **kwargs):
        super().__init__("demo_collector", **kwargs)
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image

        from seal_ros.msg import InstanceMaskArray

        self.cap = capture
        self.create_subscription(Image, "/event_reconstructor/image", self._on_image, SENSOR_QOS)
        self.create_subscription(Image, f"/{FIRENET_NS}/event_reconstructor/image", self._on_firenet, SENSOR_QOS)
        self.create_subscription(Image, "/seal_segmenter/overlay", self._on_overlay, SENSOR_QOS)
        self.create_subscription(InstanceMaskArray, "/seal_segmenter/instances", self._on_instances, RESULT_QOS)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)

    def _on_image(self, msg):
        self.cap.images.append((stamp_to_ns(msg.header.stamp), time.monotonic(), image_msg_to_array(msg)))

    def _on_firenet(self, msg):
        self.cap.firenet_images.append((stamp_to_ns(msg.header.stamp), time.monotonic(), image_msg_to_array(msg)))

    def _on_overlay(self, msg):
        self.cap.overlays.append((stamp_to_ns(msg.header.stamp), time.monotonic(), image_msg_to_array(msg)))

    def _on_instances(self, msg):
        self.cap.instances.append((stamp_to_ns(msg.header.stamp), time.monotonic(), len(msg.instances),
                                   list(msg.vocabulary)))

    def _on_diag(self, msg):
        for st in msg.status:
            self.cap.diagnostics[st.name] = {kv.key: kv.value for kv in st.values}


def _prompt_array(width: int, height: int):
    from seal_ros.msg import Prompt, PromptArray

    box = [width * 0.3, height * 0.3, width * 0.7, height * 0.7]
    return PromptArray(prompts=[Prompt(id=1, has_box=True, box=box, granularity=Prompt.GRANULARITY_INSTANCE,
                                       persistent=True)])


@contextlib.contextmanager
def _graph():
    """A context of its own, a single-threaded executor, and the nodes to destroy at the end."""
    ctx = Context()
    rclpy.init(context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    nodes = []
    try:
        yield ctx, executor, nodes
    finally:
        for n in nodes:
            n.destroy_node()
        rclpy.shutdown(context=ctx)


def _start(ctx, executor, nodes, bag: Path, speed: float):
    """Adds a ``bag_player`` for ``bag`` and spins every node on a thread; returns (player, thread)."""
    from seal_ros.nodes.player import BagPlayerNode

    player = BagPlayerNode(context=ctx, parameter_overrides=[
        Parameter("bag", value=str(bag)), Parameter("topic", value=TOPIC), Parameter("rate", value=speed),
        Parameter("start_delay_s", value=1.0)])
    nodes.append(player)
    for n in nodes:
        executor.add_node(n)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    return player, spinner


def play_recording(bag: Path, name: str, models_dir: str, packet_last_t: list, speed: float = 1.0,
                   log=print) -> Capture:
    """Runs the node graph on ``bag`` and returns what it published."""
    from rcl_interfaces.srv import SetParameters

    from seal_ros.msg import PromptArray
    from seal_ros.nodes.event_reconstructor import EventReconstructorNode
    from seal_ros.nodes.seal_segmenter import SealSegmenterNode

    cap = Capture(name, packet_last_t=list(packet_last_t))
    with _graph() as (ctx, executor, nodes):
        # stamps in the event clock: latencies are matched by event time (latency_ms)
        common = [Parameter("events_topic", value=TOPIC), Parameter("stamp_source", value="sensor")]
        nodes.append(EventReconstructorNode(context=ctx, parameter_overrides=common))
        nodes.append(SealSegmenterNode(
            context=ctx, parameter_overrides=common + [Parameter("models_dir", value=models_dir),
                                                       Parameter("vocabulary", value=FIRST_VOCABULARY)],
            cli_args=["--ros-args", "-r", "/seal_segmenter/image_in:=/event_reconstructor/image"]))
        collector = Collector(cap, context=ctx)
        nodes.append(collector)
        # The segmenter loads its model on a thread of its own (imports torch, CLIP, SAM):
        # play only once that settled, so the first windows are not timed against it.
        deadline = time.monotonic() + 120
        while nodes[1].runner.state == "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        player, spinner = _start(ctx, executor, nodes, bag, speed)

        first = player.packets[0]
        duration = (player.packets[-1].stamp_ns - first.stamp_ns) / 1e9 / speed
        prompts = collector.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
        params = collector.create_client(SetParameters, "/seal_segmenter/set_parameters")
        t0 = time.monotonic()
        while not player.published and time.monotonic() - t0 < 30:
            time.sleep(0.01)
        t_play = time.monotonic()
        log(f"  playing {name}: {len(player.packets)} packets, {duration:.2f} s at {speed}x")

        time.sleep(min(0.3 * duration, 1.0))
        prompts.publish(_prompt_array(first.width, first.height))
        cap.script.append((round(time.monotonic() - t_play, 3), "box prompt id 1 (centre 40% of the sensor)"))

        time.sleep(max(0.0, 0.6 * duration - (time.monotonic() - t_play)))
        if params.wait_for_service(timeout_sec=5.0):
            req = SetParameters.Request(parameters=[Parameter("vocabulary", value=SECOND_VOCABULARY).to_parameter_msg()])
            fut = params.call_async(req)
            deadline = time.monotonic() + 5
            while not fut.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            res = fut.result().results[0] if fut.done() else None
            cap.vocabulary_change = {"to": SECOND_VOCABULARY, "accepted": bool(res and res.successful),
                                     "reason": res.reason if res else "no answer"}
            cap.script.append((round(time.monotonic() - t_play, 3), f"ros2 param set vocabulary {SECOND_VOCABULARY}"))

        player.done.wait(timeout=duration + 30)
        time.sleep(1.5)  # drain: last windows, diagnostics
        cap.published = list(player.published)
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)
    return cap


def play_firenet(bag: Path, cap: Capture, checkpoint: str, speed: float = 1.0, log=print,
                 stall_s: float = 60.0) -> None:
    """Plays ``bag`` again into an ``event_reconstructor`` running FireNet; its images go to ``cap``.

    FireNet on a CPU is slower than real time: the node works through the
    queued packets after playback; this returns once it took them all (or
    took none for ``stall_s``).
    """
    from seal_ros.nodes.event_reconstructor import EventReconstructorNode

    tmp = Capture(cap.name, packet_last_t=list(cap.packet_last_t))
    with _graph() as (ctx, executor, nodes):
        node = EventReconstructorNode(context=ctx, namespace=FIRENET_NS, parameter_overrides=[
            Parameter("events_topic", value=TOPIC), Parameter("stamp_source", value="sensor"),
            Parameter("method", value="firenet"),
            Parameter("checkpoint", value=checkpoint), Parameter("window_duration_ms", value=FIRENET_WINDOW_MS)])
        nodes += [node, Collector(tmp, context=ctx)]
        player, spinner = _start(ctx, executor, nodes, bag, speed)
        log(f"  playing {cap.name} again for FireNet ({FIRENET_WINDOW_MS:.0f} ms windows)")
        player.done.wait(timeout=(player.packets[-1].stamp_ns - player.packets[0].stamp_ns) / 1e9 / speed + 30)
        seen, since = -1, time.monotonic()
        while (n := node.source.counters()["packets"]) < len(player.published) and time.monotonic() - since < stall_s:
            if n != seen:
                seen, since = n, time.monotonic()
            time.sleep(0.1)
        time.sleep(1.0)  # the last image on its way
        tmp.published = list(player.published)
        cap.diagnostics[f"{FIRENET_NS}/event_reconstructor"] = {k: str(v) for k, v in node._diag_values().items()}
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)
    cap.firenet_images = tmp.firenet_images
    cap.firenet_latency_ms = latency_ms(tmp, cap.firenet_images)


def latency_ms(cap: Capture, outputs: list) -> list:
    """Packet publication -> output reception, per output ``(stamp ns, recv wall s, ...)``.

    An output stamped S (its window end, in event time) can only be made once
    the packet holding the first event at or after S was received; latency
    counts from that packet's publication. ``cap.packet_last_t`` holds each
    packet's last event time, from decoding the recording beforehand.
    """
    if not cap.published or not cap.packet_last_t:
        return []
    last_t = np.maximum.accumulate(np.asarray(cap.packet_last_t[: len(cap.published)], np.int64))
    walls = np.array([w for _, w in cap.published])
    out = []
    for stamp, recv, *_ in outputs:
        i = int(np.searchsorted(last_t, stamp, side="left"))
        if i < len(walls):
            out.append((recv - walls[i]) * 1e3)
    return out


def _percentiles(values) -> dict:
    if not values:
        return {"count": 0}
    v = np.asarray(values, float)
    return {"count": int(v.size), "p50": round(float(np.percentile(v, 50)), 2),
            "p90": round(float(np.percentile(v, 90)), 2), "p99": round(float(np.percentile(v, 99)), 2),
            "max": round(float(v.max()), 2)}


def _numeric(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        try:
            out[k] = float(v) if "." in v or "e" in v.lower() else int(v)
        except (ValueError, AttributeError):
            out[k] = v
    return out


def write_outputs(out: Path, caps: list, segmentation: dict, event_counts: dict, firenet: dict | None = None) -> dict:
    """Frames, clips, a contact sheet and summary.json under ``out``; returns the summary."""
    from seal_ros.io.media import contact_sheet, write_clip, write_png

    summary = {"segmentation": segmentation, "firenet": firenet or {"status": "skipped"}, "recordings": [],
               "outputs": {}}
    sheet_frames, sheet_labels = [], []
    for cap in caps:
        d = out / cap.name
        for i, (stamp, _, img) in enumerate(cap.images):
            write_png(d / "frames" / f"{i:05d}_{stamp}.png", img)
        for i, (stamp, _, img) in enumerate(cap.firenet_images):
            write_png(d / "firenet" / f"{i:05d}_{stamp}.png", img)
        for i, (stamp, _, img) in enumerate(cap.overlays):
            write_png(d / "overlay" / f"{i:05d}_{stamp}.png", img)
        clips = {}
        if cap.images:
            clips["reconstruction"] = str(write_clip(d / "reconstruction.gif", [im for _, _, im in cap.images], fps=15))
        if cap.firenet_images:
            clips["firenet"] = str(write_clip(d / "firenet.gif", [im for _, _, im in cap.firenet_images], fps=10))
        if cap.overlays:
            clips["overlay"] = str(write_clip(d / "overlay.gif", [im for _, _, im in cap.overlays], fps=10))
        t_start = cap.images[0][0] if cap.images else 0
        for label, images in (("high-pass filter", cap.images), ("FireNet", cap.firenet_images)):
            for i in (np.linspace(0, len(images) - 1, 4).round().astype(int) if images else []):
                sheet_frames.append(images[i][2])
                sheet_labels.append(f"{cap.name} {label} t={(images[i][0] - t_start) / 1e6:.0f} ms")
        if cap.overlays:
            for i in np.linspace(0, len(cap.overlays) - 1, 4).round().astype(int):
                sheet_frames.append(cap.overlays[i][2])
                sheet_labels.append(f"{cap.name} overlay t={(cap.overlays[i][0] - cap.overlays[0][0]) / 1e6:.0f} ms")
        diag = {name: _numeric(values) for name, values in cap.diagnostics.items()}
        summary["recordings"].append({
            "name": cap.name,
            "packets_played": len(cap.published),
            "events": event_counts.get(cap.name),
            "reconstructed_frames": len(cap.images),
            "firenet_frames": len(cap.firenet_images),
            "overlay_frames": len(cap.overlays),
            "instance_messages": len(cap.instances),
            "instances_published": int(sum(n for _, _, n, _ in cap.instances)),
            "vocabularies_seen": sorted({tuple(v) for _, _, _, v in cap.instances}),
            "latency_ms": {"packet_to_reconstructed_image": _percentiles(latency_ms(cap, cap.images)),
                           "packet_to_firenet_image": _percentiles(cap.firenet_latency_ms),
                           "packet_to_overlay": _percentiles(latency_ms(cap, cap.overlays)),
                           "packet_to_instances": _percentiles(latency_ms(cap, cap.instances))},
            "node_diagnostics": diag,
            "script": cap.script,
            "vocabulary_change": cap.vocabulary_change,
            "clips": clips,
        })
    if sheet_frames:
        summary["outputs"]["contact_sheet"] = str(write_png(out / "contact_sheet.png",
                                                            contact_sheet(sheet_frames, 4, sheet_labels)))
    return summary
