"""Parameter spaces: dimensions, constraints (safe parsing), the lazy grid and its size."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from quantforge.errors import ConfigError
from quantforge.experiment.space import (
    Constraint,
    Fixed,
    Linspace,
    Logspace,
    ParamGrid,
    ParamSpace,
    Range,
    Values,
)


def test_integer_range_is_inclusive_and_stays_int() -> None:
    values = Range(5, 40, 5).values()
    assert values == (5, 10, 15, 20, 25, 30, 35, 40)
    assert all(type(v) is int for v in values)
    assert len(Range(50, 120, 10)) == 8


def test_range_stops_before_an_end_off_the_grid() -> None:
    assert Range(0, 10, 3).values() == (0, 3, 6, 9)
    assert Range(10, 0, -4).values() == (10, 6, 2)


@pytest.mark.parametrize(
    ("start", "stop", "step", "expected"),
    [
        (0.1, 0.3, 0.1, (0.1, 0.2, 0.3)),
        (0.0, 1.0, 0.1, tuple(i / 10 for i in range(11))),
        (0.005, 0.02, 0.005, (0.005, 0.01, 0.015, 0.02)),
        (1, 2, 0.25, (1.0, 1.25, 1.5, 1.75, 2.0)),
    ],
)
def test_float_range_is_exact_decimal(
    start: float, stop: float, step: float, expected: tuple[float, ...]
) -> None:
    # Naive accumulation gives 0.30000000000000004 and drops the end point; decimal does not.
    assert Range(start, stop, step).values() == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 10, 0), "step must not be 0"),
        ((10, 0, 1), "never arrives"),
        ((0, float("inf"), 1), "finite"),
        ((0, "10", 1), "finite number"),
    ],
)
def test_bad_ranges(args: tuple[object, object, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Range(*args)  # type: ignore[arg-type]


def test_linspace_and_logspace_match_numpy() -> None:
    np.testing.assert_allclose(Linspace(0.0, 1.0, 5).values(), np.linspace(0.0, 1.0, 5))
    assert Linspace(0.0, 0.3, 4).values()[-1] == 0.3
    values = Logspace(1e-4, 1e-2, 3).values()
    np.testing.assert_allclose(values, [1e-4, 1e-3, 1e-2], rtol=1e-12)
    assert values[0] == 1e-4
    assert values[-1] == 1e-2
    np.testing.assert_allclose(
        Logspace(0.005, 0.05, 4).values(), np.geomspace(0.005, 0.05, 4), rtol=1e-12
    )
    assert Linspace(2.0, 3.0, 1).values() == (2.0,)
    with pytest.raises(ConfigError, match="> 0"):
        Logspace(0.0, 1.0, 3)
    with pytest.raises(ConfigError, match="num"):
        Linspace(0.0, 1.0, 0)


def test_values_and_fixed() -> None:
    assert Values((3, 1, 2)).values() == (3, 1, 2)
    assert Fixed("ema").values() == ("ema",)
    with pytest.raises(ConfigError, match="repeats 1"):
        Values((1, 2, 1))
    with pytest.raises(ConfigError, match="at least one"):
        Values(())
    # True == 1 in Python, but they are different parameter values
    assert Values((1, True)).values() == (1, True)


def test_grid_order_first_parameter_slowest() -> None:
    space = ParamSpace.build({"a": Values((1, 2)), "b": Values(("x", "y", "z"))})
    got = [tuple(c.values()) for c in ParamGrid(space)]
    assert got == [(1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]
    assert list(ParamGrid(space)) == list(ParamGrid(space).combinations())


def test_the_64_combination_grid() -> None:
    space = ParamSpace.build({"fast": Range(5, 40, 5), "slow": Range(50, 120, 10)})
    grid = ParamGrid(space)
    combos = list(grid)
    assert len(grid) == 64 == len(combos)
    assert combos[0] == {"fast": 5, "slow": 50}
    assert combos[1] == {"fast": 5, "slow": 60}
    assert combos[-1] == {"fast": 40, "slow": 120}
    assert len({tuple(c.items()) for c in combos}) == 64


def test_len_without_constraints_does_not_enumerate() -> None:
    dims = {f"p{i}": Range(0, 999, 1) for i in range(5)}  # 10**15 combinations
    grid = ParamGrid(ParamSpace.build(dims))
    start = time.perf_counter()
    assert len(grid) == 1000**5
    first = next(grid.combinations())
    assert time.perf_counter() - start < 1.0
    assert first == {f"p{i}": 0 for i in range(5)}


def test_constraints_filter_like_a_brute_force_oracle() -> None:
    fast, slow = Range(5, 60, 5), Range(10, 100, 10)
    space = ParamSpace.build({"fast": fast, "slow": slow}, ["fast < slow", "slow >= 2 * fast"])
    expected = [
        {"fast": f, "slow": s}
        for f, s in itertools.product(fast.values(), slow.values())
        if f < s and s >= 2 * f
    ]
    grid = ParamGrid(space)
    assert list(grid) == expected
    assert len(grid) == len(expected)
    assert grid.size_unconstrained == len(fast) * len(slow)


@pytest.mark.parametrize(
    ("expression", "combo", "expected"),
    [
        ("fast < slow", {"fast": 1, "slow": 2}, True),
        ("1 <= fast < slow <= 10", {"fast": 3, "slow": 11}, False),
        ("slow - fast >= 10 and not fast == 3", {"fast": 3, "slow": 20}, False),
        ("fast == 3 or slow % 2 == 1", {"fast": 4, "slow": 7}, True),
        ("abs(fast - slow) > 2", {"fast": 4, "slow": 1}, True),
        ("max(fast, slow) // 2 == min(fast, slow)", {"fast": 4, "slow": 8}, True),
        ("-fast < 0 and fast ** 2 != 16", {"fast": 4, "slow": 8}, False),
        ("fast / slow < 0.5", {"fast": 4, "slow": 8}, False),
    ],
)
def test_constraint_grammar(expression: str, combo: dict[str, int], expected: bool) -> None:
    assert Constraint.parse(expression, ["fast", "slow"]).holds(combo) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "fast.__class__",
        "[fast][0] < slow",
        "(lambda: 1)()",
        "'a' < 'b'",
        "fast if slow else 1",
        "open('x')",
        "fast < slow; 1",
        "f'{fast}'",
        "{fast: 1}",
    ],
)
def test_constraints_reject_anything_but_the_grammar(expression: str) -> None:
    with pytest.raises(ConfigError, match=r"not allowed|only numbers|not a valid"):
        Constraint.parse(expression, ["fast", "slow"])


def test_unknown_constraint_name_suggests() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'slwo' — did you mean 'slow'\?"):
        ParamSpace.build({"fast": Range(1, 3, 1), "slow": Range(2, 9, 1)}, ["fast < slwo"])


def test_constraint_evaluation_errors_are_config_errors() -> None:
    constraint = Constraint.parse("fast / slow < 1", ["fast", "slow"])
    with pytest.raises(ConfigError, match="failed for"):
        constraint.holds({"fast": 1, "slow": 0})
    with pytest.raises(ConfigError, match="exponent"):
        Constraint.parse("fast ** slow > 1", ["fast", "slow"]).holds({"fast": 2, "slow": 10**9})
    with pytest.raises(ConfigError, match="not a valid expression"):
        Constraint.parse("fast <", ["fast"])
