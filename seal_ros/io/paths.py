"""User-given paths: ``~`` and ``$VARS`` expanded the same way everywhere (no ROS).

Every node path parameter (``models_dir``, ``checkpoint``, ``output_dir``, ...)
and every ``seal-ros`` path argument goes through :func:`expand_path`, so
``models_dir:=~/.cache/seal_ros/models`` from a launch file (where no shell
expands anything) means what it says. A variable that is not set is an error
naming it, never a literal ``$NAME`` directory.
"""
from __future__ import annotations

import os
import re
from typing import Optional

_VAR = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


class PathError(ValueError):
    """A path that cannot be expanded; the message says why, in one line."""


def undefined_variables(value: str, environ=None) -> list[str]:
    """The ``$NAME`` / ``${NAME}`` variables in ``value`` that are not set."""
    env = os.environ if environ is None else environ
    return [a or b for a, b in _VAR.findall(str(value)) if (a or b) not in env]


def path_problem(value: str) -> Optional[str]:
    """Why ``value`` cannot be expanded (an unset variable, a NUL byte), or None."""
    if "\0" in str(value):
        return "a path must not contain a NUL byte"
    missing = undefined_variables(value)
    if missing:
        return f"environment variable {', '.join('$' + m for m in missing)} is not set"
    return None


def expand_path(value) -> str:
    """``value`` with ``$VARS``/``${VARS}`` and a leading ``~``/``~user`` expanded.

    The empty string stays empty (it means "the default" for the parameters
    that take a path). Raises :class:`PathError` for an unset variable.
    """
    text = os.fspath(value) if not isinstance(value, str) else value
    if not text:
        return text
    problem = path_problem(text)
    if problem is not None:
        raise PathError(f"{text!r}: {problem}")
    return os.path.expanduser(os.path.expandvars(text))
