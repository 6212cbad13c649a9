"""Sweep views: 2-D parameter heatmaps and the plateau-or-spike sensitivity of the best run.

Both work on the runs table of an experiment (`ResultStore.runs`: one row per run, the headline
metrics as columns, one ``param.<name>`` column per parameter). Nothing is re-run.

The **plateau score** of the best combination (see ``docs/reports.md``)::

    score = (median(neighbours) - median(grid)) / (best - median(grid))

over the ranking metric (negated when smaller is better), where the neighbours are the
combinations one grid step away from the best in any parameter(s) (Chebyshev distance 1 in
grid-index space) and the grid is every run of the best run's strategy and symbol. 1 means the
neighbours are as good as the best (a plateau); 0 means they are no better than a typical
combination (an isolated spike); below 0, worse than typical.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import polars as pl

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError, NotFoundError

log = logging.getLogger(__name__)

__all__ = [
    "Aggregate",
    "ParamHeatmap",
    "Sensitivity",
    "heatmap_pairs",
    "param_heatmap",
    "param_names",
    "runs_of_strategy",
    "sensitivity",
    "strategies_of",
]

Aggregate = Literal["max", "median", "min", "mean"]
_AGGREGATES: Final = ("max", "median", "min", "mean")
_PREFIX: Final = "param."


@dataclass(frozen=True, slots=True, eq=False)
class ParamHeatmap:
    """The ranking metric over a grid of two parameters.

    Attributes
    ----------
    x_param, y_param
        Parameter names on the x and y axes.
    metric
        The metric shown.
    x_values, y_values
        Sorted distinct parameter values (axis ticks).
    z
        Shape ``(len(y_values), len(x_values))``; ``nan`` where no run (or no finite value).
    how
        What was done with the other parameters, e.g. ``"max over slow_ma; atr=14"``.
    """

    x_param: str
    y_param: str
    metric: str
    x_values: tuple[Any, ...]
    y_values: tuple[Any, ...]
    z: FloatArray
    how: str


@dataclass(frozen=True, slots=True, eq=False)
class Sensitivity:
    """How the best combination's neighbours in the grid score: plateau or spike.

    Attributes
    ----------
    metric
        The ranking metric.
    descending
        True when larger is better.
    best_run_id
        Id of the best run.
    best_params
        Its parameters.
    best_value
        Its metric value.
    grid_median
        Median metric over the grid (the best run's strategy and symbol).
    neighbour_median
        Median metric of the neighbours (``nan`` when none has a value).
    plateau_score
        See the module docstring; ``nan`` without neighbours.
    neighbours
        The neighbour runs: ``id``, ``param.*`` columns and the metric.
    profiles
        Per parameter: (values, metric) along that parameter with the others held at the best
        run's values — the 1-D slices through the best combination.
    """

    metric: str
    descending: bool
    best_run_id: int
    best_params: dict[str, Any]
    best_value: float
    grid_median: float
    neighbour_median: float
    plateau_score: float
    neighbours: pl.DataFrame
    profiles: dict[str, tuple[tuple[Any, ...], FloatArray]]


def param_names(runs: pl.DataFrame) -> list[str]:
    """Return the parameter names of a runs table (its ``param.<name>`` columns, in order)."""
    return [c[len(_PREFIX) :] for c in runs.columns if c.startswith(_PREFIX)]


def _check_param(runs: pl.DataFrame, name: str) -> str:
    names = param_names(runs)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown parameter {name!r}; the runs have {', '.join(names) or 'no parameters'}."
            + hint
        )
    return _PREFIX + name


def _check_metric(runs: pl.DataFrame, metric: str) -> None:
    if metric not in runs.columns or metric.startswith(_PREFIX):
        choices = [
            c
            for c in runs.columns
            if runs.schema[c].is_numeric() and c != "id" and not c.startswith(_PREFIX)
        ]
        raise ConfigError(
            f"unknown metric {metric!r}; choose one of {', '.join(choices)}"
            if choices
            else f"unknown metric {metric!r}"
        )


def _sorted_values(series: pl.Series) -> tuple[Any, ...]:
    values = series.drop_nulls().unique().to_list()
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=str))


def param_heatmap(
    runs: pl.DataFrame,
    x: str,
    y: str,
    *,
    metric: str = "pnl_to_max_drawdown",
    fixed: Mapping[str, Any] | None = None,
    aggregate: Aggregate = "max",
) -> ParamHeatmap:
    """Return the metric over the (x, y) parameter grid.

    Every other parameter is either held at a value (``fixed``) or aggregated over
    (``aggregate``: the best case ``max``, the typical case ``median``, ``min`` or ``mean``).

    Parameters
    ----------
    runs
        A runs table (`ResultStore.runs`).
    x, y
        Two different parameter names.
    metric
        The metric column to show.
    fixed
        Parameter name to the value it is held at; the rest are aggregated.
    aggregate
        How runs sharing an (x, y) cell combine.

    Returns
    -------
    ParamHeatmap

    Raises
    ------
    ConfigError
        Unknown parameter/metric/aggregate, x == y, or a fixed value the runs never took.

    Examples
    --------
    >>> hm = param_heatmap(store.runs(1), "fast", "slow", aggregate="median")  # doctest: +SKIP
    >>> hm.z.shape  # doctest: +SKIP
    (8, 8)
    """
    if aggregate not in _AGGREGATES:
        raise ConfigError(f"aggregate must be one of {_AGGREGATES}; got {aggregate!r}")
    if x == y:
        raise ConfigError(f"a heatmap needs two different parameters; got {x!r} twice")
    _check_metric(runs, metric)
    x_col, y_col = _check_param(runs, x), _check_param(runs, y)
    frame = runs
    notes: list[str] = []
    for name, value in (fixed or {}).items():
        col = _check_param(runs, name)
        if name in (x, y):
            raise ConfigError(f"parameter {name!r} is on an axis; it cannot also be fixed")
        taken = _sorted_values(runs[col])
        if value not in taken:
            raise ConfigError(
                f"parameter {name!r} never took the value {value!r}; it took {list(taken)}"
            )
        frame = frame.filter(pl.col(col) == value)
        notes.append(f"{name}={value}")
    others = [n for n in param_names(runs) if n not in (x, y) and n not in (fixed or {})]
    if others:
        notes.insert(0, f"{aggregate} over {', '.join(others)}")
    x_values = _sorted_values(frame[x_col])
    y_values = _sorted_values(frame[y_col])
    value = pl.col(metric).cast(pl.Float64)
    agg = {
        "max": value.max(),
        "median": value.median(),
        "min": value.min(),
        "mean": value.mean(),
    }[aggregate]
    cells = (
        frame.filter(pl.col(x_col).is_not_null() & pl.col(y_col).is_not_null())
        .group_by(x_col, y_col)
        .agg(agg.alias("z"))
    )
    z = np.full((len(y_values), len(x_values)), np.nan)
    x_index = {v: i for i, v in enumerate(x_values)}
    y_index = {v: i for i, v in enumerate(y_values)}
    for xv, yv, zv in cells.iter_rows():
        z[y_index[yv], x_index[xv]] = np.nan if zv is None else float(zv)
    return ParamHeatmap(
        x_param=x,
        y_param=y,
        metric=metric,
        x_values=x_values,
        y_values=y_values,
        z=z,
        how="; ".join(notes) if notes else "every run",
    )


def _grid_of_best(runs: pl.DataFrame, best: Mapping[str, Any]) -> pl.DataFrame:
    frame = runs
    for column in ("strategy", "symbol"):
        if column in runs.columns:
            value = best.get(column)
            frame = frame.filter(
                pl.col(column).is_null() if value is None else pl.col(column) == value
            )
    return frame


def sensitivity(
    runs: pl.DataFrame,
    *,
    metric: str = "pnl_to_max_drawdown",
    descending: bool = True,
) -> Sensitivity:
    """Return the plateau-or-spike view of the best run: neighbours, profiles, plateau score.

    Parameters
    ----------
    runs
        A runs table (`ResultStore.runs`); only runs of the best run's strategy and symbol
        form its grid.
    metric
        The ranking metric.
    descending
        True when larger is better.

    Returns
    -------
    Sensitivity

    Raises
    ------
    NotFoundError
        No run has a finite value of ``metric``.
    ConfigError
        Unknown metric, or the runs have no parameters.

    Examples
    --------
    >>> s = sensitivity(store.runs(1), metric="sharpe")  # doctest: +SKIP
    >>> round(s.plateau_score, 2)  # doctest: +SKIP
    0.83
    """
    _check_metric(runs, metric)
    names = param_names(runs)
    if not names:
        raise ConfigError("the runs have no parameters: there is no grid to look around in")
    valued = runs.filter(pl.col(metric).is_not_null() & pl.col(metric).cast(pl.Float64).is_finite())
    if valued.height == 0:
        raise NotFoundError(f"no run has a finite {metric!r}; nothing to rank")
    best = valued.sort([metric, "id"], descending=[descending, False]).row(0, named=True)
    grid = _grid_of_best(runs, best)
    # parameters that never vary within this grid (or belong to other strategies) are no axes
    axes = [n for n in names if grid[_PREFIX + n].drop_nulls().n_unique() > 1]
    ticks = {n: _sorted_values(grid[_PREFIX + n]) for n in axes}
    sign = 1.0 if descending else -1.0
    values = grid[metric].cast(pl.Float64).to_numpy()
    finite = np.isfinite(values)
    best_value = float(best[metric])
    grid_median = float(np.median(values[finite]))
    best_pos = {n: ticks[n].index(best[_PREFIX + n]) for n in axes}
    is_neighbour = np.zeros(grid.height, dtype=bool)
    for i, row in enumerate(grid.select([_PREFIX + n for n in axes]).iter_rows()):
        steps = [
            abs(ticks[n].index(v) - best_pos[n]) if v is not None else 99
            for n, v in zip(axes, row, strict=True)
        ]
        is_neighbour[i] = bool(steps) and max(steps) == 1
    neighbours = grid.filter(pl.Series(is_neighbour)).select(
        "id", *[_PREFIX + n for n in axes], metric
    )
    nb_values = values[is_neighbour & finite]
    neighbour_median = float(np.median(nb_values)) if nb_values.size else math.nan
    score = _plateau_score(sign * best_value, sign * neighbour_median, sign * grid_median)
    profiles: dict[str, tuple[tuple[Any, ...], FloatArray]] = {}
    for n in axes:
        line = grid
        for other in axes:
            if other != n:
                line = line.filter(pl.col(_PREFIX + other) == best[_PREFIX + other])
        line = line.filter(pl.col(_PREFIX + n).is_not_null()).sort(_PREFIX + n)
        profiles[n] = (
            tuple(line[_PREFIX + n].to_list()),
            line[metric].cast(pl.Float64).fill_null(np.nan).to_numpy(),
        )
    return Sensitivity(
        metric=metric,
        descending=descending,
        best_run_id=int(best["id"]),
        best_params={n: best[_PREFIX + n] for n in names if best[_PREFIX + n] is not None},
        best_value=best_value,
        grid_median=grid_median,
        neighbour_median=neighbour_median,
        plateau_score=score,
        neighbours=neighbours,
        profiles=profiles,
    )


def _plateau_score(best: float, neighbour_median: float, grid_median: float) -> float:
    # all values already oriented so that larger is better
    if math.isnan(neighbour_median):
        return math.nan
    spread = best - grid_median
    if spread <= 1e-12 * max(abs(best), 1.0):
        return 1.0  # a flat grid: every combination is as good as the best
    return (neighbour_median - grid_median) / spread


def heatmap_pairs(runs: pl.DataFrame, limit: int = 3) -> list[tuple[str, str]]:
    """Return up to ``limit`` parameter pairs worth a heatmap (parameters that vary)."""
    varying = [n for n in param_names(runs) if runs[_PREFIX + n].drop_nulls().n_unique() > 1]
    return list(itertools.islice(itertools.combinations(varying, 2), limit))


def strategies_of(runs: pl.DataFrame) -> Sequence[str]:
    """Return the distinct strategies of a runs table, in first-seen order."""
    if "strategy" not in runs.columns:
        return []
    return list(dict.fromkeys(runs["strategy"].drop_nulls().to_list()))


def runs_of_strategy(runs: pl.DataFrame, strategy: str) -> pl.DataFrame:
    """Return the runs of one strategy, without the parameter columns it does not have."""
    frame = runs.filter(pl.col("strategy") == strategy)
    empty = [
        c for c in frame.columns if c.startswith(_PREFIX) and frame[c].null_count() == frame.height
    ]
    return frame.drop(empty)
