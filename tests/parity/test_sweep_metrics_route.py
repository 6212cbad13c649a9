"""Parity: the sweep's metrics-only route gives the full result's metrics bit for bit.

`Backtest.run_signals_metrics`, `SignalPlan.metrics` and `experiment.tasks.simulate_metrics`
skip the Polars frames and compute the metrics from the kernel's arrays; every key must equal
``run_signals(...).metrics`` exactly (same float bits, NaN where NaN, same infinities).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantforge as qf
from quantforge.engine import Backtest, ExitRules, Fees, Instrument, TrailingStop
from quantforge.engine.costs import AtrFraction
from quantforge.experiment.tasks import (
    bar_arrays,
    bar_columns,
    frame_from_columns,
    simulate,
    simulate_metrics,
)
from quantforge.indicators.cache import IndicatorCache
from quantforge.strategies import registry

ROWS = 20_000


def assert_same_metrics(full: Mapping[str, float], lean: Mapping[str, float]) -> None:
    assert list(full) == list(lean)
    for name, a in full.items():
        b = lean[name]
        assert type(a) is type(b), name
        if isinstance(a, float) and math.isnan(a):
            assert math.isnan(b), (name, a, b)
        else:
            # equal values with equal bits (== alone would let 0.0 and -0.0 pass)
            assert a == b, (name, a, b)
            if isinstance(a, float):
                assert math.copysign(1.0, a) == math.copysign(1.0, b), name


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> pl.DataFrame:
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").tail(ROWS)
    return bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


BACKTEST = Backtest(fees=Fees(maker=0.001, taker=0.001), slippage=qf.slippage.FixedBps(1.0))

CASES: list[tuple[str, dict[str, Any]]] = [
    ("ma_cross", {"fast": 10, "slow": 30, "ma_type": "sma", "stop_pct": 0.01}),
    ("ma_cross", {"fast": 12, "slow": 50, "ma_type": "ema", "stop_pct": 0.005}),
    ("ma_cross", {"fast": 5, "slow": 120}),
    ("regime_ma_cross", {}),
    ("regime_ma_cross", {"fast": 5, "slow": 60, "atr_ratio": 0.5}),
    ("regime_ma_cross", {"fast": 20, "slow": 100, "ma_type": "sma", "rsi_min": 40.0}),
    ("regime_ma_cross", {"fast": 45, "slow": 140, "atr_ratio": 0.95, "atr_stop": 1.0}),
]


@pytest.mark.shared_data
def test_simulate_metrics_equals_full_result_on_btc(btc: pl.DataFrame) -> None:
    columns = bar_columns(btc)
    frame, arrays = frame_from_columns(columns), bar_arrays(columns)
    cache = IndicatorCache()
    markets: dict[int | None, Any] = {}  # shared across cases, as in a worker
    for strategy, params in CASES:
        full = simulate(strategy, params, frame, arrays, BACKTEST, cache)
        assert full.trades.height > 5, (strategy, params)
        lean = simulate_metrics(strategy, params, frame, arrays, BACKTEST, cache, markets)
        assert_same_metrics(full.metrics, lean)
        # without the memo of engine arrays, too
        assert_same_metrics(
            full.metrics, simulate_metrics(strategy, params, frame, arrays, BACKTEST, cache)
        )
    assert list(markets) == [None]


@pytest.mark.shared_data
def test_signal_plan_metrics_equals_run(btc: pl.DataFrame) -> None:
    definition = registry.get("regime_ma_cross")
    plan = definition.signals(btc, {"fast": 8, "slow": 70})
    assert_same_metrics(plan.run(btc, BACKTEST).metrics, plan.metrics(btc, BACKTEST))


@pytest.mark.shared_data
def test_market_memo_is_keyed_by_atr_period(btc: pl.DataFrame) -> None:
    """ATR slippage needs ATR arrays; the memo keeps one engine market per ATR period."""
    atr_slip = Backtest(fees=Fees(taker=0.0004), slippage=AtrFraction(0.1, period=10))
    columns = bar_columns(btc)
    frame, arrays = frame_from_columns(columns), bar_arrays(columns)
    markets: dict[int | None, Any] = {}
    for config in (BACKTEST, atr_slip, BACKTEST, atr_slip):
        lean = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, config, None, markets)
        full = simulate("ma_cross", {"fast": 7}, frame, arrays, config)
        assert_same_metrics(full.metrics, lean)
    assert sorted(markets, key=str) == [10, None]
    fixed = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, BACKTEST, None, markets)
    atr = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, atr_slip, None, markets)
    assert fixed["total_return"] != atr["total_return"]


@pytest.mark.shared_data
def test_run_signals_metrics_shorts_trailing_atr_open_at_end(btc: pl.DataFrame) -> None:
    n = btc.height
    rng = np.random.default_rng(7)
    entries = rng.random(n) < 0.01
    exits = rng.random(n) < 0.01
    short_entries = rng.random(n) < 0.01
    short_exits = rng.random(n) < 0.01
    entries[-3] = True  # a position still open on the last bar is booked as end_of_data
    config = Backtest(
        fees=Fees(maker=0.0002, taker=0.0004),
        slippage=qf.slippage.FixedBps(2),
        exit_rules=ExitRules(trailing=TrailingStop(atr_multiple=2.0, atr_period=21)),
        instrument=Instrument(market="linear_perp", tick_size=0.01, lot_size=0.00001),
    )
    full = config.run_signals(btc, entries, exits, short_entries, short_exits)
    assert full.trades["exit_reason"].to_list()[-1] == "end_of_data"
    assert {"long", "short"} <= set(full.trades["side"].to_list())
    lean = config.run_signals_metrics(btc, entries, exits, short_entries, short_exits)
    assert_same_metrics(full.metrics, lean)
    market = config.market(btc)
    assert_same_metrics(
        full.metrics,
        config.run_signals_metrics(market, entries, exits, short_entries, short_exits),
    )


def test_no_trades_gives_identical_nan_metrics() -> None:
    n = 50
    close = np.linspace(100.0, 120.0, n)
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 60_000,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": np.ones(n),
        }
    )
    none = np.zeros(n, dtype=np.bool_)
    full = Backtest().run_signals(bars, none, none)
    lean = Backtest().run_signals_metrics(bars, none, none)
    assert_same_metrics(full.metrics, lean)
    assert any(isinstance(v, float) and math.isnan(v) for v in lean.values())


@st.composite
def series_and_signals(draw: st.DrawFn) -> tuple[pl.DataFrame, list[np.ndarray]]:
    n = draw(st.integers(min_value=2, max_value=300))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, draw(st.sampled_from([0.001, 0.02, 0.1])), n)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + rng.random(n) * 0.01)
    low = np.minimum(open_, close) * (1.0 - rng.random(n) * 0.01)
    step = draw(st.sampled_from([60_000, 900_000, 86_400_000]))
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * step,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.random(n) * 10.0 + 0.1,
        }
    )
    rate = draw(st.sampled_from([0.0, 0.05, 0.3]))
    signals = [rng.random(n) < rate for _ in range(4)]
    return bars, signals


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=series_and_signals(),
    stop=st.sampled_from([None, 0.01, 0.05]),
    calendar=st.sampled_from(["crypto", "equity"]),
    rfr=st.sampled_from([0.0, 0.03]),
)
def test_hypothesis_series(
    data: tuple[pl.DataFrame, list[np.ndarray]], stop: float | None, calendar: str, rfr: float
) -> None:
    bars, (le, lx, se, sx) = data
    config = Backtest(
        cash=10_000.0,
        fees=Fees(maker=0.0002, taker=0.0004),
        exit_rules=ExitRules(stop_loss=stop),
        calendar=calendar,
        risk_free_rate=rfr,
    )
    full = config.run_signals(bars, le, lx, se, sx)
    assert_same_metrics(full.metrics, config.run_signals_metrics(bars, le, lx, se, sx))


@pytest.mark.shared_data
def test_regime_conditions_memo_equals_fresh_computation(btc: pl.DataFrame) -> None:
    """Condition parts remembered per indicator cache equal a computation without any cache."""
    definition = registry.get("regime_ma_cross")
    arrays = bar_arrays(bar_columns(btc))
    cache = IndicatorCache()
    grid = [
        {"fast": f, "slow": s, "atr_ratio": r, "rsi_min": m}
        for f in (5, 20)
        for s in (60, 100)
        for r in (0.5, 0.8)
        for m in (40.0, 50.0)
    ]
    fields = ("trend_up", "active", "rsi_ok", "cross_up", "cross_down", "atr")
    for _ in range(2):  # the second pass is served from the memo
        for params in grid:
            memo = definition.conditions(arrays, params, cache)
            fresh = definition.conditions(arrays, params, None)
            for name in fields:
                assert np.array_equal(getattr(memo, name), getattr(fresh, name), equal_nan=True)
            memo.cross_down[:] = True  # what comes out is a copy: the memo stays intact
    again = definition.conditions(arrays, grid[0], cache)
    assert np.array_equal(again.cross_down, definition.conditions(arrays, grid[0]).cross_down)
