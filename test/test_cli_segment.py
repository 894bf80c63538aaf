"""``seal-ros segment`` on the shared recordings (tiny random model: files, windows, ids; not accuracy)."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from conftest import DAVIS_AEDAT, EVT3_BAG
from seal_ros.cli import main

OPEN = ["--model", "tiny", "--device", "cpu", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
        "--min-class-score", "0", "--background", "", "--min-area", "4", "--points-per-side", "8",
        "--density-points", "16", "--no-progress"]


def _run(capsys, *argv) -> dict:
    assert main(["segment", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def _expected_windows(path, window_ms):
    """The node's windows of the same recording: the same core path (packets -> WindowSource)."""
    from seal_ros.events.source import WindowSource
    from seal_ros.io.packetize import event_packets
    from seal_ros.io.recordings import open_recording

    src = WindowSource("duration", int(window_ms * 1e6))
    return [(w.window.t0, w.window.t1, w.count) for p in event_packets(open_recording(path))
            for w in src.push(p).windows]


def test_auto_on_aedat4_writes_masks_json_video_and_summary(tmp_path, capsys):
    from pycocotools import mask as mask_utils

    out = tmp_path / "a"
    summary = _run(capsys, DAVIS_AEDAT, "--auto", "--out", out, "--window-ms", 20, *OPEN)
    windows = _expected_windows(DAVIS_AEDAT, 20)
    assert summary["windows"] == len(windows) >= 5 and summary["mode"] == "auto"
    assert summary["model"]["random_weights"] and "RANDOM" in summary["warning"]
    assert summary["instances"] > 0 and summary["tracks"] > 0
    assert json.loads((out / "summary.json").read_text())["instances"] == summary["instances"]
    doc = json.loads((out / "instances.json").read_text())
    assert [(i["t0_ns"], i["t1_ns"], i["event_count"]) for i in doc["images"]] == windows
    assert doc["images"][0]["start_s"] == 0.0 and doc["images"][1]["start_s"] == pytest.approx(0.02)
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    assert list(cats.values())[:3] == ["person", "car", "bicycle"]  # the vocabulary's order
    assert len(doc["annotations"]) == summary["instances"]
    for img in doc["images"]:
        label = iio.imread(out / img["file_name"])
        assert label.shape == (260, 346) and label.dtype == np.uint16
        anns = [a for a in doc["annotations"] if a["image_id"] == img["id"]]
        assert set(np.unique(label).tolist()) <= set(range(len(anns) + 1))
        for a in anns:
            m = mask_utils.decode({"size": a["segmentation"]["size"],
                                   "counts": a["segmentation"]["counts"].encode()}).astype(bool)
            assert m.sum() == a["area"] >= 4 and cats[a["category_id"]] == a["class_name"]
            assert a["prompt_id"] == 0 and a["track_id"] >= 1 and a["granularity"] == "instance"
            x, y, w, h = a["bbox"]
            ys, xs = np.nonzero(m)
            assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert (label == a["png_value"]).sum() <= m.sum()  # on top or partly under a better one
            assert ((label == a["png_value"]) <= m).all()
    # the first result of a window is drawn on top
    first = next(a for a in doc["annotations"] if a["png_value"] == 1)
    m1 = mask_utils.decode({"size": first["segmentation"]["size"], "counts": first["segmentation"]["counts"].encode()})
    assert (iio.imread(out / doc["images"][first["image_id"]]["file_name"])[m1 > 0] == 1).all()
    video = iio.imread(out / "overlay.mp4")
    assert video.shape[0] == summary["windows"] and video.shape[1:3] == (260, 346)

    # deterministic: the same files again
    again = tmp_path / "b"
    _run(capsys, DAVIS_AEDAT, "--auto", "--out", again, "--window-ms", 20, *OPEN)
    assert (again / "instances.json").read_bytes() == (out / "instances.json").read_bytes()
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()
    for img in doc["images"]:
        assert (again / img["file_name"]).read_bytes() == (out / img["file_name"]).read_bytes()


