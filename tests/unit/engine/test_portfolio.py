"""Multi-asset portfolio: one cash account across symbols on an aligned index."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.unit.engine.conftest import make_bars

import quantforge as qf
from quantforge.engine.portfolio import SymbolSignals, backtest_portfolio
from quantforge.errors import DataValidationError


def flat(price: float, n: int) -> pl.DataFrame:
    return make_bars([(price, price, price, price)] * n)


def sig(n: int, at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.bool_)
    out[at] = True
    return out


def test_single_symbol_portfolio_equals_backtest(rng: np.random.Generator) -> None:
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    op = np.r_[100.0, close[:-1]]
    bars = make_bars(
        list(
            zip(
                op, np.maximum(op, close) * 1.003, np.minimum(op, close) * 0.997, close, strict=True
            )
        )
    )
    le, lx = rng.random(n) < 0.1, rng.random(n) < 0.1
    cfg = qf.Backtest(
        cash=10_000.0,
        fees=qf.Fees(taker=0.001),
        symbol="X",
        exit_rules=qf.ExitRules(stop_loss=0.01, take_profit=0.02),
    )
    single = cfg.run_signals(bars, le, lx)
    port = backtest_portfolio({"X": bars}, {"X": SymbolSignals(le, lx)}, cfg)
    assert port.trades.equals(single.trades)
    assert port.fills.equals(single.fills)
    assert np.array_equal(port.equity["equity"].to_numpy(), single.equity["equity"].to_numpy())
    assert single.trades.height > 5


def test_percent_equity_sizes_on_the_whole_account() -> None:
    n = 5
    cfg = qf.Backtest(cash=1_000.0, sizing=qf.sizing.PercentEquity(0.5))
    r = backtest_portfolio(
        {"A": flat(100.0, n), "B": flat(50.0, n)},
        {"A": SymbolSignals(entries=sig(n, 0)), "B": SymbolSignals(entries=sig(n, 1))},
        cfg,
    )
    assert r.fills.select("qty", "price").rows() == [(5.0, 100.0), (10.0, 50.0)]
    assert r.equity["cash"].to_list() == [1_000.0, 500.0, 0.0, 0.0, 0.0]
    assert r.equity["position:A"][-1] == 5.0
    assert r.equity["position:B"][-1] == 10.0
    assert r.final_equity == pytest.approx(1_000.0)
    assert sorted(r.trades["symbol"].to_list()) == ["A", "B"]


def test_spot_buys_need_cash_not_other_positions() -> None:
    n = 4
    cfg = qf.Backtest(cash=1_000.0, sizing=qf.sizing.FixedQty(6.0))
    r = backtest_portfolio(
        {"A": flat(100.0, n), "B": flat(100.0, n)},
        {"A": SymbolSignals(entries=sig(n, 0)), "B": SymbolSignals(entries=sig(n, 1))},
        cfg,
    )
    assert r.orders.select("symbol", "status", "reason").rows() == [
        ("A", "filled", "none"),
        ("B", "rejected", "insufficient_funds"),
    ]


def test_misaligned_frames_are_rejected() -> None:
    a = flat(100.0, 4)
    b = flat(100.0, 4).with_columns(pl.col("open_time") + pl.duration(minutes=1))
    with pytest.raises(DataValidationError, match="not aligned"):
        backtest_portfolio({"A": a, "B": b}, {"A": SymbolSignals(entries=sig(4, 0))})


def test_turnover_sums_every_symbols_fills_over_account_equity() -> None:
    n = 5
    cfg = qf.Backtest(cash=1_000.0, sizing=qf.sizing.PercentEquity(0.5))
    r = backtest_portfolio(
        {"A": flat(100.0, n), "B": flat(50.0, n)},
        {"A": SymbolSignals(entries=sig(n, 0)), "B": SymbolSignals(entries=sig(n, 1))},
        cfg,
    )
    # fills of 5 x 100 and 10 x 50 on a flat account of 1,000
    mean_equity = float(r.equity["equity"].mean())
    assert r.metrics["turnover"] == pytest.approx(1_000.0 / mean_equity, rel=1e-15)
    assert r.metrics["turnover"] == pytest.approx(1.0)
