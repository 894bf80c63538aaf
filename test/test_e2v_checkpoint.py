"""Checkpoints in the published layouts load strictly and reproduce the in-memory model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seal_ros.e2v.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from seal_ros.e2v.networks import E2VIDRecurrent, FireNet, FireNetFlat, build
from seal_ros.e2v.reconstructor import Reconstructor
from seal_ros.events.types import EventArray

# Key names of the published FireNet checkpoint (cedric-scheerlinck/rpg_e2vid), as the issue lists them.
FIRENET_KEYS = ["net.head.conv.conv2d.weight", "net.head.recurrent_block.reset_gate.weight",
                "net.resblocks.0.conv.conv1.weight", "net.resblocks.0.recurrent_block.update_gate.bias",
                "net.resblocks.1.conv1.weight", "net.pred.conv2d.weight"]


def _events(seed, n=3000, w=40, h=30, t0=0, span=30_000_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + span, n)).astype(np.int64)
    return EventArray(rng.integers(0, w, n).astype(np.uint16), rng.integers(0, h, n).astype(np.uint16),
                      rng.integers(0, 2, n).astype(np.uint8), t)


def _run(model_or_path, method, windows, w=40, h=30):
    kw = {"checkpoint": model_or_path} if isinstance(model_or_path, str) else {"model": model_or_path}
    r = Reconstructor(method, w, h, "cpu", **kw)
    outs = []
    for i, ev in enumerate(windows):
        r.process(ev, int(ev.t[-1]) + 1)
        outs.append(r.last_intensity.copy())
    return outs


def test_firenet_published_layout_loads_and_reproduces(tmp_path):
    torch.manual_seed(1)
    model = FireNet(num_bins=5, base_num_channels=16, kernel_size=3)
    assert set(FIRENET_KEYS) <= set(model.state_dict())
    assert 36_000 < sum(p.numel() for p in model.parameters()) < 40_000  # ~38k
    # written by hand in the rpg_e2vid layout: arch, config['model'], state_dict
    path = tmp_path / "firenet.pth.tar"
    torch.save({"arch": "FireNet", "config": {"model": {"num_bins": 5, "base_num_channels": 16, "kernel_size": 3,
                                                        "recurrent_block_type": "convgru", "num_residual_blocks": 2,
                                                        "norm": "none"}},
                "state_dict": {k: v.clone() for k, v in model.state_dict().items()}}, path)
    loaded = load_checkpoint(path, "firenet")
    assert isinstance(loaded.model, FireNet) and loaded.normalize is True
    windows = [_events(s, t0=s * 30_000_000) for s in range(3)]
    for a, b in zip(_run(model, "firenet", windows), _run(str(path), "firenet", windows)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(_run(model, "firenet", windows)[2], _run(model, "firenet", windows[2:])[0])  # recurrent


def test_e2vid_rpg_layout_with_model_key(tmp_path):
    torch.manual_seed(2)
    cfg = dict(num_bins=5, base_num_channels=8, num_encoders=3, num_residual_blocks=1, skip_type="sum",
               recurrent_block_type="convlstm", use_upsample_conv=False, norm="BN")
    model = E2VIDRecurrent(**cfg).eval()
    for m in model.modules():  # non-trivial running stats must travel too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "E2VID_lightweight.pth.tar"
    torch.save({"arch": "E2VIDRecurrent", "model": cfg, "state_dict": model.state_dict()}, path)
    assert "unetrecurrent.decoders.0.transposed_conv2d.weight" in model.state_dict()
    assert "unetrecurrent.encoders.0.recurrent_block.Gates.weight" in model.state_dict()
    windows = [_events(s, w=37, h=29, t0=s * 30_000_000) for s in range(2)]  # odd size: reflection padding
    for a, b in zip(_run(model, "e2vid", windows, 37, 29), _run(str(path), "e2vid", windows, 37, 29)):
        assert a.shape == (29, 37)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_event_cnn_minimal_layout_defaults_to_no_final_activation(tmp_path):
    torch.manual_seed(3)
    unet = dict(num_bins=5, base_num_channels=8, num_encoders=2, num_residual_blocks=1, skip_type="sum",
                recurrent_block_type="convlstm", use_upsample_conv=True, norm=None, kernel_size=5)
    model = E2VIDRecurrent(**unet, final_activation="none")
    path = tmp_path / "e2vid_plus.pth"
    torch.save({"arch": "E2VIDRecurrent", "config": {"arch": {"type": "E2VIDRecurrent",
                                                              "args": {"unet_kwargs": unet}}},
                "state_dict": model.state_dict()}, path)
    loaded = load_checkpoint(path, "e2vid_plus")
    assert loaded.model.unetrecurrent.final_activation is None and loaded.normalize is False


def test_refactored_firenet_layout_is_recognised(tmp_path):
    model = FireNetFlat()
    path = tmp_path / "firenet_plus.pth"
    torch.save({"arch": "FireNet", "model": {"num_bins": 5}, "state_dict": model.state_dict()}, path)
    assert isinstance(load_checkpoint(path, "firenet_plus").model, FireNetFlat)


def test_mismatch_lists_missing_unexpected_and_shapes_in_one_error(tmp_path):
    state = FireNet().state_dict()
    state.pop("net.pred.conv2d.weight")
    state["net.extra.weight"] = torch.zeros(3)
    state["net.head.conv.conv2d.bias"] = torch.zeros(7)
    path = tmp_path / "bad.pth"
    torch.save({"arch": "FireNet", "model": {"num_bins": 5}, "state_dict": state}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, "firenet")
    msg = str(info.value)
    assert "1 missing keys [net.pred.conv2d.weight]" in msg
    assert "1 unexpected keys [net.extra.weight]" in msg
    assert "net.head.conv.conv2d.bias: checkpoint (7,) vs model (16,)" in msg
    assert "\n" not in msg


def test_wrong_architecture_corrupt_files_and_code_are_refused(tmp_path):
    e2vid_path = tmp_path / "e2vid.pth"
    save_checkpoint(build("e2vid", base_num_channels=4), e2vid_path)
    with pytest.raises(CheckpointError, match="method 'firenet' needs FireNet"):
        load_checkpoint(e2vid_path, "firenet")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"garbage" * 50)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(junk, "firenet")
    # a pickle that would run code is refused by weights_only loading
    evil = tmp_path / "evil.pth"
    torch.save({"arch": "FireNet", "state_dict": FireNet().state_dict(), "hook": np.random.default_rng(0)}, evil)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(evil, "firenet")
    unknown = tmp_path / "unknown.pth"
    torch.save({"arch": "os.system", "state_dict": {}}, unknown)
    with pytest.raises(CheckpointError, match="unknown architecture 'os.system'"):
        load_checkpoint(unknown)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pth", "firenet")
    with pytest.raises(CheckpointError, match="needs a checkpoint"):
        Reconstructor("firenet", 10, 10)


def test_save_then_load_roundtrip_keeps_config_and_normalisation(tmp_path):
    model = build("semantic_e2vid", base_num_channels=4, semantic_channels=8, sam_channels=16, num_heads=2,
                  num_classes=3)
    path = tmp_path / "sem.pth"
    save_checkpoint(model, path, normalize=False)
    loaded = load_checkpoint(path, "semantic_e2vid")
    assert loaded.config == model.config and loaded.normalize is False
    assert loaded.arch == "SemanticE2VID"


def _save_with_pickled_config_parser(path, state, arch_cfg, extra_class=None):
    """An EVREAL / event_cnn_minimal style file: ``config`` is a pickled ``parse_config.ConfigParser``.

    The class exists only while saving (as in a user's training environment), with
    the attributes pytorch-template's ConfigParser pickles; torch's legacy format, as published.
    """
    import collections
    import pathlib
    import sys
    import types

    module = types.ModuleType("parse_config")

    class ConfigParser:
        pass

    ConfigParser.__module__, ConfigParser.__qualname__ = "parse_config", "ConfigParser"
    module.ConfigParser = ConfigParser
    cfg = ConfigParser()
    cfg._config = collections.OrderedDict(name="firenet_plus", n_gpu=1, arch=arch_cfg)
    cfg.resume = pathlib.PosixPath("/home/someone/models/checkpoint-epoch92.pth")
    cfg._save_dir = pathlib.PosixPath("/home/someone/models")
    cfg.log_levels = {0: 30, 1: 20, 2: 10}
    ckpt = {"arch": arch_cfg["type"], "epoch": 92, "state_dict": state, "config": cfg, "monitor_best": 0.47}
    if extra_class is not None:
        extra_class.__module__, extra_class.__qualname__ = "parse_config", extra_class.__name__
        setattr(module, extra_class.__name__, extra_class)
        ckpt["extra"] = extra_class()
    sys.modules["parse_config"] = module
    try:
        torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    finally:
        del sys.modules["parse_config"]


def test_firenet_plus_file_with_a_pickled_config_parser_loads(tmp_path):
    import collections
    import sys

    torch.manual_seed(4)
    model = FireNetFlat()
    path = tmp_path / "FireNet+.pth"
    arch = collections.OrderedDict(type="FireNet", args=collections.OrderedDict(num_bins=5, base_num_channels=16,
                                                                                kernel_size=3))
    _save_with_pickled_config_parser(path, model.state_dict(), arch)
    assert "parse_config" not in sys.modules
    loaded = load_checkpoint(path, "firenet_plus")
    assert isinstance(loaded.model, FireNetFlat) and loaded.normalize is False
    assert loaded.config == {"num_bins": 5, "base_num_channels": 16, "kernel_size": 3}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[k], v)
    # E2VID+ the same way: unet_kwargs inside args, final activation none by default
    unet = dict(num_bins=5, base_num_channels=8, num_encoders=2, num_residual_blocks=1, skip_type="sum",
                recurrent_block_type="convlstm", use_upsample_conv=True, norm=None, kernel_size=5)
    e2vid_plus = E2VIDRecurrent(**unet, final_activation="none")
    _save_with_pickled_config_parser(tmp_path / "E2VID+.pth", e2vid_plus.state_dict(),
                                     {"type": "E2VIDRecurrent", "args": {"unet_kwargs": unet}})
    loaded = load_checkpoint(tmp_path / "E2VID+.pth", "e2vid_plus")
    assert loaded.model.unetrecurrent.final_activation is None and loaded.model.num_encoders == 2


def test_other_pickled_classes_are_refused_in_one_clean_line(tmp_path):
    class Hook:
        pass

    path = tmp_path / "hooked.pth"
    _save_with_pickled_config_parser(path, FireNetFlat().state_dict(), {"type": "FireNet", "args": {}}, Hook)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, "firenet_plus")
    msg = str(info.value)
    assert "parse_config.Hook" in msg and "not loaded" in msg
    assert "\n" not in msg and "\x1b" not in msg  # one line, no terminal colour codes
