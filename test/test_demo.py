"""The demo's own pipeline on a shortened real recording: frames, clips, summary with latencies."""
import json
import subprocess
import sys

from conftest import EVT3_BAG, ROOT

FIRENET = ROOT.parent / "shared" / "models" / "firenet" / "model.pth"


def shorten_bag(src, dst, n_messages):
    """Copies the first ``n_messages`` messages of a bag (raw CDR, untouched)."""
    from rosbags.rosbag2 import Reader, Writer

    from seal_ros.io.bags import _typestore

    store = _typestore()
    with Reader(src) as r, Writer(dst, version=8) as w:
        conns = {}
        for i, (c, t, raw) in enumerate(r.messages()):
            if i >= n_messages:
                break
            if c.id not in conns:
                conns[c.id] = w.add_connection(c.topic, c.msgtype, typestore=store)
            w.write(conns[c.id], t, raw)


def test_demo_pipeline_on_a_shortened_recording(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shorten_bag(EVT3_BAG, data / "evt3_640x480", 200)  # about 0.8 s of the real recording
    out = tmp_path / "out"
    models = tmp_path / "no_models"
    assert FIRENET.is_file(), f"the shared FireNet weights are missing: {FIRENET}"
    res = subprocess.run([sys.executable, "-m", "seal_ros", "demo", "--data", str(data), "--recordings",
                          "evt3_640x480", "--out", str(out), "--models-dir", str(models), "--firenet", str(FIRENET)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "segmentation: SKIPPED" in res.stdout and "seal.pt" in res.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["segmentation"]["status"] == "skipped"
    rec = summary["recordings"][0]
    assert rec["packets_played"] == 200
    assert rec["instances_published"] == 0  # no weights: no masks, never invented ones
    frames = sorted((out / "evt3_640x480" / "frames").glob("*.png"))
    assert rec["reconstructed_frames"] == len(frames) >= 10
    lat = rec["latency_ms"]["packet_to_reconstructed_image"]
    assert lat["count"] == len(frames) and 0 < lat["p50"] <= lat["p90"] <= lat["max"]
    ov = rec["latency_ms"]["packet_to_overlay"]
    assert rec["overlay_frames"] >= 3 and ov["count"] == rec["overlay_frames"] and ov["p50"] > 0
    assert rec["latency_ms"]["packet_to_instances"] == {"count": 0}
    assert rec["vocabulary_change"]["accepted"] is True
    assert [s for _, s in rec["script"]][0].startswith("box prompt")
    assert (out / "contact_sheet.png").stat().st_size > 10_000
    assert (out / "evt3_640x480" / "reconstruction.gif").exists()
    diag = rec["node_diagnostics"]
    assert any(k.startswith("event_reconstructor") for k in diag), diag.keys()
    # the real FireNet beside the filter: 100 ms windows over the same 0.8 s, every packet taken
    assert summary["firenet"]["status"] == "ran" and "FireNet: real weights" in res.stdout
    firenet = sorted((out / "evt3_640x480" / "firenet").glob("*.png"))
    assert rec["firenet_frames"] == len(firenet) >= 6 and (out / "evt3_640x480" / "firenet.gif").exists()
    fdiag = diag["firenet/event_reconstructor"]
    assert fdiag["active_method"] == "firenet" and fdiag["method_failures"] == 0
    assert int(fdiag["packets"]) == 200 and fdiag["windows_out"] == rec["firenet_frames"]
