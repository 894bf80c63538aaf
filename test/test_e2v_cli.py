"""``seal-ros reconstruct`` and ``seal-ros eval-e2v`` on the shared recordings."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import torch

from conftest import DAVIS_AEDAT, LIBCAER_CMP_BAG
from seal_ros.cli import main


def test_reconstruct_bag_writes_frames_and_timestamps(tmp_path, capsys):
    out = tmp_path / "x"
    rc = main(["reconstruct", str(LIBCAER_CMP_BAG), "--method", "hpf", "--out", str(out),
               "--window-ms", "50", "--max-frames", "8"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 8 and (result["width"], result["height"]) == (346, 260)
    lines = (out / "timestamps.txt").read_text().splitlines()
    assert lines[0].startswith("#") and len(lines) == 9
    names, stamps = zip(*(ln.split() for ln in lines[1:]))
    stamps = [int(s) for s in stamps]
    assert all(b - a == 50_000_000 for a, b in zip(stamps, stamps[1:]))  # one window each
    img = iio.imread(out / names[-1])
    assert img.shape == (260, 346) and img.dtype == np.uint8 and img.std() > 5


def test_reconstruct_aedat_with_frames_and_mp4(tmp_path, capsys):
    out = tmp_path / "y"
    rc = main(["reconstruct", str(DAVIS_AEDAT), "--out", str(out), "--use-frames", "--mp4"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] >= 3 and (out / "video.mp4").stat().st_size > 1000
    # with the APS frames as base, the picture carries the static scene: it correlates with the APS frame
    from seal_ros.io.aedat import read_aedat4

    rec = read_aedat4(DAVIS_AEDAT)
    stamps = [int(ln.split()[1]) for ln in (out / "timestamps.txt").read_text().splitlines()[1:]]
    k = int(np.searchsorted(stamps, rec.frames[-1].t_ns))
    img = iio.imread(out / f"frame_{k:06d}.png").astype(float)
    corr = np.corrcoef(img.ravel(), rec.frames[-1].image.astype(float).ravel())[0, 1]
    assert corr > 0.5, corr


def test_reconstruct_errors_are_one_line(tmp_path, capsys):
    assert main(["reconstruct", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert main(["reconstruct", str(DAVIS_AEDAT), "--method", "e2vid", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such file" in err[0] and "needs a checkpoint" in err[1]


def test_eval_e2v_follows_the_evreal_protocol(tmp_path, capsys):
    from skimage.metrics import structural_similarity

    from seal_ros.e2v.checkpoint import save_checkpoint
    from seal_ros.e2v.networks import build
    from seal_ros.events.representations import voxel_grid
    from seal_ros.io.aedat import read_aedat4

    torch.manual_seed(0)
    model = build("firenet")
    ckpt = tmp_path / "firenet.pth"
    save_checkpoint(model, ckpt)
    out_json = tmp_path / "r.json"
    rc = main(["eval-e2v", str(DAVIS_AEDAT), "--method", "firenet", "--checkpoint", str(ckpt),
               "--json-out", str(out_json)])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out_json.read_text()) == result
    assert result["pairs"] == 2 and len(result["per_frame"]) == 2

    # recompute independently: events between consecutive frames, 5-bin normalised voxel, clip, skimage SSIM
    rec = read_aedat4(DAVIS_AEDAT)
    model.eval()
    states, mses, ssims = None, [], []
    for f0, f1 in zip(rec.frames[:-1], rec.frames[1:]):
        sel = (rec.events.t >= f0.t_ns) & (rec.events.t < f1.t_ns)
        vox = torch.from_numpy(voxel_grid(rec.events[sel], 5, 346, 260, normalize=True))[None]
        with torch.no_grad():
            pred, states = model(vox, states)
        pred = pred[0, 0].clamp(0, 1).double().numpy()
        gt = f1.image / 255.0
        mses.append(np.mean((pred - gt) ** 2))
        ssims.append(structural_similarity(gt, pred, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False))
    assert abs(result["mse"] - np.mean(mses)) < 1e-6
    assert abs(result["ssim"] - np.mean(ssims)) < 1e-5
    assert [p["events"] for p in result["per_frame"]] == [
        int(((rec.events.t >= a.t_ns) & (rec.events.t < b.t_ns)).sum()) for a, b in zip(rec.frames, rec.frames[1:])]


def test_eval_e2v_needs_frames(tmp_path, capsys):
    assert main(["eval-e2v", str(LIBCAER_CMP_BAG), "--method", "hpf"]) == 2
    assert "needs at least 2 intensity frames" in capsys.readouterr().err


def _bag_with_frames(path, n_packets=40):
    """The first packets of the DAVIS346 bag plus three mono8 346x260 images stamped inside their span."""
    from rosbags.rosbag2 import Writer

    from seal_ros.events.packet import EventPacket
    from seal_ros.events.stream import EventStream
    from seal_ros.io.aedat import read_aedat4
    from seal_ros.io.bags import BagReader, _typestore

    store = _typestore()
    Image = store.types["sensor_msgs/msg/Image"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    aps = [f.image for f in read_aedat4(DAVIS_AEDAT).frames]
    with BagReader(LIBCAER_CMP_BAG) as src, Writer(path, version=8) as w:
        topic = src.topic_of_type("event_camera_msgs/msg/EventPacket")
        packets = [m for _, (_, m) in zip(range(n_packets), src.messages(topic))]
        stream = EventStream()
        ts = np.concatenate([stream.push(EventPacket.from_msg(m)).events.t for m in packets])
        ce = w.add_connection(topic, "event_camera_msgs/msg/EventPacket", typestore=store)
        ci = w.add_connection("/dvs/image_raw", "sensor_msgs/msg/Image", typestore=store)
        for k, m in enumerate(packets):
            w.write(ce, 1000 + k, store.serialize_cdr(m, "event_camera_msgs/msg/EventPacket"))
        stamps = [int(ts[0]) + 50_000_000 * (k + 1) for k in range(3)]
        for k, (st, img) in enumerate(zip(stamps, aps)):
            msg = Image(header=Header(stamp=Time(sec=st // 10**9, nanosec=st % 10**9), frame_id="cam"),
                        height=260, width=346, encoding="mono8", is_bigendian=0, step=346, data=img.reshape(-1))
            w.write(ci, 2000 + k, store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    return ts, stamps


def test_bag_with_frames_eval_and_complementary_reconstruction(tmp_path, capsys):
    bag = tmp_path / "bag"
    ts, stamps = _bag_with_frames(bag)
    assert main(["eval-e2v", str(bag), "--method", "hpf", "--image-topic", "/dvs/image_raw"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 2 and [p["t_ns"] for p in result["per_frame"]] == stamps[1:]
    assert [p["events"] for p in result["per_frame"]] == [
        int(((ts >= a) & (ts < b)).sum()) for a, b in zip(stamps, stamps[1:])]
    assert 0 < result["mse"] < 1 and -1 <= result["ssim"] <= 1
    assert main(["reconstruct", str(bag), "--use-frames", "--out", str(tmp_path / "r"), "--window-ms", "25"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] >= 8
