"""Property tests of parameter spaces: sizes, order, constraints and float-safe ranges."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quantforge.experiment.space import ParamGrid, ParamSpace, Range, Values

small_ints = st.integers(min_value=-50, max_value=50)


@st.composite
def int_ranges(draw: st.DrawFn) -> Range:
    start = draw(small_ints)
    step = draw(st.integers(min_value=1, max_value=7))
    n = draw(st.integers(min_value=1, max_value=6))
    extra = draw(st.integers(min_value=0, max_value=step - 1))  # stop may fall off the grid
    return Range(start, start + (n - 1) * step + extra, step)


dimensions = st.one_of(
    int_ranges(),
    st.lists(small_ints, min_size=1, max_size=5, unique=True).map(lambda v: Values(tuple(v))),
)
spaces = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), dimensions, min_size=1, max_size=3)


@given(spaces)
@settings(max_examples=150, deadline=None)
def test_grid_is_the_product_in_nested_loop_order(dims: dict[str, Range | Values]) -> None:
    grid = ParamGrid(ParamSpace.build(dims))
    combos = list(grid.combinations())
    expected = [
        dict(zip(dims, point, strict=True))
        for point in itertools.product(*(d.values() for d in dims.values()))
    ]
    assert combos == expected
    assert len(grid) == len(expected)
    assert list(grid) == combos  # deterministic, re-iterable


@given(spaces, st.sampled_from(["<", "<=", ">", "!=", "=="]), st.integers(-3, 3))
@settings(max_examples=150, deadline=None)
def test_constraints_equal_python_filtering(
    dims: dict[str, Range | Values], op: str, offset: int
) -> None:
    names = list(dims)
    left, right = names[0], names[-1]
    expression = f"{left} {op} {right} + {offset}"
    grid = ParamGrid(ParamSpace.build(dims, [expression]))
    compare = {
        "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y,
        ">": lambda x, y: x > y,
        "!=": lambda x, y: x != y,
        "==": lambda x, y: x == y,
    }[op]
    expected = [
        dict(zip(names, point, strict=True))
        for point in itertools.product(*(d.values() for d in dims.values()))
        if compare(
            dict(zip(names, point, strict=True))[left],
            dict(zip(names, point, strict=True))[right] + offset,
        )
    ]
    assert list(grid) == expected
    assert len(grid) == len(expected)


@given(
    st.integers(-10_000, 10_000),
    st.integers(1, 500),
    st.integers(1, 40),
    st.sampled_from([1, 2, 3]),
)
@settings(max_examples=300, deadline=None)
def test_decimal_ranges_hit_every_point_exactly(
    start_units: int, step_units: int, n: int, digits: int
) -> None:
    # start and step written with `digits` decimals, as a user would type them
    scale = Decimal(10) ** -digits
    start, step = Decimal(start_units) * scale, Decimal(step_units) * scale
    stop = start + (n - 1) * step
    values = Range(float(start), float(stop), float(step)).values()
    assert len(values) == n
    assert values == tuple(float(start + i * step) for i in range(n))
    assert values[-1] == float(stop)
    assert all(b > a for a, b in itertools.pairwise(values))
