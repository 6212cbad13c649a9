"""What a sweep sends to workers, and the function each worker runs per parameter combination.

The parent builds one `SweepPayload` (every symbol's bar columns as NumPy arrays and the engine
settings per symbol) and hands it to the executor as the shared payload, which delivers it to each
worker once. Tasks are small `RunTask` specs (run key, strategy, symbol, resolved parameters).

Inside a worker, `run_task` keeps one `_WorkerContext` per payload (keyed by the payload's random
token): the bar frame built once from the shared arrays and one `IndicatorCache`, so every
indicator a combination needs is computed once per worker however many combinations use it.

`simulate` is the single code path from (strategy, parameters, bars, engine settings) to a
`BacktestResult`; the workers, the parent (artifacts of the best runs) and ``quantforge rerun``
all go through it, which is what makes a stored result reproducible exactly. Sweep workers call
`simulate_metrics` instead: the same kernel run, but the metrics are computed straight from the
kernel's arrays (no trade/order/fill/equity frames); they equal ``simulate(...).metrics`` bit for
bit (tests/parity/test_sweep_metrics_route.py), so the parent's re-simulation of the best runs and
``rerun`` still reproduce them exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from quantforge.data.schema import BAR_TIME, BAR_TIME_DTYPE
from quantforge.indicators.cache import IndicatorCache
from quantforge.strategies.library._common import BarArrays
from quantforge.strategies.registry import get as get_strategy

if TYPE_CHECKING:
    from quantforge.engine import Backtest, BacktestResult
    from quantforge.engine.state import MarketArrays

log = logging.getLogger(__name__)

__all__ = [
    "BAR_COLUMNS",
    "RunOutput",
    "RunTask",
    "SweepPayload",
    "bar_arrays",
    "bar_columns",
    "frame_from_columns",
    "plain_metrics",
    "run_task",
    "simulate",
    "simulate_metrics",
]

#: the bar columns a run reads (and the data fingerprint covers), in this order
BAR_COLUMNS: Final = ("open_time", "open", "high", "low", "close", "volume")

# Worker-side state: payload token -> context. It lives only in worker processes (and in the
# parent for in-process runs), holds the newest payload only, and is what makes the bar frame and
# the indicator cache exist once per worker rather than once per task.
_CONTEXTS: dict[str, _WorkerContext] = {}


@dataclass(frozen=True, slots=True)
class RunTask:
    """One parameter combination to run (small and picklable)."""

    run_key: str
    strategy: str
    symbol: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SweepPayload:
    """The data shared by every task of a sweep, delivered once per worker.

    Attributes
    ----------
    token
        Random identifier; workers key their per-payload context by it.
    columns
        Symbol -> column name -> array (``open_time`` as int64 ms UTC, prices float64).
    backtests
        Symbol -> the engine settings (`quantforge.engine.Backtest`) of that symbol's runs.
    """

    token: str
    columns: dict[str, dict[str, np.ndarray[Any, Any]]]
    backtests: dict[str, Backtest]


@dataclass(frozen=True, slots=True)
class RunOutput:
    """What a worker sends back for one combination: metrics and wall-clock times."""

    metrics: dict[str, float | int | None]
    started_at: float
    finished_at: float


def bar_columns(bars: pl.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
    """Return the columns a run reads as contiguous read-only arrays (time as int64 ms UTC)."""
    t = bars[BAR_TIME]
    if isinstance(t.dtype, pl.Datetime):
        t = t.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    out: dict[str, np.ndarray[Any, Any]] = {
        BAR_TIME: np.ascontiguousarray(t.cast(pl.Int64).to_numpy(), dtype=np.int64)
    }
    for name in BAR_COLUMNS[1:]:
        out[name] = np.ascontiguousarray(bars[name].cast(pl.Float64).to_numpy(), dtype=np.float64)
    for array in out.values():
        array.flags.writeable = False
    return out


def frame_from_columns(columns: Mapping[str, np.ndarray[Any, Any]]) -> pl.DataFrame:
    """Return the bar frame the engine reads, built from `bar_columns` output."""
    data: dict[str, pl.Series] = {
        BAR_TIME: pl.Series(BAR_TIME, np.asarray(columns[BAR_TIME]), dtype=pl.Int64).cast(
            BAR_TIME_DTYPE
        )
    }
    for name in BAR_COLUMNS[1:]:
        data[name] = pl.Series(name, np.asarray(columns[name]), dtype=pl.Float64)
    return pl.DataFrame(data)


def bar_arrays(columns: Mapping[str, np.ndarray[Any, Any]]) -> BarArrays:
    """Return `bar_columns` output as the strategies' `BarArrays` (read-only views, no copies)."""

    def ro(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if a.flags.writeable:  # read-only arrays let the indicator cache memoise fingerprints
            a = a.view()
            a.flags.writeable = False
        return a

    return BarArrays(
        time_ms=ro(columns[BAR_TIME]),
        open=ro(columns["open"]),
        high=ro(columns["high"]),
        low=ro(columns["low"]),
        close=ro(columns["close"]),
        volume=ro(columns["volume"]),
    )


def simulate(
    strategy: str,
    params: Mapping[str, Any],
    frame: pl.DataFrame,
    arrays: BarArrays,
    backtest: Backtest,
    cache: IndicatorCache | None = None,
) -> BacktestResult:
    """Backtest one combination: the compiled fast path when the strategy has signals, else events.

    Parameters
    ----------
    strategy
        Registry name.
    params
        Parameters (resolved or partial; defaults fill the rest).
    frame, arrays
        The bars as a frame (for the engine) and as arrays (for the strategy's indicators).
    backtest
        Engine settings.
    cache
        Optional indicator cache shared across combinations.

    Returns
    -------
    BacktestResult

    Raises
    ------
    NotFoundError
        Unknown strategy.
    ConfigError
        Bad parameters.
    """
    definition = get_strategy(strategy)
    # signals and build resolve the parameters themselves (once per run: ~8 us each time)
    if definition.has_signals:
        return definition.signals(arrays, params, cache).run(frame, backtest)
    return backtest.run_strategy(frame, definition.build(arrays, params, cache))


def simulate_metrics(
    strategy: str,
    params: Mapping[str, Any],
    frame: pl.DataFrame,
    arrays: BarArrays,
    backtest: Backtest,
    cache: IndicatorCache | None = None,
    markets: dict[int | None, MarketArrays] | None = None,
) -> Mapping[str, float]:
    """Return the metrics of `simulate` (equal bit for bit) without building the result frames.

    Strategies with signals take the metrics-only route (`SignalPlan.metrics`); the others run
    `simulate` and keep its metrics. ``markets`` (ATR period -> `MarketArrays` of ``frame``)
    memoises the validated engine arrays of ``frame`` across calls; pass one dict per frame.
    """
    definition = get_strategy(strategy)
    if not definition.has_signals:
        return simulate(strategy, params, frame, arrays, backtest, cache).metrics
    plan = definition.signals(arrays, params, cache)  # resolves the parameters, as in simulate
    if markets is None:
        return plan.metrics(frame, backtest)
    config = plan.configured(backtest)
    period = config.kernel_atr_period
    market = markets.get(period)
    if market is None:
        market = markets[period] = config.market(frame)
    # plan.metrics(market, backtest), with the exits merged once
    return config.run_signals_metrics(
        market, plan.entries, plan.exits, plan.short_entries, plan.short_exits
    )


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, float | int | None]:
    """Return metrics as plain Python numbers (NumPy scalars unwrapped, NaN/inf kept)."""
    out: dict[str, float | int | None] = {}
    for name, value in metrics.items():
        if type(value) is float:  # what the engine's metrics are: nothing to convert
            out[name] = value
            continue
        if value is None:
            out[name] = None
            continue
        item = value.item() if isinstance(value, np.generic) else value
        if isinstance(item, bool):
            out[name] = int(item)
        elif isinstance(item, int):
            out[name] = item
        else:
            out[name] = float(item)
    return out


