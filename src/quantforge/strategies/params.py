"""Typed strategy parameters: declarations with defaults, ranges and choices, and their validation.

A strategy declares its parameters once as a `ParamSpace` of `Param` values; `ParamSpace.resolve`
turns a user's mapping (from Python, a CLI flag or an experiment file) into a complete, validated
``dict`` or raises a `ConfigError` that names the parameter, the offending value and the allowed
range, and suggests close matches for misspelt names.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quantforge.errors import ConfigError

ParamValue = int | float | bool | str
Constraint = tuple[str, Callable[[Mapping[str, Any]], bool]]


@dataclass(frozen=True, slots=True)
class Param:
    """One strategy parameter.

    Parameters
    ----------
    name
        Identifier used in params dicts and experiment files.
    kind
        ``int``, ``float``, ``bool`` or ``str``.
    default
        Value used when the parameter is not given.
    doc
        One line saying what the parameter does (shown by ``quantforge strategies show``).
    minimum, maximum
        Inclusive bounds for numbers (None = unbounded).
    exclusive_minimum
        Make ``minimum`` a strict bound (``value > minimum``).
    choices
        Allowed values of a ``str`` parameter.
    """

    name: str
    kind: type
    default: ParamValue
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in (int, float, bool, str):
            msg = f"Param {self.name!r}: kind must be int, float, bool or str, got {self.kind!r}"
            raise ConfigError(msg)
        # the default must satisfy the declaration itself
        self.validate(self.default)

    @property
    def allowed(self) -> str:
        """Return the allowed values as text (``"int >= 1"``, ``"one of sma, ema"`` …)."""
        if self.kind is bool:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        low = "" if self.minimum is None else f"{'>' if self.exclusive_minimum else '>='} "
        parts = []
        if self.minimum is not None:
            parts.append(f"{low}{_fmt(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"<= {_fmt(self.maximum)}")
        return f"{self.kind.__name__} " + (" and ".join(parts) if parts else "(any)")

    def validate(self, value: object) -> ParamValue:
        """Return ``value`` converted to the parameter's type, or raise `ConfigError`.

        Integers are accepted for float parameters; a float with an integral value (``20.0``)
        is accepted for an int parameter; bools are never numbers.
        """
        # the message is built only on failure: sweeps validate every value of every run
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(self._invalid(value))
            return value
        if self.kind is str:
            if not isinstance(value, str) or (
                self.choices is not None and value not in self.choices
            ):
                hint = ""
                if isinstance(value, str) and self.choices is not None:
                    close = difflib.get_close_matches(value, self.choices, n=1)
                    hint = f" — did you mean {close[0]!r}?" if close else ""
                raise ConfigError(self._invalid(value) + hint)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self._invalid(value))
        if self.kind is int:
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise ConfigError(self._invalid(value))
            number: int | float = int(value)
        else:
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(self._invalid(value))
        if self.minimum is not None and (
            number <= self.minimum if self.exclusive_minimum else number < self.minimum
        ):
            raise ConfigError(self._invalid(value))
        if self.maximum is not None and number > self.maximum:
            raise ConfigError(self._invalid(value))
        return number

    def _invalid(self, value: object) -> str:
        return f"parameter {self.name!r} = {value!r} is invalid; allowed: {self.allowed}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """The parameters of one strategy plus cross-parameter constraints.

    Parameters
    ----------
    params
        The declarations, in display order.
    constraints
        ``(message, check)`` pairs; ``check(values)`` returns False when the resolved values
        break the rule, and ``message`` (formatted with the values) says what is wrong.

    Examples
    --------
    >>> rule = ("slow ({slow}) must be > fast ({fast})", lambda v: v["slow"] > v["fast"])
    >>> space = ParamSpace((Param("fast", int, 10, "fast period", minimum=1),
    ...                     Param("slow", int, 30, "slow period", minimum=2)), (rule,))
    >>> space.resolve({"fast": 5})
    {'fast': 5, 'slow': 30}
    """

    params: tuple[Param, ...]
    constraints: tuple[Constraint, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        """Return the parameter names in declaration order."""
        return tuple(p.name for p in self.params)

    @property
    def defaults(self) -> dict[str, ParamValue]:
        """Return every parameter's default."""
        return {p.name: p.default for p in self.params}

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ConfigError(self._unknown(name, "strategy"))

    def _unknown(self, name: str, owner: str) -> str:
        close = difflib.get_close_matches(name, self.names, n=3)
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else f"{owner} takes: {', '.join(self.names)}"
        )
        return f"unknown parameter {name!r} for {owner}; {hint}"

    def resolve(
        self, values: Mapping[str, object] | None = None, owner: str = "strategy"
    ) -> dict[str, ParamValue]:
        """Return the defaults updated with ``values``, every value validated.

        Parameters
        ----------
        values
            Parameter values to override (None = all defaults).
        owner
            Name used in error messages (the strategy's registry name).

        Raises
        ------
        ConfigError
            For an unknown name (with close matches), a value of the wrong type or outside its
            range, or a broken constraint.
        """
        resolved = self.defaults
        for name, value in (values or {}).items():
            if name not in resolved:
                raise ConfigError(self._unknown(name, owner))
            try:
                resolved[name] = self[name].validate(value)
            except ConfigError as e:
                raise ConfigError(f"{owner}: {e}") from None
        for message, check in self.constraints:
            if not check(resolved):
                raise ConfigError(f"{owner}: " + message.format(**resolved))
        return resolved
