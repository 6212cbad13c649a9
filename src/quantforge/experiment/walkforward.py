"""Walk-forward analysis: re-optimise on each in-sample window, trade the next out-of-sample one.

Windows (`walk_forward_windows`) are **rolling** (the in-sample window slides) or **anchored**
(it always starts at the first bar and grows), measured in bars or calendar days. Each window's
out-of-sample part starts exactly where its in-sample part ends, and consecutive out-of-sample
parts never overlap (``step >= out_of_sample``), so their equity can be stitched into one
out-of-sample curve.

`run_walk_forward` picks the best parameters on each in-sample window — by evaluating the
experiment's grid there or by an Optuna search (`quantforge.experiment.optimize`) — and trades them
on the out-of-sample window (indicators may warm up on the bars before it, but no entry is taken
before it starts). It reports the stitched out-of-sample equity, a per-window table, walk-forward
efficiency, consistency, parameter stability and the in-sample → out-of-sample degradation;
windows with fewer than ``min_trades`` out-of-sample trades are flagged.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantforge.errors import ConfigError, OptimizationError, QuantforgeError
from quantforge.experiment.optimize import (
    OptimizeSpec,
    SegmentResult,
    choose_target,
    run_optimization,
    simulate_segment,
)
from quantforge.experiment.tasks import bar_columns
from quantforge.strategies.registry import get as get_strategy

if TYPE_CHECKING:
    from quantforge.engine import Backtest
    from quantforge.executors import Executor
    from quantforge.experiment.config import ExperimentConfig, StrategySpec

log = logging.getLogger(__name__)

__all__ = [
    "ParameterStability",
    "WalkForwardProgress",
    "WalkForwardResult",
    "WalkForwardSpec",
    "Window",
    "WindowResult",
    "run_walk_forward",
    "stitch_equity",
    "walk_forward_windows",
]

_DAY_MS: Final = 86_400_000


class WalkForwardSpec(BaseModel):
    """The ``walk_forward:`` section of an experiment file.

    Attributes
    ----------
    mode
        ``rolling`` (fixed-length in-sample window) or ``anchored`` (starts at the first bar).
    unit
        ``days`` (calendar days, UTC) or ``bars``.
    in_sample, out_of_sample
        Window lengths in ``unit``.
    step
        How far each window moves; default ``out_of_sample`` (back-to-back out-of-sample parts).
        Must be ``>= out_of_sample`` so that out-of-sample parts never overlap.
    min_trades
        Out-of-sample windows with fewer trades are flagged.
    warmup_bars
        Bars before each out-of-sample window the indicators may see (no entries there).
    optimizer
        ``grid`` (evaluate the experiment's grid on each in-sample window) or ``optuna``.
    n_trials
        Trials per window for ``optuna`` (default the ``optimize`` profile's budget).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["rolling", "anchored"] = "rolling"
    unit: Literal["days", "bars"] = "days"
    in_sample: int = Field(ge=1)
    out_of_sample: int = Field(ge=1)
    step: int | None = Field(default=None, ge=1)
    min_trades: int = Field(default=5, ge=0)
    warmup_bars: int = Field(default=0, ge=0)
    optimizer: Literal["grid", "optuna"] = "grid"
    n_trials: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> WalkForwardSpec:
        if self.step is not None and self.step < self.out_of_sample:
            raise ValueError(
                f"step {self.step} < out_of_sample {self.out_of_sample} would make out-of-sample "
                "windows overlap; use step >= out_of_sample"
            )
        return self

    @property
    def stride(self) -> int:
        """Return the step (``out_of_sample`` unless given)."""
        return self.step if self.step is not None else self.out_of_sample


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window as bar indices: in-sample ``[is_start, is_end)``, then
    out-of-sample ``[oos_start, oos_end)`` with ``oos_start == is_end``."""

    index: int
    is_start: int
    is_end: int
    oos_start: int
    oos_end: int


def walk_forward_windows(time_ms: np.ndarray[Any, Any], spec: WalkForwardSpec) -> list[Window]:
    """Return the windows of ``spec`` over bars with open times ``time_ms`` (int64 ms, sorted).

    In ``days`` the boundaries are ``t0 + k·step`` days etc. from the first bar's open time and a
    bar belongs to the window its open time falls in; windows with an empty in-sample or
    out-of-sample part (a data gap) are dropped. The last out-of-sample window must end within the
    data (no partial windows).

    Raises
    ------
    ConfigError
        When not even one window fits in the data.

    Examples
    --------
    >>> spec = WalkForwardSpec(unit="bars", in_sample=4, out_of_sample=2)
    >>> [(w.is_start, w.is_end, w.oos_end) for w in walk_forward_windows(np.arange(10), spec)]
    [(0, 4, 6), (2, 6, 8), (4, 8, 10)]
    """
    t = np.asarray(time_ms, dtype=np.int64)
    n = int(t.size)
    windows: list[Window] = []
    k = 0
    if spec.unit == "bars":
        while True:
            is_end = spec.in_sample + k * spec.stride
            oos_end = is_end + spec.out_of_sample
            if oos_end > n:
                break
            is_start = 0 if spec.mode == "anchored" else is_end - spec.in_sample
            windows.append(Window(len(windows), is_start, is_end, is_end, oos_end))
            k += 1
    elif n:
        bar_ms = int(np.median(np.diff(t))) if n > 1 else _DAY_MS
        t0, t_end = int(t[0]), int(t[-1]) + bar_ms
        while True:
            is_end_t = t0 + (spec.in_sample + k * spec.stride) * _DAY_MS
            oos_end_t = is_end_t + spec.out_of_sample * _DAY_MS
            if oos_end_t > t_end:
                break
            is_start_t = t0 if spec.mode == "anchored" else is_end_t - spec.in_sample * _DAY_MS
            a, b, c = np.searchsorted(t, [is_start_t, is_end_t, oos_end_t], side="left")
            if a < b < c:
                windows.append(Window(len(windows), int(a), int(b), int(b), int(c)))
            k += 1
    if not windows:
        raise ConfigError(
            f"no walk-forward window fits in {n} bars: in_sample {spec.in_sample} + "
            f"out_of_sample {spec.out_of_sample} {spec.unit} is longer than the data; shorten them"
        )
    return windows


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One window: the chosen parameters and its in-sample and out-of-sample figures."""

    window: Window
    start_ms: tuple[int, int, int]
    params: dict[str, Any]
    is_metrics: dict[str, float | int | None]
    oos_metrics: dict[str, float | int | None]
    n_candidates: int
    flagged: bool

    @property
    def oos_return(self) -> float:
        """Return the out-of-sample total return."""
        return _num(self.oos_metrics.get("total_return"))


@dataclass(frozen=True, slots=True)
class ParameterStability:
    """How much a parameter's chosen value moves across windows.

    ``cv`` is std/|mean| for numbers (nan for text), ``modal_share`` the share of windows that
    chose the most common value.
    """

    name: str
    values: tuple[Any, ...]
    distinct: int
    modal_share: float
    cv: float


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """The outcome of `run_walk_forward`.

    Attributes
    ----------
    windows
        Per-window results in time order.
    equity_time_ms, equity
        Stitched out-of-sample equity (starting from the engine's cash).
    trade_returns
        Every out-of-sample trade's return, in order (for Monte Carlo).
    efficiency
        Walk-forward efficiency: mean out-of-sample annualised (arithmetic) return over the mean
        in-sample one (Pardo); nan when the in-sample mean is not positive.
    consistency
        Share of out-of-sample windows with a positive return.
    degradation
        ``1 − mean OOS metric / mean IS metric`` for the ranking metric (nan when the in-sample
        mean is not positive).
    stability
        `ParameterStability` per swept parameter.
    """

    strategy: str
    symbol: str
    spec: WalkForwardSpec
    metric: str
    windows: tuple[WindowResult, ...]
    equity_time_ms: np.ndarray[Any, Any]
    equity: np.ndarray[Any, Any]
    trade_returns: np.ndarray[Any, Any]
    efficiency: float
    consistency: float
    degradation: float
    is_metric_mean: float
    oos_metric_mean: float
    stability: tuple[ParameterStability, ...]
    oos_metrics: dict[str, float | int | None]

    @property
    def flagged(self) -> tuple[int, ...]:
        """Return the indices of windows with too few out-of-sample trades."""
        return tuple(w.window.index for w in self.windows if w.flagged)

    def table(self) -> pl.DataFrame:
        """Return the per-window table (dates, parameters, IS/OOS metric, return, trades)."""
        rows = []
        for w in self.windows:
            rows.append(
                {
                    "window": w.window.index,
                    "is_start": w.start_ms[0],
                    "oos_start": w.start_ms[1],
                    "oos_last_bar": w.start_ms[2],
                    "params": ", ".join(f"{k}={v}" for k, v in w.params.items()),
                    f"is_{self.metric}": _num(w.is_metrics.get(self.metric)),
                    f"oos_{self.metric}": _num(w.oos_metrics.get(self.metric)),
                    "is_return": _num(w.is_metrics.get("total_return")),
                    "oos_return": _num(w.oos_metrics.get("total_return")),
                    "oos_sharpe": _num(w.oos_metrics.get("sharpe")),
                    "oos_max_drawdown": _num(w.oos_metrics.get("max_drawdown")),
                    "oos_trades": int(w.oos_metrics.get("n_trades") or 0),
                    "flagged": w.flagged,
                }
            )
        frame = pl.DataFrame(rows)
        return frame.with_columns(
            pl.from_epoch(pl.col(c), time_unit="ms").dt.replace_time_zone("UTC")
            for c in ("is_start", "oos_start", "oos_last_bar")
        )


@dataclass(frozen=True, slots=True)
class WalkForwardProgress:
    """Windows done so far (passed to the progress callback)."""

    done: int
    total: int
    last_oos_return: float | None


def _num(value: object) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    return float(value)  # type: ignore[arg-type]


def stitch_equity(segments: list[SegmentResult], cash: float) -> tuple[np.ndarray[Any, Any], ...]:
    """Chain out-of-sample equity segments (each starting from ``cash``) into one curve.

    Returns
    -------
    tuple of arrays
        Open times (ms) and equity; each segment is rescaled to start where the last ended.

    Examples
    --------
    >>> a = SegmentResult({}, np.array([110.0, 120.0]), np.array([0, 1]), np.zeros(0), 0)
    >>> b = SegmentResult({}, np.array([90.0]), np.array([2]), np.zeros(0), 0)
    >>> stitch_equity([a, b], 100.0)[1].tolist()
    [110.0, 120.0, 108.0]
    """
    level = cash
    times: list[np.ndarray[Any, Any]] = []
    values: list[np.ndarray[Any, Any]] = []
    for seg in segments:
        curve = level * seg.equity / cash
        times.append(seg.time_ms)
        values.append(curve)
        if curve.size:
            level = float(curve[-1])
    if not values:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(times), np.concatenate(values)


def _stability(spec: StrategySpec, chosen: list[dict[str, Any]]) -> tuple[ParameterStability, ...]:
    from quantforge.experiment.space import Fixed

    out = []
    for name, dim in spec.space.dimensions.items():
        if isinstance(dim, Fixed):
            continue
        values = tuple(c.get(name) for c in chosen)
        counts = Counter(values)
        modal = counts.most_common(1)[0][1] / len(values) if values else math.nan
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        cv = math.nan
        if numeric and len(values) >= 2:
            mean = statistics.fmean(float(v) for v in values)  # type: ignore[arg-type]
            sd = statistics.stdev(float(v) for v in values)  # type: ignore[arg-type]
            cv = sd / abs(mean) if mean else math.nan
        out.append(ParameterStability(name, values, len(counts), modal, cv))
    return tuple(out)


def _better(a: float, b: float, descending: bool) -> bool:
    return a > b if descending else a < b


def _grid_best(
    spec: StrategySpec,
    columns: Mapping[str, np.ndarray[Any, Any]],
    backtest: Backtest,
    window: Window,
    metric: str,
    descending: bool,
) -> tuple[dict[str, Any], SegmentResult, int]:
    definition = get_strategy(spec.name)
    best: tuple[float, dict[str, Any], SegmentResult] | None = None
    n = 0
    for combination in spec.grid():
        try:
            params = dict(definition.resolve(combination))
            seg = simulate_segment(
                spec.name, params, columns, backtest, window.is_start, window.is_end
            )
        except QuantforgeError as e:
            log.debug("window %d: %s rejected: %s", window.index, combination, e)
            continue
        n += 1
        value = _num(seg.metrics.get(metric))
        if math.isnan(value):
            continue
        if best is None or _better(value, best[0], descending):
            best = (value, params, seg)
    if best is None:
        raise OptimizationError(
            f"window {window.index}: no parameter combination has a defined {metric} in sample "
            "(no trades?); lengthen in_sample or widen the grid"
        )
    return best[1], best[2], n


def run_walk_forward(
    config: ExperimentConfig,
    spec: WalkForwardSpec,
    *,
    bars: pl.DataFrame,
    strategy: str | None = None,
    symbol: str | None = None,
    optimize: OptimizeSpec | None = None,
    storage_url: str | None = None,
    executor: Executor | None = None,
    progress: Callable[[WalkForwardProgress], None] | None = None,
) -> WalkForwardResult:
    """Run a walk-forward analysis of one strategy on one symbol.

    Parameters
    ----------
    config
        The experiment (grid = search space, ``ranking`` = objective, ``engine`` = costs).
    spec
        Windows and re-optimisation settings.
    bars
        The symbol's bars.
    strategy, symbol
        Which strategy/symbol when the experiment has several.
    optimize
        Optuna settings for ``spec.optimizer == "optuna"``.
    storage_url
        Results database for the per-window Optuna studies (required for ``optuna``).
    executor
        Optional executor for the Optuna trials.
    progress
        Called after every window.

    Returns
    -------
    WalkForwardResult

    Raises
    ------
    ConfigError
        For windows that do not fit or a missing storage URL.
    OptimizationError
        When a window has no usable in-sample result.
    """
    strategy_spec, chosen_symbol = choose_target(config, strategy, symbol)
    backtest = config.backtest(chosen_symbol)
    columns = bar_columns(bars)
    windows = walk_forward_windows(columns["open_time"], spec)
    metric = config.ranking.metric
    descending = config.ranking.direction == "max"
    if spec.optimizer == "optuna" and storage_url is None:
        raise ConfigError("walk-forward with optimizer: optuna needs the results store URL")
    results: list[WindowResult] = []
    segments: list[SegmentResult] = []
    trade_returns: list[np.ndarray[Any, Any]] = []
    t = columns["open_time"]
    for window in windows:
        if spec.optimizer == "grid":
            params, is_seg, n_candidates = _grid_best(
                strategy_spec, columns, backtest, window, metric, descending
            )
        else:
            assert storage_url is not None
            base = optimize or OptimizeSpec()
            opt_spec = base.model_copy(update={"n_trials": spec.n_trials or base.budget})
            prefix = f"{opt_spec.study or config.name}:{strategy_spec.name}:{chosen_symbol}"
            found = run_optimization(
                config,
                opt_spec,
                storage_url=storage_url,
                bars=bars[window.is_start : window.is_end],
                strategy=strategy_spec.name,
                symbol=chosen_symbol,
                executor=executor,
                study_prefix=f"{prefix}:wf{window.index}-{int(t[window.is_start])}",
            )
            params = found.best_params
            n_candidates = sum(s.n_complete for s in found.stages)
            is_seg = simulate_segment(
                strategy_spec.name, params, columns, backtest, window.is_start, window.is_end
            )
        oos = simulate_segment(
            strategy_spec.name,
            params,
            columns,
            backtest,
            window.oos_start,
            window.oos_end,
            warmup=spec.warmup_bars,
        )
        segments.append(oos)
        trade_returns.append(oos.trade_returns)
        result = WindowResult(
            window=window,
            start_ms=(
                int(t[window.is_start]),
                int(t[window.oos_start]),
                int(t[window.oos_end - 1]),
            ),
            params=params,
            is_metrics=is_seg.metrics,
            oos_metrics=oos.metrics,
            n_candidates=n_candidates,
            flagged=oos.n_trades < spec.min_trades,
        )
        results.append(result)
        log.info(
            "walk-forward window %d/%d: %s, OOS return %.4f, %d trades",
            window.index + 1,
            len(windows),
            params,
            result.oos_return,
            oos.n_trades,
        )
        if progress is not None:
            progress(WalkForwardProgress(len(results), len(windows), result.oos_return))
    times, equity = stitch_equity(segments, backtest.cash)
    return _summarise(
        config, spec, strategy_spec, chosen_symbol, results, times, equity, trade_returns
    )


def _summarise(
    config: ExperimentConfig,
    spec: WalkForwardSpec,
    strategy_spec: StrategySpec,
    symbol: str,
    results: list[WindowResult],
    times: np.ndarray[Any, Any],
    equity: np.ndarray[Any, Any],
    trade_returns: list[np.ndarray[Any, Any]],
) -> WalkForwardResult:
    from quantforge.engine.metrics import compute_metrics, periods_per_year

    metric = config.ranking.metric

    def mean_of(key: str, which: str) -> float:
        vals = [_num(getattr(w, which).get(key)) for w in results]
        finite = [v for v in vals if math.isfinite(v)]
        return statistics.fmean(finite) if finite else math.nan

    is_ann = mean_of("annual_return_arithmetic", "is_metrics")
    oos_ann = mean_of("annual_return_arithmetic", "oos_metrics")
    efficiency = oos_ann / is_ann if is_ann > 0 else math.nan
    is_m = mean_of(metric, "is_metrics")
    oos_m = mean_of(metric, "oos_metrics")
    degradation = 1.0 - oos_m / is_m if is_m > 0 else math.nan
    consistency = statistics.fmean(1.0 if w.oos_return > 0 else 0.0 for w in results)
    pooled = np.concatenate(trade_returns) if trade_returns else np.zeros(0)
    bar_ms = int(np.median(np.diff(times))) if times.size > 1 else 60_000
    backtest = config.backtest(symbol)
    full = np.concatenate([[backtest.cash], equity])
    stitched = compute_metrics(
        full,
        periods_per_year=periods_per_year(bar_ms, backtest.calendar),
        trade_pnl=np.zeros(0),  # only the curve's statistics are kept from this call
        trade_returns=np.zeros(0),
        trade_bars_held=np.zeros(0, dtype=np.int64),
        exposure=np.zeros(full.size),
        bar_seconds=bar_ms / 1000.0,
        risk_free_rate=backtest.risk_free_rate,
    )
    keep = (
        "total_return",
        "annual_return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "probabilistic_sharpe_ratio",
        "n_bars",
    )
    oos_metrics: dict[str, float | int | None] = {k: float(stitched[k]) for k in keep}
    oos_metrics["n_trades"] = int(pooled.size)
    return WalkForwardResult(
        strategy=strategy_spec.name,
        symbol=symbol,
        spec=spec,
        metric=metric,
        windows=tuple(results),
        equity_time_ms=times,
        equity=equity,
        trade_returns=pooled,
        efficiency=efficiency,
        consistency=consistency,
        degradation=degradation,
        is_metric_mean=is_m,
        oos_metric_mean=oos_m,
        stability=_stability(strategy_spec, [w.params for w in results]),
        oos_metrics=oos_metrics,
    )