def test_prompts_file_with_time_ranges_on_a_bag(tmp_path, capsys):
    prompts = tmp_path / "p.yaml"
    prompts.write_text("prompts:\n"
                       "  - {id: 3, box: [100, 80, 300, 260], end_s: 0.1}\n"
                       "  - {id: 3, box: [300, 80, 500, 260], start_s: 0.1}\n"
                       "  - {id: 9, points: [[320, 240]], granularity: part, start_s: 0.05, end_s: 0.12}\n")
    out = tmp_path / "p"
    s = _run(capsys, EVT3_BAG, "--prompts", prompts, "--out", out, "--max-windows", 4, "--no-video", *OPEN)
    assert s["mode"] == "prompted" and s["windows"] == 4 and s["auto"] == {} and s["prompts"] == 3
    doc = json.loads((out / "instances.json").read_text())
    by_window = {i["id"]: sorted(a["prompt_id"] for a in doc["annotations"] if a["image_id"] == i["id"])
                 for i in doc["images"]}
    # windows of 50 ms: [0, .05) [.05, .1) [.1, .15) [.15, .2)
    assert by_window == {0: [3], 1: [3, 9], 2: [3, 9], 3: [3]}
    assert not (out / "overlay.mp4").exists()
    parts = [a for a in doc["annotations"] if a["prompt_id"] == 9]
    assert all(a["granularity"] == "part" for a in parts)

    # (a random model's prompted masks are large: suppress nothing here, the suppression has its own tests)
    both = _run(capsys, EVT3_BAG, "--prompts", prompts, "--auto", "--out", tmp_path / "b", "--max-windows", 2,
                "--no-video", "--prompt-overlap", 1, *OPEN)
    assert both["mode"] == "both" and both["auto"]["points"] > 0 and both["auto"]["dropped_prompted"] == 0
    doc = json.loads((tmp_path / "b" / "instances.json").read_text())
    assert {a["prompt_id"] for a in doc["annotations"]} == {0, 3, 9}


@pytest.mark.parametrize("content, needle", [
    ("prompts: [{id: 0, box: [1, 2, 3, 4]}]", "id must be an integer >= 1"),
    ("- {id: 1, box: [5, 5, 1, 1]}", "inverted"),
    ("- {id: 1}", "neither a box nor points"),
    ("- {id: 1, box: [1, 2, 3, 4], colour: red}", "unknown key"),
    ("- {id: 2, box: [1, 2, 3, 4], start_s: 0, end_s: 1}\n- {id: 2, box: [1, 2, 3, 4], start_s: 0.5}", "overlapping"),
    ("{not: [valid", "not JSON or YAML"),
])
def test_bad_prompts_file_fails_in_one_line(tmp_path, capsys, content, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    assert main(["segment", str(DAVIS_AEDAT), "--prompts", str(f), "--out", str(tmp_path / "o"), *OPEN]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and err.startswith("seal-ros segment: error:")


def test_missing_mode_or_weights_fail_in_one_line(tmp_path, capsys):
    assert main(["segment", str(DAVIS_AEDAT), "--out", str(tmp_path / "o"), "--model", "tiny"]) == 2
    assert "--auto" in capsys.readouterr().err
    assert main(["segment", str(DAVIS_AEDAT), "--auto", "--out", str(tmp_path / "o"), "--models",
                 str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "seal.pt" in err and len(err.strip().splitlines()) == 1
    assert main(["segment", str(DAVIS_AEDAT), "--auto", "--out", str(tmp_path / "o"), "--model", "tiny",
                 "--box-nms-thresh", "2"]) == 2
    assert "outside [0.0, 1.0]" in capsys.readouterr().err


def test_vocabulary_file_and_query(tmp_path, capsys):
    vocab = tmp_path / "classes.txt"
    vocab.write_text("# the classes\nperson\ncar\n\ndog\nbus\n")
    common = [DAVIS_AEDAT, "--auto", "--vocabulary-file", vocab, "--max-windows", 3, "--no-video",
              "--window-ms", 20, *OPEN, "--max-instances", 1000]
    every = _run(capsys, *common, "--out", tmp_path / "all")
    assert every["vocabulary"] == ["person", "car", "dog", "bus"] and every["query"] == []
    assert len(every["per_class"]) >= 2
    wanted = sorted(every["per_class"])[0]
    only = _run(capsys, *common, "--out", tmp_path / "q", "--query", f" {wanted.upper()}")
    assert only["per_class"] == {wanted: every["per_class"][wanted]}
    assert only["auto"]["dropped_query"] == every["instances"] - every["per_class"][wanted]

    def masks(d):
        doc = json.loads((d / "instances.json").read_text())
        return sorted((a["image_id"], a["segmentation"]["counts"]) for a in doc["annotations"]
                      if a["class_name"] == wanted)

    assert masks(tmp_path / "q") == masks(tmp_path / "all")
    assert main(["segment", str(DAVIS_AEDAT), "--auto", "--out", str(tmp_path / "x"), "--vocabulary-file",
                 str(tmp_path / "missing.txt"), *map(str, OPEN)]) == 2
    assert "missing.txt" in capsys.readouterr().err
