"""``seal-ros demo``: the bundled real recordings through the real node graph."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from seal_ros.cli import CliError

RECORDINGS = {"evt3_640x480": "evt3_640x480", "davis346": "libcaer_cmp_davis346"}
FIRENET_FILE = Path("models") / "firenet" / "model.pth"  # in the shared folder beside the recordings


def _segmentation_status(models_dir: str) -> dict:
    from seal_ros.seal.weights import MissingWeights, resolve_weights

    try:
        resolve_weights(models_dir)
    except MissingWeights as exc:
        return {"status": "skipped", "why": f"SEAL weights not found: {exc}",
                "shown_instead": "event images, prompts and reconstructions; no masks (random weights are never shown)"}
    return {"status": "ran", "models_dir": models_dir}


def _warm_up(width: int, height: int) -> None:
    """Compile (or load from numba's cache) the per-event kernels before anything is timed."""
    import numpy as np

    from seal_ros.e2v.reconstructor import Reconstructor
    from seal_ros.events.representations import event_image
    from seal_ros.events.types import EventArray

    n = 64
    ev = EventArray(np.arange(n, dtype=np.uint16) % width, np.arange(n, dtype=np.uint16) % height,
                    np.arange(n, dtype=np.uint8) % 2, np.arange(n, dtype=np.int64) * 1000)
    event_image(ev, width, height)
    Reconstructor("hpf", width, height, "cpu").process(ev, n * 1000)


def _firenet_status(args, data: Path) -> dict:
    """Where the real FireNet weights are (``--firenet``, else ``<data>/../models/firenet/model.pth``), checked."""
    from seal_ros.e2v.checkpoint import CheckpointError, load_checkpoint

    if args.firenet == "":
        return {"status": "skipped", "why": "--firenet ''"}
    path = Path(args.firenet) if args.firenet else data.parent / FIRENET_FILE
    if not path.is_file():
        return {"status": "skipped", "why": f"FireNet weights not found at {path} (--firenet FILE)"}
    try:
        load_checkpoint(path, "firenet")
    except CheckpointError as exc:
        raise CliError(str(exc)) from None
    return {"status": "ran", "checkpoint": str(path), "window_ms": 100.0}


def run(args) -> int:
    from seal_ros.events.stream import EventStream
    from seal_ros.io.bags import BagReader
    from seal_ros.models.manifest import default_models_dir
    from seal_ros.nodes.demo import play_firenet, play_recording, write_outputs

    data = Path(args.data or os.environ.get("SEAL_ROS_DATA", "../shared/data"))
    names = args.recordings or list(RECORDINGS)
    for name in names:
        if name not in RECORDINGS:
            raise CliError(f"unknown recording {name!r}; choose from {', '.join(RECORDINGS)}")
        if not (data / RECORDINGS[name]).exists():
            raise CliError(f"recording {data / RECORDINGS[name]} not found (--data DIR or $SEAL_ROS_DATA)")
    models_dir = args.models_dir or str(default_models_dir())
    seg = _segmentation_status(models_dir)
    firenet = _firenet_status(args, data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"seal-ros demo: writing to {out}")
    if seg["status"] == "skipped":
        print(f"  segmentation: SKIPPED. {seg['why']}")
        print("  everything that runs without weights is shown; no masks are invented.")
    if firenet["status"] == "ran":
        print(f"  FireNet: real weights {firenet['checkpoint']}, beside the high-pass filter")
    else:
        print(f"  FireNet: SKIPPED. {firenet['why']}")
    t0 = time.monotonic()
    caps, events = [], {}
    for name in names:
        bag = data / RECORDINGS[name]
        stream, last_t, n = EventStream(), [], 0
        with BagReader(bag) as reader:
            for packet in reader.event_packets():
                ev = stream.push(packet).events
                n += len(ev)
                last_t.append(int(ev.t[-1]) if len(ev) else (last_t[-1] if last_t else 0))
        events[name] = n
        _warm_up(packet.width, packet.height)
        caps.append(play_recording(bag, name, models_dir, last_t, speed=args.speed))
        if firenet["status"] == "ran":
            play_firenet(bag, caps[-1], firenet["checkpoint"], speed=args.speed)
    summary = write_outputs(out, caps, seg, events, firenet)
    summary["wall_time_s"] = round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for rec in summary["recordings"]:
        lat = rec["latency_ms"]
        print(f"  {rec['name']}: {rec['events']} events, {rec['reconstructed_frames']} reconstructed frames "
              f"({rec['firenet_frames']} by FireNet), "
              f"{rec['overlay_frames']} overlays, {rec['instances_published']} instances; latency p50 "
              f"packet->image {lat['packet_to_reconstructed_image'].get('p50')} ms, "
              f"packet->overlay {lat['packet_to_overlay'].get('p50')} ms")
    print(f"  contact sheet: {summary['outputs'].get('contact_sheet')}; summary: {out / 'summary.json'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="play the bundled recordings through the node graph and write the results")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--data", default=None, help="folder of the shared recordings (default $SEAL_ROS_DATA)")
    p.add_argument("--models-dir", default=None, help="SEAL weights folder (default $SEAL_ROS_MODELS or ~/.cache/seal_ros/models)")
    p.add_argument("--recordings", nargs="*", default=None, help=f"subset of {', '.join(RECORDINGS)}")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed factor (1 = real time)")
    p.add_argument("--firenet", default=None, metavar="FILE",
                   help="real FireNet weights shown beside the high-pass filter (default: <data>/../models/"
                        "firenet/model.pth when present; '' to skip)")
    p.set_defaults(func=run)
