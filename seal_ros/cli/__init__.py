"""``seal-ros``: the offline face of the core.

Every module in this package that defines ``register(subparsers)`` adds one
subcommand; ``register`` calls ``subparsers.add_parser(...)`` and sets
``func=run`` where ``run(args) -> int`` is the exit status. Errors meant for
the user are raised as :class:`CliError` and printed as one line.

Registration is lazy: building the parser imports every command module, so
a command module imports only the standard library and ``seal_ros.cli``
(``_choices``, ``_recording``) at module level and in ``register``;
everything its work needs (numpy, numba, torch, rosbags, ...) is imported
inside ``run``. A choice list that lives in a heavy module is copied into
:mod:`seal_ros.cli._choices`. ``seal-ros --help`` and an argument error then
answer at once instead of after seconds of imports; test/test_cli_lazy.py
builds the parser in a fresh interpreter and fails when a heavy module was
imported (a new command joins the check by being in this package).

Whatever goes wrong with the input (a missing or unreadable file, a FIFO or a
device given as a recording, a malformed file, a pip-only package not
installed), the command prints one line and exits with status 2; set
``SEAL_ROS_DEBUG=1`` to see the traceback of an unexpected error. Path
arguments have ``~`` and ``$VARS`` expanded (:func:`seal_ros.io.paths.expand_path`),
also when quoted or given by a script.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import stat
import sys
from pathlib import Path

from seal_ros.io.paths import PathError, expand_path


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# Argument names (dests) that hold paths in the subcommands; a new path argument
# may also say so itself with ``type=path_arg`` (or ``type=Path``).
PATH_DESTS = {"bag", "input", "output", "out", "dir", "data", "models_dir", "models", "checkpoint", "clip",
              "config", "manifest", "json_out", "events", "images", "recording", "path", "firenet", "classifier", "export_evreal", "onnx_dir"}
OUTPUT_DESTS = {"out", "output", "json_out", "export_evreal"}
_SPECIAL = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISSOCK, "a socket"))


def path_arg(value: str) -> str:
    """argparse ``type`` of a path argument: ``~`` and ``$VARS`` expanded."""
    try:
        return expand_path(value)
    except PathError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def input_path_arg(value: str) -> str:
    """An input path: expanded, and refused when it is a FIFO, device or socket (reading one would
    block or never end)."""
    path = path_arg(value)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path  # missing/unreadable: the command says so in its own words
    for test, what in _SPECIAL:
        if test(mode):
            raise argparse.ArgumentTypeError(f"{value} is {what}, not a file or directory")
    return path


def _typed(kind, inner):
    def convert(value):
        return inner(kind(value)) if inner not in (None, str) else kind(value)
    convert.__name__ = getattr(inner, "__name__", "path")  # argparse names the type in errors
    return convert


def _expand_path_arguments(parser: argparse.ArgumentParser) -> None:
    """Give every path argument of every subcommand the path types (see PATH_DESTS)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _expand_path_arguments(sub)
            continue
        if action.type in (path_arg, input_path_arg) or getattr(action.type, "_seal_path", False):
            continue
        if action.dest in PATH_DESTS or action.type is Path:
            kind = path_arg if action.dest in OUTPUT_DESTS else input_path_arg
            action.type = _typed(kind, action.type)
            action.type._seal_path = True


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints the usage as well)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _unavailable(name: str, reason: str):
    def run(args):
        raise CliError(reason)
    return run


def build_parser() -> argparse.ArgumentParser:
    from seal_ros.deps import as_missing

    parser = _Parser(prog="seal-ros", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except ImportError as exc:  # a pip-only package missing: the other commands still work
            reason = as_missing(exc) or f"cannot load this command: {exc}"
            name = info.name.replace("_", "-")
            p = sub.add_parser(name, help=f"(unavailable: {reason})", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=_unavailable(name, reason))
            continue
        if hasattr(module, "register"):
            module.register(sub)
    _expand_path_arguments(parser)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror}"
    return text


def main(argv=None) -> int:
    from seal_ros.deps import as_missing

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument (already said in one line): its status, returned
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    prefix = f"seal-ros {args.command}: error:"
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `seal-ros ... | head`: nothing left to say
        sys.stdout = open(os.devnull, "w")
        return 0
    except ImportError as exc:
        print(f"{prefix} {as_missing(exc) or _one_line(exc)}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - bad input reaching deep code: one line, not a traceback
        if os.environ.get("SEAL_ROS_DEBUG"):
            raise
        print(f"{prefix} {type(exc).__name__}: {_one_line(exc)} (SEAL_ROS_DEBUG=1 shows where)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
