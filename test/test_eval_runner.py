"""seal_ros's raw-dataset evaluation (an addition beside the authors' benchmark): DSEC-Semantic
and DDD17-Seg readers on tiny fixtures in their published layouts, connected-component
instances through the authors' protocol with an oracle, and a tiny SEAL through
``seal-ros eval seal --events raw``."""
from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import h5py
import numpy as np
import pytest
import torch

from seal_ros.datasets.ddd17 import Ddd17Seg, open_eval_dataset
from seal_ros.datasets.dsec import DsecSemantic
from seal_ros.evaluation.benchmarks import BENCHMARKS
from seal_ros.evaluation.instances import items_from_semantic
from seal_ros.evaluation.prompts import resize_nearest
from seal_ros.evaluation.runner import evaluate_seal

H, W = 48, 64


def _label():
    lab = np.zeros((H, W), np.uint8)  # DSEC11 background
    lab[5:20, 5:25] = 8  # car
    lab[25:45, 40:60] = 3  # person
    lab[30:40, 5:15] = 5  # road: not an instance class
    return lab


def _events_in(rng, box, t0_us, t1_us, n):
    x0, y0, x1, y1 = box
    return (rng.integers(x0, x1, n), rng.integers(y0, y1, n), np.sort(rng.integers(t0_us, t1_us, n)),
            rng.integers(0, 2, n))


@pytest.fixture
def dsec_root(tmp_path):
    rng = np.random.default_rng(0)
    seq = tmp_path / "dsec" / "test" / "zurich_city_00_a"
    (seq / "semantic" / "11classes" / "data").mkdir(parents=True)
    (seq / "events" / "left").mkdir(parents=True)
    t_offset = 1_000_000
    stamps = [t_offset + 100_000, t_offset + 200_000]
    for k in range(2):
        cv2.imwrite(str(seq / "semantic" / "11classes" / "data" / f"{k:06d}.png"), _label())
    np.savetxt(seq / "semantic" / "timestamps.txt", np.array(stamps), fmt="%d")
    # events inside the car's box in the 50 ms before stamp 0; events elsewhere outside every window
    parts = [_events_in(rng, (5, 5, 25, 20), 60_000, 100_000, 500),
             _events_in(rng, (40, 25, 60, 45), 110_000, 140_000, 500),
             _events_in(rng, (40, 25, 60, 45), 160_000, 200_000, 500)]
    x, y, t, p = (np.concatenate([q[i] for q in parts]) for i in range(4))
    order = np.argsort(t, kind="stable")
    with h5py.File(seq / "events" / "left" / "events.h5", "w") as f:
        f["events/x"] = x[order].astype(np.uint16)
        f["events/y"] = y[order].astype(np.uint16)
        f["events/t"] = t[order].astype(np.int64)
        f["events/p"] = p[order].astype(np.uint8)
        f["ms_to_idx"] = np.searchsorted(t[order], np.arange(0, 202) * 1000).astype(np.uint64)
        f["t_offset"] = np.int64(t_offset)
    return tmp_path / "dsec"


