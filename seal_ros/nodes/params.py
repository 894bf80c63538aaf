"""Declarative node parameters: one :class:`Param` per parameter.

Each spec becomes a ``ParameterDescriptor`` (description, type, range where one
fits, read-only flag). One rule for every value, whenever it comes:

- at start-up (command line, launch file, YAML), an invalid value (wrong type,
  out of range, not one of the choices, refused by the spec's check) stops the
  node: :class:`ParameterError` carries one line naming the parameter, the value
  and the rule, and :func:`seal_ros.nodes.common.run_node` prints it and exits
  with status 2 (no traceback, no silent fallback to the default);
- at run time (``ros2 param set``) it is refused with the same reason and the
  old value stays.

An integer given for a floating-point parameter (``window_duration_ms:=50``) is
taken as that number; nothing else is converted. Path parameters
(``path=True``) have ``~`` and ``$VARS`` expanded (:mod:`seal_ros.io.paths`)
when read with ``params[name]``; ``ros2 param get`` shows what was given.
The spec lists double as the source of truth for ``config/perception.yaml``
and the README tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from seal_ros.io.paths import expand_path, path_problem


class ParameterError(Exception):
    """An invalid start-up parameter value; the message is one line (parameter, value, rule)."""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        inner = {_kind(v) for v in value}
        return "a list of strings" if inner <= {"a string"} else f"a list ({', '.join(sorted(inner))})"
    return type(value).__name__


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    range: Optional[tuple] = None  # (min, max) or (min, max, step) for int/float
    choices: Optional[tuple] = None  # allowed values (strings usually)
    validate: Optional[Callable[[Any], Optional[str]]] = None  # returns a reason or None
    read_only: bool = False  # fixed after start-up
    path: bool = False  # a filesystem path: ~ and $VARS are expanded when read

    def rule(self) -> str:
        """What a value must be, in words (for error messages)."""
        text = _kind(self.default)
        if self.range is not None and not isinstance(self.default, bool):
            text += f" in [{self.range[0]}, {self.range[1]}]"
        if self.choices is not None:
            text += f", one of {list(self.choices)}"
        if self.path:
            text += " (a path; ~ and $VARS are expanded)"
        return text

    def check(self, value) -> Optional[str]:
        """The reason ``value`` is unacceptable, or None."""
        if _kind(value) != _kind(self.default):
            return f"{self.name}={value!r} is {_kind(value)}; it must be {self.rule()}"
        if self.range is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = self.range[0], self.range[1]
            if not lo <= value <= hi:
                return f"{self.name}={value!r} is outside [{lo}, {hi}]"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}={value!r} is not one of {list(self.choices)}"
        if self.path and isinstance(value, str):
            problem = path_problem(value)
            if problem is not None:
                return f"{self.name}={value!r}: {problem}"
        if self.validate is not None:
            return self.validate(value)
        return None


def _descriptor(spec: Param):
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.parameter import Parameter

    ptype = Parameter.Type.from_parameter_value(spec.default).value
    desc = spec.description
    if spec.choices:
        desc += f" One of: {', '.join(map(str, spec.choices))}."
    d = ParameterDescriptor(name=spec.name, type=ptype, description=desc, read_only=spec.read_only)
    if spec.range is not None:
        lo, hi = spec.range[0], spec.range[1]
        step = spec.range[2] if len(spec.range) > 2 else 0
        if isinstance(spec.default, bool):
            pass
        elif isinstance(spec.default, int):
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
        elif isinstance(spec.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=float(step))]
    return d


def _override(node, spec: Param):
    """The start-up value given for ``spec`` (command line / launch / YAML), or None.

    An integer given for a floating-point parameter becomes that float (a user
    writing ``window_duration_ms:=50`` means 50.0); rclpy would refuse the type.
    """
    from rclpy.parameter import Parameter

    overrides = getattr(node, "_parameter_overrides", None)
    if not isinstance(overrides, dict) or spec.name not in overrides:
        return None
    given = overrides[spec.name]
    if isinstance(spec.default, float) and given.type_ == Parameter.Type.INTEGER:
        given = Parameter(spec.name, Parameter.Type.DOUBLE, float(given.value))
        overrides[spec.name] = given
    return given


class ParamSet:
    """Declares ``specs`` on ``node``, validates every change, then calls ``on_change``.

    ``on_change(name, value)`` runs after a change was accepted; values are
    read with ``params[name]`` (always the current accepted value; paths
    expanded). Raises :class:`ParameterError` for an invalid start-up value.
    """

    def __init__(self, node, specs: Sequence[Param], on_change: Optional[Callable[[str, Any], None]] = None):
        from rcl_interfaces.msg import SetParametersResult
        from rclpy.exceptions import ParameterException

        self._result = SetParametersResult
        self._node = node
        self._specs = {s.name: s for s in specs}
        self._on_change = on_change
        self.values = {}
        for spec in specs:
            given = _override(node, spec)
            try:
                value = node.declare_parameter(spec.name, spec.default, _descriptor(spec)).value
            except (ParameterException, TypeError, ValueError) as exc:
                # rclpy refuses a wrong type or a value outside the descriptor's range
                shown = given.value if given is not None else "?"
                reason = spec.check(shown) if given is not None else None
                raise ParameterError(self._startup_line(spec, shown, reason or str(exc).splitlines()[0]))
            reason = spec.check(value)
            if reason is not None:
                raise ParameterError(self._startup_line(spec, value, reason))
            self.values[spec.name] = value
        node.add_on_set_parameters_callback(self._validate)
        node.add_post_set_parameters_callback(self._apply)

    def _startup_line(self, spec: Param, value, reason: str) -> str:
        return (f"{self._node.get_name()}: invalid start-up value {spec.name}={value!r}: {reason} "
                f"(rule: {spec.rule()})")

    def __getitem__(self, name):
        value = self.values[name]
        return expand_path(value) if self._specs[name].path else value

    def _validate(self, params):
        for p in params:
            spec = self._specs.get(p.name)
            if spec is None:
                continue
            reason = spec.check(p.value)
            if reason is not None:
                return self._result(successful=False, reason=reason)
        return self._result(successful=True)

    def _apply(self, params):
        for p in params:
            if p.name in self._specs:
                self.values[p.name] = p.value
                if self._on_change is not None:
                    self._on_change(p.name, p.value)
