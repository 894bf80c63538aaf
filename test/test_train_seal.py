"""Stage 2 as the authors train it: per-(image, granularity) fusion with the image's own long
descriptions, SAM's highest-IoU mask token, the per-image sum loss, flip augmentation, and
the authors' released training layout read directly (``seal-ros train seal --data ROOT``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from train_fixtures import SEAL_TINY, make_seal_layout, seal_layout_overrides


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return make_seal_layout(tmp_path_factory.mktemp("seal_layout"), n=4)


def _tiny_seal(size=64, seed=0):
    from seal_ros.seal.build import build_seal

    torch.manual_seed(seed)
    return build_seal("tiny", image_size=size).eval()


def test_fusion_per_group_equals_the_neck_on_each_image_with_its_own_keys():
    from seal_ros.train.seal_distill import fuse_groups

    seal = _tiny_seal()
    vit = torch.randn(3, 4, 4, 32)
    keys = [torch.randn(k, 16) for k in (2, 5, 1)]
    text = torch.zeros(3, 5, 16)
    pad = torch.ones(3, 5, dtype=torch.bool)
    for i, k in enumerate(keys):
        text[i, :len(k)], pad[i, :len(k)] = k, False
    with torch.no_grad():
        got = fuse_groups(seal.neck, vit, text, pad)
        for i, k in enumerate(keys):
            want = seal.fuse_text(vit[i:i + 1], k)
            assert torch.allclose(got[i:i + 1], want, atol=1e-5), i
        # padding is masked out, not attended: other rows' padding does not change a row
        assert not torch.allclose(got[1:2], seal.fuse_text(vit[1:2], keys[0]), atol=1e-3)


def _batch(seal, seed=0):
    """Two images, three granularities, several masks with distinct targets each."""
    g = torch.Generator().manual_seed(seed)
    levels = []
    for b in range(2):
        lv = []
        for k in (2, 3, 1) if b == 0 else (1, 2, 4):
            hi = torch.zeros(k, 64, 64, dtype=torch.bool)
            for j in range(k):
                y, x = int(torch.randint(0, 40, (1,), generator=g)), int(torch.randint(0, 40, (1,), generator=g))
                hi[j, y:y + 12 + j, x:x + 10] = True
            lo = F.interpolate(hi[None].float(), size=(32, 32), mode="nearest")[0].bool()
            lv.append({"masks": hi, "masks_lo": lo, "visual": torch.randn(k, 16, generator=g),
                       "short": torch.randn(k, 16, generator=g), "long": torch.randn(k, 16, generator=g)})
        levels.append(lv)
    return {"event": torch.randn(2, 3, 64, 64, generator=g), "index": torch.tensor([0, 1]),
            "flipped": torch.tensor([False, False]), "levels": levels}


def test_loss_is_the_authors_per_image_sum_with_the_highest_iou_token():
    from seal_ros.train.seal_distill import SealDistill, mask_boxes

    seal = _tiny_seal()
    module = SealDistill(seal)
    batch = _batch(seal)
    with torch.no_grad():
        loss, logs = module(batch)
        emb, vit = seal.encode_image(batch["event"])
        want, n_groups = 0.0, 0
        for b, levels in enumerate(batch["levels"]):
            for lv in levels:
                fused = seal.fuse_text(vit[b:b + 1], lv["long"])  # this image's own long descriptions
                _, iou, tok = seal.decode(emb[b:b + 1], boxes=mask_boxes(lv["masks"]))
                tok = tok[torch.arange(len(tok)), iou.argmax(1)]  # SAM's highest-IoU output
                f = seal.embed_masks(fused, lv["masks_lo"], tok)
                want += float((1 - F.cosine_similarity(f, lv["short"])).mean()
                              + (1 - F.cosine_similarity(f, lv["visual"])).mean())
                n_groups += 1
    assert n_groups == 6
    assert float(loss) == pytest.approx(want, rel=1e-5)
    assert float(logs["n_part"]) == 5 and float(logs["n_instance"]) == 5
    assert float(logs["loss_semantic"] + logs["loss_instance"] + logs["loss_part"]) == pytest.approx(want, rel=1e-5)
    # a token of another multimask output gives another loss: the choice matters
    assert mask_boxes(batch["levels"][0][0]["masks"])[0].tolist()[2] >= 9  # inclusive maxima


def test_mask_boxes_are_inclusive_like_the_authors():
    from seal_ros.train.seal_distill import mask_boxes

    m = torch.zeros(1, 10, 12, dtype=torch.bool)
    m[0, 2:5, 3:8] = True
    assert mask_boxes(m).tolist() == [[3.0, 2.0, 7.0, 4.0]]


def test_authors_layout_is_read_as_released(layout):
    """Masks are the label map's ids in increasing order; feature row i belongs to the i-th id."""
    from seal_ros.datasets.seal_mhsg import SealMhsgPairs, load_weights_only

    src = SealMhsgPairs(layout.parent)  # the folder above dataset/ works too
    assert len(src) == 4 and src.mhsg_path(0).name == "000000.pt"
    raw = load_weights_only(src.mhsg_path(1))
    got = src.guidance(1)
    for lvl, name in (("l", "semantic"), ("m", "instance"), ("s", "part")):
        lab = raw[lvl]["mask"]
        ids = [v for v in np.unique(lab) if v >= 0]
        assert got[name]["masks"].shape[0] == len(ids) >= 3 or name == "semantic"
        for k, v in enumerate(ids):
            assert np.array_equal(got[name]["masks"][k], lab == v)
            assert torch.equal(got[name]["short"][k], raw[lvl]["feat"]["short"][k])
            assert torch.equal(got[name]["visual"][k], raw[lvl]["feat"]["img"][k])
            assert torch.equal(got[name]["long"][k], raw[lvl]["feat"]["long"][k])
    ev = src.event_image(0)
    assert ev.shape == (48, 64, 3) and ev.dtype == np.uint8


