"""Sweep views: heatmaps against a plain-Python oracle, the plateau score on hand-made grids."""

from __future__ import annotations

import itertools
import json
import math
import statistics

import numpy as np
import polars as pl
import pytest

from quantforge.errors import ConfigError, NotFoundError
from quantforge.report.sweep import param_heatmap, sensitivity


def _runs(values: dict[tuple[int, ...], float | None], names: tuple[str, ...]) -> pl.DataFrame:
    rows = []
    for i, (combo, value) in enumerate(values.items(), start=1):
        params = dict(zip(names, combo, strict=True))
        rows.append(
            {
                "id": i,
                "strategy": "s",
                "symbol": "X",
                "params": json.dumps(params),
                "sharpe": value,
                **{f"param.{k}": v for k, v in params.items()},
            }
        )
    return pl.DataFrame(rows)


def test_heatmap_matches_plain_python(rng: np.random.Generator) -> None:
    grid = list(itertools.product((1, 2, 3), (10, 20), (7, 8, 9)))
    values = {combo: float(rng.normal()) for combo in grid}
    runs = _runs(values, ("a", "b", "c"))
    for how, fn in (("max", max), ("median", statistics.median), ("min", min)):
        hm = param_heatmap(runs, "a", "b", metric="sharpe", aggregate=how)  # type: ignore[arg-type]
        assert hm.x_values == (1, 2, 3)
        assert hm.y_values == (10, 20)
        for (i, b), (j, a) in itertools.product(enumerate(hm.y_values), enumerate(hm.x_values)):
            expected = fn([v for (ka, kb, _), v in values.items() if ka == a and kb == b])
            assert hm.z[i, j] == pytest.approx(expected)
        assert hm.how == f"{how} over c"
    fixed = param_heatmap(runs, "c", "a", metric="sharpe", fixed={"b": 20})
    assert fixed.z.shape == (3, 3)
    assert fixed.z[0, 2] == pytest.approx(values[(1, 20, 9)])
    assert fixed.how == "b=20"


def test_heatmap_errors() -> None:
    runs = _runs({(1, 1): 1.0, (1, 2): 2.0}, ("fast", "slow"))
    with pytest.raises(ConfigError, match="Did you mean 'fast'"):
        param_heatmap(runs, "fats", "slow", metric="sharpe")
    with pytest.raises(ConfigError, match="two different"):
        param_heatmap(runs, "fast", "fast", metric="sharpe")
    with pytest.raises(ConfigError, match="never took the value 5"):
        param_heatmap(
            _runs({(1, 1, 1): 1.0, (2, 1, 1): 1.0}, ("a", "b", "c")),
            "a",
            "b",
            metric="sharpe",
            fixed={"c": 5},
        )
    with pytest.raises(ConfigError, match="unknown metric"):
        param_heatmap(runs, "fast", "slow", metric="nope")


def _grid(fn: object) -> pl.DataFrame:
    combos = itertools.product(range(5), range(5))
    return _runs({c: fn(*c) for c in combos}, ("x", "y"))  # type: ignore[operator]


def test_plateau_score_of_a_plateau_and_a_spike() -> None:
    # a broad hill: the best (2, 2) is surrounded by near-equal values
    plateau = sensitivity(
        _grid(lambda x, y: 10.0 - 0.1 * ((x - 2) ** 2 + (y - 2) ** 2)), metric="sharpe"
    )
    assert plateau.best_params == {"x": 2, "y": 2}
    assert plateau.neighbours.height == 8
    # hand computation: neighbours are 9.9 (4x) and 9.8 (4x) -> median 9.85
    values = sorted(10.0 - 0.1 * ((x - 2) ** 2 + (y - 2) ** 2) for x in range(5) for y in range(5))
    grid_median = values[12]
    assert plateau.grid_median == pytest.approx(grid_median)
    assert plateau.plateau_score == pytest.approx((9.85 - grid_median) / (10.0 - grid_median))
    # a flat-topped hill: every neighbour nearly ties with the best (10.01 at the centre)
    mesa = sensitivity(
        _grid(
            lambda x, y: 10.0 + 0.01 * (x == y == 2) if max(abs(x - 2), abs(y - 2)) <= 1 else 1.0
        ),
        metric="sharpe",
    )
    assert mesa.best_params == {"x": 2, "y": 2}
    assert mesa.plateau_score == pytest.approx((10.0 - 1.0) / (10.01 - 1.0))
    # a spike: one lucky cell, flat elsewhere
    spike = sensitivity(_grid(lambda x, y: 5.0 if (x, y) == (4, 1) else 1.0), metric="sharpe")
    assert spike.best_run_id == 4 * 5 + 1 + 1
    assert spike.neighbours.height == 5  # on the edge: 5 neighbours
    assert spike.plateau_score == pytest.approx(0.0)
    # a flat grid is a perfect plateau
    assert sensitivity(_grid(lambda x, y: 3.0), metric="sharpe").plateau_score == 1.0


def test_sensitivity_direction_and_missing_values() -> None:
    runs = _grid(lambda x, y: float(x + y))
    low = sensitivity(runs, metric="sharpe", descending=False)
    assert low.best_params == {"x": 0, "y": 0}
    assert low.best_value == 0.0
    # neighbours 1, 1, 2 -> median 1; grid median 4; oriented: (-1 + 4) / (0 + 4)
    assert low.plateau_score == pytest.approx(0.75)
    assert low.profiles["x"][0] == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(low.profiles["x"][1], [0, 1, 2, 3, 4])
    nulls = _runs({(0,): 1.0, (1,): None, (2,): 0.5}, ("x",))
    s = sensitivity(nulls, metric="sharpe")
    assert s.best_params == {"x": 0}
    assert math.isnan(s.neighbour_median)
    assert math.isnan(s.plateau_score)
    with pytest.raises(NotFoundError):
        sensitivity(_runs({(0,): None}, ("x",)), metric="sharpe")
