"""Declarative node parameters: one :class:`Param` per parameter.

Each spec becomes a ``ParameterDescriptor`` (description, type, range where one
fits, read-only flag); every set request is validated against the spec and
refused with a reason, so ``ros2 param set`` prints why a value was rejected.
The spec lists double as the source of truth for ``config/perception.yaml``
and the README tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    range: Optional[tuple] = None  # (min, max) or (min, max, step) for int/float
    choices: Optional[tuple] = None  # allowed values (strings usually)
    validate: Optional[Callable[[Any], Optional[str]]] = None  # returns a reason or None
    read_only: bool = False  # fixed after start-up

    def check(self, value) -> Optional[str]:
        """The reason ``value`` is unacceptable, or None."""
        if self.range is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = self.range[0], self.range[1]
            if not lo <= value <= hi:
                return f"{self.name}={value!r} is outside [{lo}, {hi}]"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}={value!r} is not one of {list(self.choices)}"
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


class ParamSet:
    """Declares ``specs`` on ``node``, validates every change, then calls ``on_change``.

    ``on_change(name, value)`` runs after a change was accepted; values are
    read with ``params[name]`` (always the current accepted value).
    """

    def __init__(self, node, specs: Sequence[Param], on_change: Optional[Callable[[str, Any], None]] = None):
        from rcl_interfaces.msg import SetParametersResult

        self._result = SetParametersResult
        self._node = node
        self._specs = {s.name: s for s in specs}
        self._on_change = on_change
        self.values = {}
        for spec in specs:
            p = node.declare_parameter(spec.name, spec.default, _descriptor(spec))
            value = p.value
            reason = spec.check(value)
            if reason is not None:  # a bad value from a launch file / YAML: keep the default
                node.get_logger().error(f"rejected start-up value: {reason}; using default {spec.default!r}")
                value = spec.default
            self.values[spec.name] = value
        node.add_on_set_parameters_callback(self._validate)
        node.add_post_set_parameters_callback(self._apply)

    def __getitem__(self, name):
        return self.values[name]

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
