"""``seal-ros pairs-info DIR``: validate a pairs dataset and print its summary as JSON.

Exit status 0 when every listed pair is complete and consistent, 1 otherwise.
``--repair`` clears the "open for writing" flags a killed recorder leaves in
``events/events.h5`` (like ``h5clear -s``) so tools that open it plainly work;
the data are not changed.
"""
from __future__ import annotations

import json
from pathlib import Path

from seal_ros.cli import CliError


def register(subparsers) -> None:
    p = subparsers.add_parser("pairs-info", help="validate an event/image pairs dataset and summarise it",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("dir", metavar="DIR", help="dataset (session) directory")
    p.add_argument("--no-images", action="store_true", help="do not decode every PNG (faster)")
    p.add_argument("--repair", action="store_true", help="clear the HDF5 open-for-write flags of a killed recording")
    p.set_defaults(func=run)


def run(args) -> int:
    from seal_ros.recorder.h5util import clear_status_flags
    from seal_ros.recorder.reader import DatasetError, validate

    root = Path(args.dir)
    if not root.is_dir():
        raise CliError(f"{root}: not a directory")
    repaired = None
    h5 = root / "events" / "events.h5"
    if args.repair and h5.exists():
        try:
            repaired = clear_status_flags(h5)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot repair {h5}: {exc}") from None
    try:
        summary = validate(root, check_images=not args.no_images)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if repaired is not None:
        summary["repaired"] = repaired
    print(json.dumps(summary, indent=2))
    return 0 if summary["valid"] else 1
