"""Facade errors: bad configuration and failing strategies are reported with context."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.unit.engine.conftest import make_bars

import quantforge as qf
from quantforge.errors import ConfigError, DataValidationError, StrategyError

FLAT = (100.0, 100.0, 100.0, 100.0)


class Boom(qf.Strategy):
    def on_bar(self, ctx: qf.Context) -> None:
        if ctx.i == 2:
            raise ValueError("bad indicator")


def test_strategy_errors_name_the_bar() -> None:
    with pytest.raises(StrategyError, match=r"Boom.on_bar failed at bar 2 \(1970-01-01T00:02"):
        qf.backtest(make_bars([FLAT] * 4), Boom())


def test_strategy_and_signals_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="either a strategy or signal arrays"):
        qf.backtest(make_bars([FLAT] * 2), Boom(), entries=np.array([True, False]))
    with pytest.raises(ConfigError, match="nothing to simulate"):
        qf.backtest(make_bars([FLAT] * 2))


def test_bad_inputs_are_rejected_with_the_offending_value() -> None:
    bars = make_bars([FLAT] * 3)
    with pytest.raises(DataValidationError, match=r"shape \(2,\)"):
        qf.backtest(bars, entries=np.array([True, False]))
    with pytest.raises(DataValidationError, match="boolean"):
        qf.backtest(bars, entries=np.array([1, 0, 0]))
    unsorted = bars.reverse()
    with pytest.raises(DataValidationError, match="strictly increasing at row 1"):
        qf.backtest(unsorted, entries=np.array([True, False, False]))
    with pytest.raises(DataValidationError, match="non-positive price"):
        qf.backtest(bars.with_columns(pl.lit(0.0).alias("low")), entries=np.ones(3, bool))
    with pytest.raises(ConfigError, match="same_bar_rule"):
        qf.backtest(bars, entries=np.ones(3, bool), same_bar_rule="random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="leverage"):
        qf.Instrument(leverage=2.0)


def test_result_frames_have_the_documented_columns() -> None:
    r = qf.backtest(make_bars([FLAT] * 3), entries=np.array([True, False, False]))
    assert r.trades.columns == [
        "symbol",
        "side",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "qty",
        "fees",
        "funding",
        "pnl",
        "return",
        "bars_held",
        "exit_reason",
    ]
    assert r.equity.columns == [
        "open_time",
        "cash",
        "position",
        "position_value",
        "equity",
        "drawdown",
    ]
    assert r.equity["open_time"].dtype == pl.Datetime("ms", "UTC")
    assert {"sharpe", "max_drawdown", "n_trades"} <= set(r.metrics)
