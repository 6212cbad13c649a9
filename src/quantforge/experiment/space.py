"""Parameter spaces: the values each strategy parameter takes, constraints between them, the grid.

A `ParamSpace` maps parameter names (in declaration order) to dimensions — `Values` (an explicit
list), `Range` (start, stop, step; inclusive end; float-safe), `Linspace`, `Logspace` and `Fixed` —
plus constraints such as ``fast < slow``. `ParamGrid` walks the Cartesian product lazily in a
deterministic order: the first parameter varies slowest, the last fastest (like nested for-loops
written in declaration order), and combinations that break a constraint are skipped.

Constraints are parsed with :mod:`ast` and evaluated by a small interpreter that accepts only
parameter names, numbers, ``+ - * / // % **``, unary minus, comparisons (chains allowed), ``and``,
``or``, ``not`` and ``abs``/``min``/``max``. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import logging
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeAlias

from quantforge.errors import ConfigError

log = logging.getLogger(__name__)

#: a single parameter value
ParamValue: TypeAlias = int | float | str | bool
#: one point of the grid: parameter name -> value, in declaration order
Combination: TypeAlias = dict[str, ParamValue]

__all__ = [
    "Combination",
    "Constraint",
    "Dimension",
    "Fixed",
    "Linspace",
    "Logspace",
    "ParamGrid",
    "ParamSpace",
    "ParamValue",
    "Range",
    "Values",
]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Values:
    """An explicit list of values, taken in the order given (duplicates are an error)."""

    items: tuple[ParamValue, ...]

    def __post_init__(self) -> None:
        if len(self.items) == 0:
            raise ConfigError("a value list must hold at least one value; got []")
        seen: set[tuple[type, ParamValue]] = set()
        for item in self.items:
            key = (type(item), item)
            if key in seen:
                raise ConfigError(f"value list {list(self.items)!r} repeats {item!r}; drop it")
            seen.add(key)

    def values(self) -> tuple[ParamValue, ...]:
        """Return the values in order."""
        return self.items


@dataclass(frozen=True, slots=True)
class Fixed:
    """A parameter held at one value."""

    value: ParamValue

    def values(self) -> tuple[ParamValue, ...]:
        """Return the single value."""
        return (self.value,)


def _decimal(x: int | float) -> Decimal:
    # repr() is the shortest string that round-trips, so 0.1 becomes Decimal("0.1") exactly as
    # the user wrote it, and start + i*step carries no binary rounding error.
    return Decimal(repr(x)) if isinstance(x, float) else Decimal(x)


@dataclass(frozen=True, slots=True)
class Range:
    """Values ``start, start+step, ...`` up to and including ``stop`` when it lies on the grid.

    Integers stay integers when start, stop and step are all integers; otherwise the arithmetic is
    decimal (``Range(0.1, 0.3, 0.1)`` is exactly ``0.1, 0.2, 0.3``). A negative step counts down.
    """

    start: int | float
    stop: int | float
    step: int | float

    def __post_init__(self) -> None:
        for name in ("start", "stop", "step"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value):
                raise ConfigError(f"range {name} must be a finite number; got {value!r}")
        if self.step == 0:
            raise ConfigError("range step must not be 0")
        if (self.stop - self.start) * self.step < 0:
            raise ConfigError(
                f"range from {self.start} to {self.stop} never arrives with step {self.step}; "
                "flip the sign of step or swap start and stop"
            )

    def _integral(self) -> bool:
        return all(isinstance(v, int) for v in (self.start, self.stop, self.step))

    def __len__(self) -> int:
        """Return the number of values without generating them."""
        if self._integral():
            return int((self.stop - self.start) // self.step) + 1
        start, stop, step = (_decimal(v) for v in (self.start, self.stop, self.step))
        return int((stop - start) // step) + 1

    def values(self) -> tuple[ParamValue, ...]:
        """Return the values in order."""
        n = len(self)
        if self._integral():
            return tuple(int(self.start) + i * int(self.step) for i in range(n))
        start, step = _decimal(self.start), _decimal(self.step)
        return tuple(float(start + i * step) for i in range(n))


@dataclass(frozen=True, slots=True)
class Linspace:
    """``num`` evenly spaced floats from ``start`` to ``stop`` inclusive (like numpy.linspace)."""

    start: float
    stop: float
    num: int

    def __post_init__(self) -> None:
        if not (_is_number(self.start) and _is_number(self.stop)):
            raise ConfigError(f"linspace bounds must be numbers; got {self.start!r}, {self.stop!r}")
        if isinstance(self.num, bool) or not isinstance(self.num, int) or self.num < 1:
            raise ConfigError(f"linspace num must be an integer >= 1; got {self.num!r}")

    def values(self) -> tuple[ParamValue, ...]:
        """Return the values in order (the end points are exact)."""
        if self.num == 1:
            return (float(self.start),)
        span = float(self.stop) - float(self.start)
        inner = tuple(float(self.start) + span * i / (self.num - 1) for i in range(self.num - 1))
        return (*inner, float(self.stop))


@dataclass(frozen=True, slots=True)
class Logspace:
    """``num`` floats spaced evenly on a log scale from ``start`` to ``stop`` inclusive.

    Unlike numpy.logspace the bounds are the values themselves, not exponents:
    ``Logspace(1e-4, 1e-2, 3)`` is ``0.0001, 0.001, 0.01``.
    """

    start: float
    stop: float
    num: int

    def __post_init__(self) -> None:
        if not (_is_number(self.start) and _is_number(self.stop)):
            raise ConfigError(f"logspace bounds must be numbers; got {self.start!r}, {self.stop!r}")
        if self.start <= 0 or self.stop <= 0:
            raise ConfigError(
                f"logspace bounds must be > 0; got {self.start!r}, {self.stop!r} "
                "(use linspace for ranges that touch or cross zero)"
            )
        if isinstance(self.num, bool) or not isinstance(self.num, int) or self.num < 1:
            raise ConfigError(f"logspace num must be an integer >= 1; got {self.num!r}")

    def values(self) -> tuple[ParamValue, ...]:
        """Return the values in order (the end points are exact)."""
        if self.num == 1:
            return (float(self.start),)
        lo, hi = math.log(self.start), math.log(self.stop)
        inner = tuple(math.exp(lo + (hi - lo) * i / (self.num - 1)) for i in range(1, self.num - 1))
        return (float(self.start), *inner, float(self.stop))


Dimension: TypeAlias = Values | Fixed | Range | Linspace | Logspace

# --- constraints ----------------------------------------------------------------------------

_BINARY: Final[dict[type[ast.operator], Callable[[float, float], float]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: Final[dict[type[ast.cmpop], Callable[[Any, Any], bool]]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTIONS: Final[dict[str, Callable[..., float]]] = {"abs": abs, "min": min, "max": max}
_MAX_EXPONENT: Final = 64


def _check_node(node: ast.AST, expression: str, names: Sequence[str]) -> set[str]:
    """Validate one node of a constraint tree; return the parameter names it reads."""
    if isinstance(node, ast.Expression):
        return _check_node(node.body, expression, names)
    if isinstance(node, ast.Constant):
        if not _is_number(node.value):
            raise ConfigError(
                f"constraint {expression!r}: only numbers are allowed as literals; "
                f"got {node.value!r}"
            )
        return set()
    if isinstance(node, ast.Name):
        if node.id not in names:
            hint = difflib.get_close_matches(node.id, names, n=1)
            suggestion = f" — did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(
                f"constraint {expression!r} uses unknown parameter {node.id!r}{suggestion} "
                f"(parameters: {', '.join(names)})"
            )
        return {node.id}
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _check_node(node.left, expression, names) | _check_node(
            node.right, expression, names
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        return _check_node(node.operand, expression, names)
    if isinstance(node, ast.BoolOp):
        used: set[str] = set()
        for value in node.values:
            used |= _check_node(value, expression, names)
        return used
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        used = _check_node(node.left, expression, names)
        for comparator in node.comparators:
            used |= _check_node(comparator, expression, names)
        return used
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and node.args
    ):
        used = set()
        for arg in node.args:
            used |= _check_node(arg, expression, names)
        return used
    raise ConfigError(
        f"constraint {expression!r}: {type(node).__name__} is not allowed; use parameter names, "
        "numbers, + - * / // % **, comparisons, and/or/not and abs/min/max"
    )


def _evaluate(node: ast.AST, env: Mapping[str, ParamValue]) -> object:
    # The tree was checked by _check_node, so only the node kinds below can appear.
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        if isinstance(node.op, ast.Pow) and _is_number(right) and abs(right) > _MAX_EXPONENT:  # type: ignore[arg-type]
            raise ConfigError(f"constraint exponent {right!r} is larger than {_MAX_EXPONENT}")
        return _BINARY[type(node.op)](left, right)  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand  # type: ignore[operator]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(v, env) for v in node.values)
        return any(_evaluate(v, env) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, env) for a in node.args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Constraint:
    """A boolean expression over parameter names, e.g. ``fast < slow`` or ``slow >= 2 * fast``.

    Build it with `Constraint.parse`, which checks the syntax and the names.
    """

    expression: str
    names: frozenset[str]
    _tree: ast.Expression = field(repr=False, compare=False)

    @classmethod
    def parse(cls, expression: str, parameters: Sequence[str]) -> Constraint:
        """Parse and check ``expression`` against the known parameter names.

        Parameters
        ----------
        expression
            The constraint, e.g. ``"fast < slow"``.
        parameters
            The names it may use.

        Returns
        -------
        Constraint

        Raises
        ------
        ConfigError
            On a syntax error, a disallowed construct, or an unknown name (with a suggestion).

        Examples
        --------
        >>> c = Constraint.parse("fast < slow", ["fast", "slow"])
        >>> c.holds({"fast": 5, "slow": 50})
        True
        """
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(f"a constraint must be a non-empty expression; got {expression!r}")
        if len(expression) > 500:
            raise ConfigError(f"constraint is {len(expression)} characters long; keep it under 500")
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except SyntaxError as e:
            raise ConfigError(
                f"constraint {expression!r} is not a valid expression ({e.msg}); "
                "write e.g. 'fast < slow'"
            ) from e
        names = _check_node(tree, expression, list(parameters))
        return cls(expression=expression.strip(), names=frozenset(names), _tree=tree)

    def holds(self, combination: Mapping[str, ParamValue]) -> bool:
        """Return whether the combination satisfies the constraint.

        Raises
        ------
        ConfigError
            If evaluation fails (e.g. division by zero, comparing text with a number).
        """
        try:
            return bool(_evaluate(self._tree, combination))
        except ConfigError:
            raise
        except (ArithmeticError, TypeError, ValueError) as e:
            raise ConfigError(
                f"constraint {self.expression!r} failed for {dict(combination)!r}: {e}"
            ) from e


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """Named dimensions (declaration order matters: it fixes the grid order) and constraints."""

    dimensions: Mapping[str, Dimension]
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        names = list(self.dimensions)
        for constraint in self.constraints:
            unknown = sorted(constraint.names - set(names))
            if unknown:
                raise ConfigError(
                    f"constraint {constraint.expression!r} uses unknown parameter(s) {unknown}; "
                    f"parameters: {', '.join(names)}"
                )

    @classmethod
    def build(
        cls, dimensions: Mapping[str, Dimension], constraints: Sequence[str] = ()
    ) -> ParamSpace:
        """Build a space, parsing constraint strings against the dimension names.

        Examples
        --------
        >>> space = ParamSpace.build({"fast": Range(5, 40, 5), "slow": Range(50, 120, 10)})
        >>> len(ParamGrid(space))
        64
        """
        names = list(dimensions)
        parsed = tuple(Constraint.parse(c, names) for c in constraints)
        return cls(dimensions=dict(dimensions), constraints=parsed)

    @property
    def names(self) -> tuple[str, ...]:
        """Return the parameter names in declaration order."""
        return tuple(self.dimensions)


class ParamGrid:
    """The Cartesian product of a `ParamSpace`, filtered by its constraints, walked lazily.

    Order: the first parameter varies slowest, the last fastest. Iterating twice gives the same
    sequence. ``len()`` is computed without enumerating when there are no constraints; with
    constraints it walks the product once, checking every combination, and caches the count.
    """

    __slots__ = ("_count", "_values", "space")

    def __init__(self, space: ParamSpace) -> None:
        self.space = space
        self._values: tuple[tuple[ParamValue, ...], ...] = tuple(
            dimension.values() for dimension in space.dimensions.values()
        )
        self._count: int | None = None

    def _raw(self) -> Iterator[Combination]:
        names = self.space.names
        for point in itertools.product(*self._values):
            yield dict(zip(names, point, strict=True))

    @property
    def product_size(self) -> int:
        """Return the size of the unconstrained product (an upper bound of ``len()``, no walk)."""
        return math.prod(len(values) for values in self._values)

    def combinations(self) -> Iterator[Combination]:
        """Yield each combination that satisfies every constraint, in grid order.

        Examples
        --------
        >>> space = ParamSpace.build({"a": Values((1, 2)), "b": Values((1, 2))}, ["a < b"])
        >>> list(ParamGrid(space).combinations())
        [{'a': 1, 'b': 2}]
        """
        constraints = self.space.constraints
        for combination in self._raw():
            if all(c.holds(combination) for c in constraints):
                yield combination

    def __iter__(self) -> Iterator[Combination]:
        """Iterate over `combinations`."""
        return self.combinations()

    @property
    def size_unconstrained(self) -> int:
        """Return the size of the full product, ignoring constraints."""
        return math.prod(len(v) for v in self._values)

    def __len__(self) -> int:
        """Return the number of combinations that satisfy the constraints."""
        if self._count is None:
            if not self.space.constraints:
                self._count = self.size_unconstrained
            else:
                self._count = sum(1 for _ in self.combinations())
        return self._count