class _WorkerContext:
    __slots__ = ("arrays", "cache", "frames", "markets")

    def __init__(self, payload: SweepPayload) -> None:
        self.frames = {s: frame_from_columns(c) for s, c in payload.columns.items()}
        self.arrays = {s: bar_arrays(c) for s, c in payload.columns.items()}
        self.cache = IndicatorCache()
        # symbol -> ATR period -> the engine's validated arrays of that symbol's frame
        self.markets: dict[str, dict[int | None, MarketArrays]] = {s: {} for s in payload.columns}


def _context(payload: SweepPayload) -> _WorkerContext:
    context = _CONTEXTS.get(payload.token)
    if context is None:
        _CONTEXTS.clear()
        context = _CONTEXTS[payload.token] = _WorkerContext(payload)
    return context


def run_task(task: RunTask, payload: SweepPayload) -> RunOutput:
    """Run one combination inside a worker and return its metrics (the executor's ``fn``).

    Raises
    ------
    QuantforgeError
        Whatever the strategy or the engine raises; the executor records it as the task's error.
    """
    context = _context(payload)
    started = time.time()
    metrics = simulate_metrics(
        task.strategy,
        task.params,
        context.frames[task.symbol],
        context.arrays[task.symbol],
        payload.backtests[task.symbol],
        context.cache,
        context.markets[task.symbol],
    )
    return RunOutput(plain_metrics(metrics), started, time.time())
