"""``seal-ros bench``: a registry of benchmarks, their target figures in one table."""
from __future__ import annotations

import importlib.machinery
import sys
import types
from argparse import Namespace

from seal_ros.cli import bench as cli_bench


def fake_bench(monkeypatch, name, figures, rc=0):
    module = types.ModuleType(f"bench_fake_{name}")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)

    def main(argv):
        module.argv = argv
        for f in figures:
            cli_bench.report(f)
        return rc
    module.main = main
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(cli_bench.BENCHES, name, (module.__name__, "17.9"))
    return module


def test_a_bench_joins_with_one_entry_and_its_figures_end_in_one_table(monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "BENCHES", {"decode": ("bench.bench_decode", "17.1")})
    met = cli_bench.Figure("17.9", "fake decoding", "5 us/msg", "peer 10 us/msg", 2.0, ">= 1.75x", True)
    missed = cli_bench.Figure("17.9", "fake ingest", "20 us/msg", "peer 10 us/msg", 0.5, ">= 1.75x", False)
    one = fake_bench(monkeypatch, "one", [met])
    two = fake_bench(monkeypatch, "two", [missed], rc=3)
    monkeypatch.setitem(cli_bench.BENCHES, "decode", ("bench_fake_absent_module", "17.1"))

    assert cli_bench.run(Namespace(name="one", rest=["--quick"])) == 0
    out = capsys.readouterr().out
    assert one.argv == ["--quick"] and "== bench one" in out
    assert "| 17.9 | fake decoding | 5 us/msg | peer 10 us/msg | 2.00x | >= 1.75x | yes |" in out
    assert "machine:" in out and "cores" in out

    # no name: every benchmark of a target, the table of all their figures; the first failure's status
    assert cli_bench.run(Namespace(name=None, rest=[])) == 1
    out = capsys.readouterr().out
    assert "== bench decode: not present in this checkout" in out
    assert out.index("fake decoding") < out.index("fake ingest") and "| 0.50x | >= 1.75x | NO |" in out
    assert two.argv == []


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
