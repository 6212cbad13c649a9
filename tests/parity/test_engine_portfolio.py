"""Parity: a portfolio whose cash never binds equals the single-symbol backtests, per symbol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantforge as qf
from quantforge.engine.portfolio import SymbolSignals, backtest_portfolio


def _signals(close: np.ndarray) -> SymbolSignals:
    c = np.cumsum(np.r_[0.0, close])
    fast = np.full(close.shape[0], np.nan)
    slow = np.full(close.shape[0], np.nan)
    fast[9:] = (c[10:] - c[:-10]) / 10
    slow[29:] = (c[30:] - c[:-30]) / 30
    above = fast > slow
    prev = np.r_[False, above[:-1]]
    return SymbolSignals(entries=above & ~prev, exits=~above & prev)


@pytest.mark.shared_data
def test_portfolio_of_independent_legs_equals_single_runs(shared_data: Path) -> None:
    frames = {
        s: pl.read_parquet(shared_data / f"{s}-1h.parquet")
        .with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
        .head(20_000)
        for s in ("BNBUSDT", "ETHUSDT", "SOLUSDT")
    }
    signals = {s: _signals(f["close"].to_numpy()) for s, f in frames.items()}
    cfg = qf.Backtest(
        cash=1e7,
        fees=qf.Fees(taker=0.0005),
        sizing=qf.sizing.FixedQty(1.0),
        exit_rules=qf.ExitRules(stop_loss=0.03, trailing=0.05),
    )
    port = backtest_portfolio(frames, signals, cfg)
    total_pnl = 0.0
    for s, f in frames.items():
        sg = signals[s]
        single = qf.Backtest(**{**_fields(cfg), "symbol": s}).run_signals(f, sg.entries, sg.exits)
        mine = port.trades.filter(pl.col("symbol") == s)
        assert mine.equals(single.trades.sort("exit_time", maintain_order=True)), s
        assert single.trades.height > 100
        total_pnl += single.trades["pnl"].sum()
    assert port.final_equity - 1e7 == pytest.approx(total_pnl, abs=1e-4)


def _fields(cfg: qf.Backtest) -> dict[str, object]:
    return {name: getattr(cfg, name) for name in cfg.__dataclass_fields__}
