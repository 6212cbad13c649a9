"""Facade errors: bad configuration and failing strategies are reported with context."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.unit.engine.conftest import Script, make_bars

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


def test_turnover_from_the_engines_fills() -> None:
    # flat price 100, cash 1,000, no fees: buy 2 at bar 1's open, sell 2 at bar 3's open;
    # equity stays 1,000, so turnover = (200 + 200) / 1,000 over n = 4 one-minute bars
    n = 5
    bars = make_bars([(100.0, 100.0, 100.0, 100.0)] * n)
    entries = np.zeros(n, dtype=np.bool_)
    exits = np.zeros(n, dtype=np.bool_)
    entries[0], exits[2] = True, True
    cfg = qf.Backtest(cash=1_000.0, sizing=qf.sizing.FixedQty(2.0))
    r = cfg.run_signals(bars, entries, exits)
    assert r.fills.select("qty", "price").rows() == [(2.0, 100.0), (2.0, 100.0)]
    assert r.metrics["turnover"] == 0.4
    assert r.metrics["turnover_annual"] == 0.4 * 525_600 / 4
    lean = cfg.run_signals_metrics(bars, entries, exits)
    assert lean["turnover"] == r.metrics["turnover"]
    # a position still open at the end is marked, not filled: only the entry counts
    held = cfg.run_signals(bars, entries, np.zeros(n, dtype=np.bool_))
    assert held.trades["exit_reason"].to_list() == ["end_of_data"]
    assert held.metrics["turnover"] == 0.2
    # the event path reports the same figure for the same fills
    script = Script({0: lambda ctx: ctx.buy(qty=2.0), 2: lambda ctx: ctx.close_position()})
    assert cfg.run_strategy(bars, script).metrics["turnover"] == 0.4
