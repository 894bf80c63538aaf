"""``seal-ros bench NAME``: run a benchmark from the checkout's ``bench/`` folder.

Each ``bench/bench_<name>.py`` exposes ``main(argv) -> int`` and prints its
measurements with ratios against a peer measured in the same run.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

from seal_ros.cli import CliError

BENCHES = ("decode", "e2v", "seal", "auto", "segmenter", "recorder", "train", "recordings")


def run(args) -> int:
    names = BENCHES if args.name == "all" else (args.name,)
    if importlib.util.find_spec("bench") is None:
        raise CliError("benchmarks live in a source checkout's bench/ folder; run this from scripts/with-env there")
    status = 0
    for name in names:
        module_name = f"bench.bench_{name}"
        if importlib.util.find_spec(module_name) is None:
            print(f"== bench {name}: not present in this checkout", flush=True)
            status = status or 1
            continue
        print(f"== bench {name}", flush=True)
        module = importlib.import_module(module_name)
        rc = module.main(list(args.rest) if args.name != "all" else [])
        status = status or int(rc or 0)
        sys.stdout.flush()
    return status


def register(sub) -> None:
    p = sub.add_parser("bench", help="run benchmarks (decode, e2v, seal, auto, segmenter, recorder, train, recordings, all)")
    p.add_argument("name", choices=BENCHES + ("all",))
    p.add_argument("rest", nargs="*", help="arguments passed to the benchmark (use -- before them)")
    p.set_defaults(func=run)
