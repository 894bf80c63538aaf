"""``seal-ros fuzz``: hostile packets of every encoding through the decoders and the nodes' path.

Mutates the real recordings of ``--data`` (default ``$SEAL_ROS_DATA``, else ``../shared/data``
when it exists; '' for none) in every encoding, plus a synthetic stream, and checks every packet
against what the decoders guarantee (see seal_ros/fuzz/guarantees.py). Deterministic for a seed: a problem it
prints is reproduced by the same command. Prints one JSON line per encoding and level; exit
status 1 when a problem was found. The test suite runs ``--packets 100000 --seed 0`` per
encoding (decoder level); run longer ones with other seeds.
"""
from __future__ import annotations

import argparse
import json
import os

from seal_ros.cli import CliError
from seal_ros.cli._choices import ENCODINGS

DEFAULT_DATA = "../shared/data"  # beside a checkout, as the project keeps it


def _count(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def run(args) -> int:
    from seal_ros.fuzz import corpora, fuzz_decoder, fuzz_ingest

    data = args.data if args.data is not None else os.environ.get("SEAL_ROS_DATA")
    if data is None and os.path.isdir(DEFAULT_DATA):
        data = DEFAULT_DATA
    if data and not os.path.isdir(data):
        raise CliError(f"{data}: not a folder of recordings (--data DIR or $SEAL_ROS_DATA; '' for synthetic only)")
    status = 0
    for enc in args.encoding or ENCODINGS:
        corp = corpora(enc, data or None, args.seed)
        for level in (("decoder", "ingest") if args.level == "both" else (args.level,)):
            fuzz = fuzz_decoder if level == "decoder" else fuzz_ingest
            report = fuzz(enc, args.packets, args.seed, corp)
            out = report.as_dict()
            if not args.counters:
                out.pop("counters")
            print(json.dumps(out), flush=True)
            status = status or int(not report.ok)
    return status


def register(sub) -> None:
    p = sub.add_parser("fuzz", help="fuzz every encoding's decoder (and the nodes' path) with mutated real packets",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--packets", type=_count, default=100_000, help="packets per encoding and level (default 10^5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0, the test suite's)")
    p.add_argument("--encoding", action="append", choices=ENCODINGS, default=None,
                   help="only this encoding (repeatable; default: all)")
    p.add_argument("--level", choices=("decoder", "ingest", "both"), default="both",
                   help="decoders alone, WindowSource (the nodes' path), or both (default)")
    p.add_argument("--data", default=None, help="folder of the shared recordings (default $SEAL_ROS_DATA, else ../shared/data if present; "
                        "'' for synthetic packets only)")
    p.add_argument("--counters", action="store_true", help="also print the decoders' summed counters")
    p.set_defaults(func=run)