@pytest.fixture
def ddd17_root(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "ddd17" / "dir0"
    (d / "index").mkdir(parents=True)
    (d / "segmentation_masks").mkdir()
    lab = np.full((H, W), 0, np.uint8)  # flat
    lab[10:30, 10:30] = 5  # vehicle
    cv2.imwrite(str(d / "segmentation_masks" / "segmentation_0000000001.png"), lab)
    n = 400
    t = np.sort(rng.integers(0, 50_000_000, n)).astype(np.int64)
    xyp = np.stack([rng.integers(10, 30, n), rng.integers(10, 30, n), rng.integers(0, 2, n)], 1)
    xyp[-50:, 1] = H + 5  # below the labelled rows: dropped
    t.tofile(d / "events.dat.t")
    xyp.astype(np.int16).tofile(d / "events.dat.xyp")
    np.save(d / "index" / "index_50ms.npy", np.array([[50_000_000, n, 0]], np.int64))
    return tmp_path / "ddd17"


def test_dsec_reader_windows_and_labels(dsec_root):
    ds = DsecSemantic(dsec_root, BENCHMARKS["dsec11"])
    assert len(ds) == 2
    s0 = ds[0]
    assert s0.event_image.shape == (H, W, 3) and s0.label.shape == (H, W)
    bg = s0.event_image[0, W - 1]
    active = np.any(s0.event_image != bg, axis=2)
    assert active[5:20, 5:25].any() and not active[25:45, 40:60].any()  # only the car's window
    s1 = ds[1]
    active1 = np.any(s1.event_image != s1.event_image[0, 0], axis=2)
    assert active1[25:45, 40:60].any() and not active1[5:20, 5:25].any()
    assert np.array_equal(s0.label, _label())


def test_ddd17_reader(ddd17_root):
    ds = open_eval_dataset(BENCHMARKS["ddd17"], ddd17_root)
    assert isinstance(ds, Ddd17Seg) and len(ds) == 1
    s = ds[0]
    assert s.event_image.shape == (H, W, 3)
    active = np.any(s.event_image != s.event_image[0, W - 1], axis=2)
    assert active[10:30, 10:30].any() and not active[31:, :].any()


class Oracle:
    """Returns each instance's own mask and class: every AP of a present class is 1."""

    model = SimpleNamespace(image_size=512)

    def __init__(self, items, bench):
        self.items, self.bench = iter(items), bench

    def set_vocabulary(self, names, granularity="instance", templates=None):
        assert tuple(names) == self.bench.instance_classes

    def set_image(self, img, key=None):
        self.item = next(self.items)

    def predict(self, prompts, frame="sensor", model_masks=False):
        big = resize_nearest(self.item.masks, 512)
        out = []
        for p in prompts:
            x0, y0, x1, y1 = p.box
            ys, xs = np.nonzero(big[p.id])
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max(), ys.max())
            out.append(SimpleNamespace(mask=self.item.masks[p.id], model_mask=big[p.id], score=0.9, num_kept=3,
                                       class_index=self.bench.instance_ids.index(int(self.item.labels[p.id]))))
        return out


def test_raw_items_with_oracle_score_one(dsec_root):
    bench = BENCHMARKS["dsec11"]
    items = list(items_from_semantic(DsecSemantic(dsec_root, bench), bench))
    assert [it.labels.tolist() for it in items] == [[3, 8], [3, 8]]  # person, car: connected components
    rep = evaluate_seal(Oracle(items, bench), items, bench)
    assert rep.instances == 4 and rep.images == 2 and rep.classifier.endswith("(seal_ros)")
    assert rep.authors["car"]["AP"] == pytest.approx(1.0) and rep.authors["fence"]["AP"] == 0.0
    assert rep.seal_ros["ap_excluding_classes_without_gt"]["all_AP"] == pytest.approx(1.0)
    assert rep.seal_ros["coco_mask_ap"]["mAP"] == pytest.approx(1.0)


def test_cli_eval_raw_events_with_tiny_seal(dsec_root, tmp_path):
    from seal_ros.cli import main
    from seal_ros.seal.build import build_seal

    torch.manual_seed(0)
    ck = tmp_path / "seal_tiny.pt"
    torch.save(build_seal("tiny").state_dict(), ck)
    cls = tmp_path / "DSEC11.pt"
    torch.save(torch.randn(11, 16), cls)
    out = tmp_path / "eval"
    rc = main(["eval", "seal", "--benchmark", "dsec11", "--data", str(dsec_root), "--events", "raw",
               "--checkpoint", str(ck), "--size", "tiny", "--classifier", str(cls), "--device", "cpu",
               "--out", str(out)])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["instances"] == 4 and rep["prompt"] == "box" and rep["event_input"].startswith("seal_ros: ")
    counts = rep["seal_ros"]["instances_per_class"]
    for name, v in rep["authors"].items():
        if not name.startswith("all_") and counts[name]:  # the binary AP never drops below the prevalence
            assert v["AP"] >= counts[name] / rep["scored"] - 1e-9
    assert main(["eval", "seal", "--benchmark", "kitti", "--data", str(dsec_root),
                 "--checkpoint", str(ck), "--size", "tiny"]) == 2
