"""Test data for the report tests: real small backtests, stored in a real (temporary) store."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import polars as pl

import quantforge as qf
from quantforge.data.catalog import Catalog
from quantforge.engine.result import BacktestResult
from quantforge.store import ResultStore, RunRecord

START_MS = 1_704_067_200_000  # 2024-01-01 UTC
HOUR_MS = 3_600_000
FAST = (5, 10, 20)
SLOW = (30, 50, 80)


def synthetic_bars(n: int = 2_400, seed: int = 7) -> pl.DataFrame:
    """Hourly bars of a seeded random walk with trends (so MA crosses trade both ways)."""
    rng = np.random.default_rng(seed)
    drift = 0.0015 * np.sin(np.arange(n) / 180.0)
    close = 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, 0.008, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.004, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.004, n))
    times = START_MS + np.arange(n, dtype=np.int64) * HOUR_MS
    return pl.DataFrame(
        {
            "open_time": pl.Series(times).cast(pl.Datetime("ms", "UTC")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(1.0, 10.0, n),
        }
    )


def _crosses(bars: pl.DataFrame, fast: int, slow: int, regime: int | None) -> tuple:
    close = bars["close"]
    above = (close.rolling_mean(fast) > close.rolling_mean(slow)).fill_null(False).to_numpy()
    if regime is not None:
        trend = (close > close.rolling_mean(regime)).fill_null(False).to_numpy()
        above = above & trend
    prev = np.r_[False, above[:-1]]
    return above & ~prev, ~above & prev


def ma_cross(
    bars: pl.DataFrame, fast: int, slow: int, *, regime: int | None = None
) -> BacktestResult:
    """Long while the fast MA is above the slow one (and, with ``regime``, above a long MA)."""
    entries, exits = _crosses(bars, fast, slow, regime)
    return qf.backtest(
        bars,
        entries=entries,
        exits=exits,
        cash=10_000.0,
        fees=qf.Fees(taker=0.001),
        sizing=qf.sizing.PercentEquity(1.0),
    )


def build_store(root: Path) -> tuple[ResultStore, int, Path]:
    """Store a 3x3 sweep of two strategies on synthetic bars: (store, experiment id, catalog)."""
    bars = synthetic_bars()
    catalog = root / "catalog"
    Catalog(catalog).write_bars(bars, symbol="TESTUSDT", interval="1h")
    config = {
        "name": "naive_vs_regime",
        "data": {
            "catalog": str(catalog),
            "exchange": "binance",
            "symbols": ["TESTUSDT"],
            "interval": "1h",
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-05-01T00:00:00Z",
        },
        "ranking": {"metric": "sharpe", "direction": "max", "top_n": 4},
    }
    store = ResultStore.open(f"sqlite:///{root / 'results.db'}")
    experiment_id = store.create_experiment(
        "naive_vs_regime", config, code_version=qf.__version__, data_fingerprint="abc123"
    )
    records = []
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for strategy, regime in (("ma_cross", None), ("regime_ma_cross", 200)):
        for fast, slow in itertools.product(FAST, SLOW):
            result = ma_cross(bars, fast, slow, regime=regime)
            records.append(
                RunRecord(
                    run_key=f"{strategy}-{fast}-{slow}",
                    strategy=strategy,
                    params={"fast": fast, "slow": slow},
                    metrics=dict(result.metrics),
                    symbol="TESTUSDT",
                    started_at=now,
                    finished_at=now,
                    duration_s=0.01,
                    trades=result.trades,
                    equity=result.equity,
                )
            )
    store.add_runs(experiment_id, records)
    return store, experiment_id, catalog
