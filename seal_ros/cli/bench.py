"""``seal-ros bench [NAME] [-- ARGS]``: the benchmarks of the checkout's ``bench/`` folder, one table.

Without a name it runs every benchmark of a performance target (the issue-17
set: :data:`BENCHES` entries with targets); ``all`` runs them all; a name runs
one, passing ARGS on. Each benchmark prints its measurements; the figures that
answer a target (:func:`report`) are gathered into one table at the end: the
figure, the peer measured in the same run, their ratio and whether the target
is met, under a line naming the machine.

A benchmark joins with one entry in :data:`BENCHES`: its module exposes
``main(argv) -> int`` and calls :func:`report` with a :class:`Figure` for each
figure that answers a target.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from typing import Optional

from seal_ros.cli import CliError

# name -> (module in the checkout, the targets it measures: "" for none)
BENCHES = {
    "decode": ("bench.bench_decode", "17.1"),
    "warmstart": ("bench.bench_warmstart", "17.4"),
    "e2v": ("bench.bench_e2v", ""),
    "seal": ("bench.bench_seal", ""),
    "auto": ("bench.bench_auto", ""),
    "segmenter": ("bench.bench_segmenter", ""),
    "recorder": ("bench.bench_recorder", ""),
    "train": ("bench.bench_train", ""),
    "recordings": ("bench.bench_recordings", ""),
}


@dataclass
class Figure:
    """One measured answer to a target: ours, the peer measured in the same run, their ratio
    (ours relative to the peer, > 1: ours better) and whether the goal is met."""

    target: str  # e.g. "17.1"
    what: str
    figure: str  # ours, with units
    peer: str  # the peer and its figure ("" when none)
    ratio: Optional[float]
    goal: str = ""
    met: Optional[bool] = None


_FIGURES: list = []


def report(fig: Figure) -> None:
    """Add a figure to the table ``seal-ros bench`` prints at the end."""
    _FIGURES.append(fig)


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"machine: {cpu}, {cores} cores, {gpu}; Python {platform.python_version()}"


def table(figures) -> str:
    rows = [("target", "measurement", "ours", "peer, same run", "ratio", "goal", "met")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.target, f.what, f.figure, f.peer, "" if f.ratio is None else f"{f.ratio:.2f}x", f.goal, met))
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


def run(args) -> int:
    if args.name is None:
        names = [n for n, (_, targets) in BENCHES.items() if targets]
    else:
        names = list(BENCHES) if args.name == "all" else [args.name]
    if importlib.util.find_spec("bench") is None:
        raise CliError("benchmarks live in a source checkout's bench/ folder; run this from scripts/with-env there")
    del _FIGURES[:]
    status = 0
    for name in names:
        module_name = BENCHES[name][0]
        if importlib.util.find_spec(module_name) is None:
            print(f"== bench {name}: not present in this checkout", flush=True)
            status = status or 1
            continue
        print(f"== bench {name}", flush=True)
        module = importlib.import_module(module_name)
        rc = module.main(list(args.rest) if args.name not in (None, "all") else [])
        status = status or int(rc or 0)
        sys.stdout.flush()
    if _FIGURES:
        print(f"\n== figures ({machine_line()})\n{table(_FIGURES)}")
    return status


def register(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmarks and print their figures against same-run peers "
                                     "(no name: the issue-17 targets; all; or one of " + ", ".join(BENCHES) + ")")
    p.add_argument("name", nargs="?", choices=tuple(BENCHES) + ("all",))
    p.add_argument("rest", nargs="*", help="arguments passed to the benchmark (use -- before them)")
    p.set_defaults(func=run)
