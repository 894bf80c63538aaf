"""The loop the package exists for: record pairs from a shared recording, train a tiny SEAL and a
tiny Semantic-E2VID on them, deploy both through the real nodes over DDS, and get instances
named from the training vocabulary and reconstructions (tiny models and random teachers:
plumbing, not accuracy; every output says random_teachers)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import DAVIS_AEDAT, LIBCAER_CMP_BAG, spin_until
from train_fixtures import ROOT

TOPIC = "/loop_test/events"
CFG = ROOT / "config" / "train"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """record-pairs -> train seal -> train e2v, all through the CLI."""
    from seal_ros.cli import main

    tmp = tmp_path_factory.mktemp("loop")
    pairs = tmp / "pairs"
    assert main(["record-pairs", str(DAVIS_AEDAT), str(DAVIS_AEDAT), "--out", str(pairs)]) == 0
    seal_out, e2v_out = tmp / "seal", tmp / "e2v"
    assert main(["train", "seal", "--config", str(CFG / "seal_tiny.yaml"), "--data", str(pairs), "--out",
                 str(seal_out), "--set", "model.overrides={image_size: 64}", "--set", "train.steps=4"]) == 0
    assert main(["train", "e2v", "--config", str(CFG / "e2v_tiny.yaml"), "--data", str(pairs), "--out",
                 str(e2v_out), "--set", "train.steps=2", "--set", "train.batch_size=1", "--set", "data.limit=2"]) == 0
    return seal_out / "seal.pt", e2v_out / "e2v.pth", tmp


@pytest.fixture(scope="module")
def packets():
    from seal_ros.io.bags import BagReader

    with BagReader(LIBCAER_CMP_BAG) as bag:
        return list(bag.event_packets())[:60]


def test_recorded_pairs_train_and_deploy_through_the_nodes(trained, packets, ros_context, ros_executor):
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from seal_ros.msg import InstanceMaskArray, Prompt, PromptArray
    from seal_ros.nodes.common import EVENTS_QOS, RESULT_QOS, SENSOR_QOS, event_packet_type
    from seal_ros.nodes.event_reconstructor import EventReconstructorNode
    from seal_ros.nodes.player import packet_to_msg
    from seal_ros.nodes.seal_segmenter import SealSegmenterNode
    from seal_ros.seal.export import read_export_config

    seal_pt, e2v_pth, tmp = trained
    cfg = read_export_config(seal_pt)
    vocab = cfg["vocabulary"]
    assert vocab == ["car", "person", "tree", "road", "building", "sky"] and cfg["random_teachers"] is True
    seg = SealSegmenterNode(context=ros_context, parameter_overrides=[
        Parameter("model", value=str(seal_pt)), Parameter("device", value="cpu"),
        Parameter("events_topic", value=TOPIC), Parameter("window_duration_ms", value=20.0),
        Parameter("vocabulary", value=vocab), Parameter("models_dir", value=str(tmp)),
        Parameter("plane_rate_hz", value=0.0)])
    rec = EventReconstructorNode(context=ros_context, parameter_overrides=[
        Parameter("events_topic", value=TOPIC), Parameter("method", value="semantic_e2vid"),
        Parameter("checkpoint", value=str(e2v_pth)), Parameter("window_duration_ms", value=20.0)])
    helper = Node("loop_test_helper", context=ros_context)
    for n in (seg, rec, helper):
        ros_executor.add_node(n)
    instances, images = [], []
    helper.create_subscription(InstanceMaskArray, "/seal_segmenter/instances", instances.append, RESULT_QOS)
    helper.create_subscription(Image, "/event_reconstructor/image", images.append, SENSOR_QOS)
    events = helper.create_publisher(event_packet_type(), TOPIC, EVENTS_QOS)
    prompts = helper.create_publisher(PromptArray, "/seal_segmenter/prompts", RESULT_QOS)
    assert spin_until(ros_executor, lambda: events.get_subscription_count() >= 2
                      and prompts.get_subscription_count() > 0, 10)
    assert spin_until(ros_executor, lambda: seg.runner.state != "loading", 60)
    assert seg.runner.state == "ready"
    boxes = [(20, 20, 150, 120), (180, 100, 330, 250)]
    prompts.publish(PromptArray(prompts=[
        Prompt(id=i, has_box=True, box=[float(v) for v in b], granularity=Prompt.GRANULARITY_INSTANCE,
               persistent=True) for i, b in enumerate(boxes)]))
    ros_executor.spin_once(timeout_sec=0.2)

    def named():
        return [m for a in instances for m in a.instances if m.class_index >= 0]

    sent = 0
    for loop in range(3):
        for p in packets:
            events.publish(packet_to_msg(p))
            sent += 1
            ros_executor.spin_once(timeout_sec=0.005)
        if spin_until(ros_executor, lambda: len(named()) >= 2 and len(images) >= 3, 5):
            break
    assert len(named()) >= 2, (len(instances), seg.runner.state)
    for arr in instances:
        assert list(arr.vocabulary)[:len(vocab)] == vocab and (arr.width, arr.height) == (346, 260)
    for m in named():
        assert m.class_name in vocab  # named from the training vocabulary
    assert len(images) >= 3
    im = images[-1]
    assert (im.width, im.height, im.encoding) == (346, 260, "mono8")
    assert np.frombuffer(bytes(im.data), np.uint8).std() > 0  # a reconstruction, not a blank frame
    assert rec.active_method == "semantic_e2vid"
    raw = torch.load(e2v_pth, weights_only=True)
    assert raw["seal_ros"]["random_teachers"] is True
    metrics = [json.loads(line) for line in (seal_pt.parent / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(r["random_teachers"] for r in metrics)


def test_eval_of_a_random_teacher_export_says_so(trained, tmp_path):
    from seal_ros.cli import main
    from train_fixtures import make_dsec11

    seal_pt, _, _ = trained
    dsec = make_dsec11(tmp_path / "dsec")
    assert main(["eval", "seal", "--benchmark", "dsec11", "--data", str(dsec), "--events", "raw", "--text-classifier",
                 "--checkpoint", str(seal_pt),
                 "--device", "cpu", "--out", str(tmp_path / "ev")]) == 0
    rep = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert rep["random_teachers"] is True and rep["model"]["size"] == "tiny"
    assert rep["model"]["text_encoder"] == {"kind": "tiny", "dim": 16, "seed": 0}


def test_the_readme_training_commands_work_as_written(tmp_path):
    """The README's seal-ros lines, with only the /tmp paths moved and the step count cut."""
    import shlex

    from seal_ros.cli import main

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Training and evaluation (no labels)"):text.index("## Command-line tool")]
    lines = [ln for ln in section.splitlines() if ln.startswith("scripts/with-env seal-ros ")]
    assert [shlex.split(ln)[2] for ln in lines] == ["record-pairs", "train", "train"]
    quick = {"seal": ["--set", "train.steps=2", "--set", "model.overrides={image_size: 64}"],
             "e2v": ["--set", "train.steps=1", "--set", "data.limit=2", "--set", "train.batch_size=1"]}
    for ln in lines:
        args = [a.replace("/tmp/", f"{tmp_path}/").replace("../shared/data", str(DAVIS_AEDAT.parents[1]))
                for a in shlex.split(ln)[2:]]
        if args[0] == "train":
            args += quick[args[1]]
        assert main(args) == 0, ln
    assert (tmp_path / "run" / "seal.pt").is_file() and (tmp_path / "run_e2v" / "e2v.pth").is_file()
