"""``seal-ros bench [NAME] [-- ARGS]``: the benchmarks of the checkout's ``bench/`` folder, one table.

Without a name it runs every benchmark of a performance target (issue 17's
and issue 16's: :data:`BENCHES` entries with targets), each with the
arguments its entry gives for the table run (sizes that finish in minutes on
two cores, the same command on a GPU machine); ``all`` runs them all; a name
runs one with its own defaults, passing ARGS on. Each benchmark prints its
measurements; the figures that answer a target (:func:`report`) are gathered
into one table at the end: the figure, the size it ran at, the peer measured
in the same run, their ratio and whether the target is met, under a line
naming the machine. A goal that counts only on a GPU (``Figure.gpu_goal``) is
never judged from a CPU run: its row says "GPU target: not measured".

A benchmark joins with one entry in :data:`BENCHES`: its module exposes
``main(argv) -> int`` and calls :func:`report` with a :class:`Figure` for each
figure that answers a target. A benchmark that cannot run on a machine (no
ROS 2, no recordings) says so and returns; one that fails is named and the
others still run.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
import traceback
from dataclasses import dataclass
from typing import NamedTuple, Optional

from seal_ros.cli import CliError


class Bench(NamedTuple):
    module: str  # in the checkout's bench/ package
    targets: str  # the targets it answers ("" for none: run only by name or ``all``)
    table_args: tuple = ()  # its arguments in the table run (no name)


BENCHES = {
    "decode": Bench("bench.bench_decode", "17.1"),
    "segmenter": Bench("bench.bench_segmenter", "17.2"),
    "pipeline": Bench("bench.bench_segmenter_pipeline", "17.2"),
    "seal": Bench("bench.bench_seal", "17.3", ("--device", "cpu", "--onnx", "only")),
    "warmstart": Bench("bench.bench_warmstart", "17.4"),
    "auto": Bench("bench.bench_auto", "16", ("--quick",)),
    "e2v": Bench("bench.bench_e2v", ""),
    "recorder": Bench("bench.bench_recorder", ""),
    "train": Bench("bench.bench_train", ""),
    "recordings": Bench("bench.bench_recordings", ""),
}
GPU_NOT_MEASURED = "GPU target: not measured (no GPU)"


@dataclass
class Figure:
    """One measured answer to a target: ours, the peer measured in the same run, their ratio
    (ours relative to the peer, > 1: ours better) and whether the goal is met.

    ``ran`` says what the row ran at (model size, device, threads, windows); ``gpu_goal`` marks a
    goal that counts only when measured on a GPU (``on_gpu``): from a CPU run it is never "met"."""

    target: str  # e.g. "17.1"
    what: str
    figure: str  # ours, with units
    peer: str  # the peer and its figure ("" when none)
    ratio: Optional[float]
    goal: str = ""
    met: Optional[bool] = None
    ran: str = ""
    gpu_goal: bool = False
    on_gpu: bool = False

    def verdict(self) -> str:
        if self.gpu_goal and not self.on_gpu:
            return GPU_NOT_MEASURED
        return "" if self.met is None else ("yes" if self.met else "NO")


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


def ms(v: float) -> str:
    """Milliseconds with the digits that mean something: 2108 ms, 40.3 ms, 2.46 ms."""
    return f"{v:.0f}" if v >= 100 else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def _ratio(r: Optional[float]) -> str:
    return "" if r is None else (f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x")


def table(figures) -> str:
    """A Markdown table of the figures, in the order reported."""
    rows = [("target", "measurement", "ran at", "ours", "peer, same run", "ratio", "goal", "met")]
    for f in figures:
        rows.append((f.target, f.what, f.ran, f.figure, f.peer, _ratio(f.ratio), f.goal, f.verdict()))
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


def run(args) -> int:
    if args.name is None:
        names = [n for n, b in BENCHES.items() if b.targets]
    else:
        names = list(BENCHES) if args.name == "all" else [args.name]
    if importlib.util.find_spec("bench") is None:
        raise CliError("benchmarks live in a source checkout's bench/ folder; run this from scripts/with-env there")
    del _FIGURES[:]
    status = 0
    for name in names:
        bench = BENCHES[name]
        if importlib.util.find_spec(bench.module) is None:
            print(f"== bench {name}: not present in this checkout", flush=True)
            status = status or 1
            continue
        argv = list(args.rest) if args.name not in (None, "all") else list(bench.table_args if args.name is None else ())
        print(f"== bench {name}" + (f" {' '.join(argv)}" if argv else ""), flush=True)
        try:
            rc = importlib.import_module(bench.module).main(argv)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' table
            traceback.print_exc()
            print(f"== bench {name} failed: {type(exc).__name__}: {exc}", flush=True)
            rc = 1
        status = status or int(rc or 0)
        sys.stdout.flush()
    if _FIGURES:
        print(f"\n== figures ({machine_line()})\n{table(_FIGURES)}")
    return status


def register(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmarks and print their figures against same-run peers "
                                     "(no name: the issue-17 and issue-16 targets; all; or one of " + ", ".join(BENCHES) + ")")
    p.add_argument("name", nargs="?", choices=tuple(BENCHES) + ("all",))
    p.add_argument("rest", nargs="*", help="arguments passed to the benchmark (use -- before them)")
    p.set_defaults(func=run)