def test_authors_files_are_never_unpickled(layout, tmp_path):
    """A guidance file holding a Python object other than tensors/arrays is refused, its code not run."""
    import shutil

    from seal_ros.datasets.seal_mhsg import SealDatasetError, SealMhsgPairs

    root = tmp_path / "copy"
    shutil.copytree(layout, root / "dataset")
    planted = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(planted), "w"))

    torch.save({"l": Evil()}, root / "dataset" / "data" / "ddd17" / "dir0" / "mhsg" / "000002.pt")
    src = SealMhsgPairs(root)
    with pytest.raises(SealDatasetError, match="weights-only"):
        src.guidance(2)
    assert not planted.exists()


def test_flip_mirrors_event_and_masks_by_seed_epoch_and_index(layout):
    from seal_ros.train.config import load_config
    from seal_ros.train.stages import make_stage

    cfg = load_config(SEAL_TINY, overrides=seal_layout_overrides(layout, "/nonexistent", "data.flip=true"))
    ds = make_stage(cfg).build_dataset()
    draws = [[ds.item(i, e)["flipped"] for i in range(4)] for e in range(4)]
    assert any(any(d) for d in draws) and not all(all(d) for d in draws)
    assert draws == [[ds.item(i, e)["flipped"] for i in range(4)] for e in range(4)]  # deterministic
    e, i = next((e, i) for e in range(4) for i in range(4) if draws[e][i])
    plain = next(e2 for e2 in range(100) if not ds.item(i, e2)["flipped"])
    a, b = ds.item(i, e), ds.item(i, plain)
    assert torch.equal(a["event"], b["event"].flip(-1))
    for la, lb in zip(a["levels"], b["levels"]):
        assert torch.equal(la["masks"], lb["masks"].flip(-1)) and torch.equal(la["masks_lo"], lb["masks_lo"].flip(-1))
        assert torch.equal(la["short"], lb["short"])


def test_cli_trains_from_the_authors_layout_and_the_export_carries_its_config(layout, tmp_path):
    from seal_ros.cli import main
    from seal_ros.seal.export import load_seal_export

    out = tmp_path / "run"
    assert main(["train", "seal", "--config", str(SEAL_TINY), "--data", str(layout), "--out", str(out),
                 "--set", "model.overrides={image_size: 64}", "--set", "train.steps=3",
                 "--set", "train.batch_size=2", "--set", "train.log_every=1"]) == 0
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and all(r["random_teachers"] for r in recs)
    assert all(r["n_part"] >= 8 for r in recs)  # several masks per image and level
    exp = load_seal_export(out / "seal.pt")
    assert exp.config["size"] == "tiny" and exp.config["overrides"] == {"image_size": 64}
    assert exp.config["text_encoder"] == {"kind": "tiny", "dim": 16, "seed": 0} and exp.random_teachers
    assert exp.config["step"] == 3 and exp.config["vocabulary"] == []
    assert json.loads((out / "config.json").read_text())["random_teachers"] is True
