"""``seal-ros bench``: a registry of benchmarks, their target figures in one table."""
from __future__ import annotations

import importlib.machinery
import sys
import types
from argparse import Namespace

import pytest

from seal_ros.cli import bench as cli_bench


def fake_bench(monkeypatch, name, figures, rc=0, table_args=(), error=None):
    module = types.ModuleType(f"bench_fake_{name}")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)

    def main(argv):
        module.argv = argv
        for f in figures:
            cli_bench.report(f)
        if error is not None:
            raise error
        return rc
    module.main = main
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(cli_bench.BENCHES, name, cli_bench.Bench(module.__name__, "17.9", table_args))
    return module


def table_rows(out: str) -> list:
    """The rows of the table after ``== figures``, each a list of its cells."""
    assert "== figures (machine:" in out, out[-3000:]
    lines = out[out.index("== figures"):].splitlines()[1:]
    header = lines[0]
    assert header.startswith("| target | measurement | ran at | ours | peer, same run | ratio | goal | met |")
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines[2:] if ln.startswith("| ")]


def test_a_bench_joins_with_one_entry_and_its_figures_end_in_one_table(monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "BENCHES", {"decode": cli_bench.Bench("bench_fake_absent_module", "17.1")})
    met = cli_bench.Figure("17.9", "fake decoding", "5 us/msg", "peer 10 us/msg", 2.0, ">= 1.75x", True, ran="tiny")
    missed = cli_bench.Figure("17.9", "fake ingest", "20 us/msg", "peer 10 us/msg", 0.5, ">= 1.75x", False)
    one = fake_bench(monkeypatch, "one", [met], table_args=("--quick",))
    two = fake_bench(monkeypatch, "two", [missed], rc=3)

    assert cli_bench.run(Namespace(name="one", rest=["--size", "tiny"])) == 0
    out = capsys.readouterr().out
    assert one.argv == ["--size", "tiny"] and "== bench one" in out  # a name: its own arguments only
    assert "| 17.9 | fake decoding | tiny | 5 us/msg | peer 10 us/msg | 2.00x | >= 1.75x | yes |" in out
    assert "machine:" in out and "cores" in out

    # no name: every benchmark of a target with its table arguments, one table of all their figures;
    # the first failure's status
    assert cli_bench.run(Namespace(name=None, rest=[])) == 1
    out = capsys.readouterr().out
    assert "== bench decode: not present in this checkout" in out
    assert one.argv == ["--quick"] and two.argv == []
    assert out.index("fake decoding") < out.index("fake ingest") and "| 0.50x | >= 1.75x | NO |" in out


def test_a_failing_bench_is_named_and_the_others_still_reach_the_table(monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "BENCHES", {})
    fake_bench(monkeypatch, "broken", [], error=RuntimeError("no recording"))
    fake_bench(monkeypatch, "fine", [cli_bench.Figure("17.9", "fine figure", "1 ms", "peer 2 ms", 2.0)])
    assert cli_bench.run(Namespace(name=None, rest=[])) == 1
    out = capsys.readouterr().out
    assert "== bench broken failed: RuntimeError: no recording" in out
    assert [r[1] for r in table_rows(out)] == ["fine figure"]


def test_a_gpu_goal_is_never_met_from_a_cpu_run():
    fig = cli_bench.Figure("17.2", "window", "3 ms", "model 2 ms", 0.67, "< 8 ms (GPU, bf16)", True, gpu_goal=True)
    assert fig.verdict() == cli_bench.GPU_NOT_MEASURED == "GPU target: not measured (no GPU)"
    on_gpu = cli_bench.Figure("17.2", "window", "9 ms", "model 5 ms", 0.56, "< 8 ms", False, gpu_goal=True,
                              on_gpu=True)
    assert on_gpu.verdict() == "NO"
    assert cli_bench.Figure("16", "head", "1 ms", "backbone 2 ms", 2.0).verdict() == ""


def test_unknown_names_are_refused_by_the_parser():
    import argparse

    parser = argparse.ArgumentParser()
    cli_bench.register(parser.add_subparsers())
    try:
        parser.parse_args(["bench", "nosuch"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an unknown benchmark name was accepted")
    assert parser.parse_args(["bench"]).name is None


# the real benchmarks at toy sizes: every target's rows, no timing judged here
TINY = {
    "decode": ("--passes", "1", "--repeat", "1", "--events", "2e4", "--voxel-events", "1e4"),
    "segmenter": ("--device", "cpu", "--no-full-size", "--windows", "2", "--warmup", "1", "--prompt-updates", "1"),
    "pipeline": ("--device", "cpu", "--model", "tiny", "--windows", "2"),
    "seal": ("--size", "tiny", "--device", "cpu", "--onnx", "only", "--iters", "1", "--warmup", "0", "--threads", "1"),
    "warmstart": ("--nodes", "bag_player"),
    "auto": ("--size", "tiny", "--device", "cpu", "--grids", "4,32", "--quick"),
}


def test_the_table_run_gives_every_target_its_rows_with_the_same_run_peer_ratio(monkeypatch, capsys, data_dir):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    assert {n for n, b in cli_bench.BENCHES.items() if b.targets} == set(TINY)
    for name, args in TINY.items():
        monkeypatch.setitem(cli_bench.BENCHES, name, cli_bench.BENCHES[name]._replace(table_args=args))
    assert cli_bench.run(Namespace(name=None, rest=[])) == 0
    rows = table_rows(capsys.readouterr().out)

    by_target = {}
    for target, what, ran, ours, peer, ratio, goal, met in rows:
        by_target.setdefault(target, []).append(what)
        assert ran and ours and peer, (what, ran, peer)  # what it ran at, ours and the peer of the same run
        assert ratio.endswith("x") and float(ratio[:-1]) > 0, (what, ratio)
        if "GPU" in goal:  # no GPU in the tests: a GPU goal is never judged here
            assert met == cli_bench.GPU_NOT_MEASURED, (what, met)
        else:
            assert met in ("", "yes", "NO"), (what, met)
    assert set(by_target) == {"17.1", "17.2", "17.3", "17.4", "16"}
    assert any("per message" in w for w in by_target["17.1"])  # evt3 and libcaer_cmp in the node's path
    assert any("libcaer_cmp" in w for w in by_target["17.1"])
    dds = [w for w in by_target["17.2"] if "over DDS" in w]
    assert any("window end to end" in w and "event image" in w and "publish" in w for w in dds)  # every stage
    assert any("prompt-only" in w for w in dds)
    assert any("run lengths" in w for w in by_target["17.2"])
    assert len(by_target["17.3"]) == 1 and "backend:=auto's CPU default" in by_target["17.3"][0]
    assert len(by_target["17.4"]) == 1 and by_target["17.4"][0].startswith("bag_player: first output after start")
    assert any("32x32 grid" in w for w in by_target["16"]) and any("node default" in w for w in by_target["16"])
