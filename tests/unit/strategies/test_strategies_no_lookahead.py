"""No look-ahead: changing the bars after t leaves every order decided up to t unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantforge as qf
from quantforge.strategies import registry
from quantforge.strategies.library.ma_cross import MaCross
from quantforge.strategies.registry import SignalPlan

DECISION = ["order_id", "created_time", "type", "side", "time_in_force", "tag", "reduce_only",
            "limit_price", "stop_price"]  # fmt: skip
CRYPTO = {
    "ma_cross": {"fast": 5, "slow": 20},
    "regime_ma_cross": {"trend_period": 50, "trend_lookback": 5, "fast": 5, "slow": 15,
                        "rsi_min": 45.0, "atr_stop": 1.0},
    "ema_rsi_atr": {"ema_fast": 5, "ema_slow": 20, "ema_trend": 100, "use_trailing_stop": True,
                    "trail_start_atr": 0.5},
    "sma_cooldown": {"fast": 5, "slow": 20, "cooldown_bars": 3, "daily_loss_limit": 0.01},
}  # fmt: skip


def walk(rng: np.random.Generator, n: int, start: float, t0: int) -> pl.DataFrame:
    close = start * np.exp(np.cumsum(rng.normal(0.0001, 0.004, n)))
    open_ = np.r_[start, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, n)))
    t = t0 + 900_000 * np.arange(n, dtype=np.int64)
    return pl.DataFrame({"open_time": t, "open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.uniform(1, 10, n)})  # fmt: skip


def mutate_after(bars: pl.DataFrame, t: int, rng: np.random.Generator, jump: float) -> pl.DataFrame:
    # replace every bar after t by a fresh random walk starting with a gap of ``jump``
    n = bars.height - t - 1
    tail = walk(rng, n, float(bars["close"][t]) * (1.0 + jump), int(bars["open_time"][t + 1]))
    tail = tail.with_columns(pl.col(c).cast(bars[c].dtype) for c in tail.columns)
    return pl.concat([bars.head(t + 1), tail.select(bars.columns)])


def decided_by(result, t_time) -> pl.DataFrame:
    return result.orders.filter(pl.col("created_time") <= t_time).select(DECISION)


def check(name: str, params: dict, bars: pl.DataFrame, rng, definition=None, **settings) -> None:
    d = registry.get(name) if definition is None else definition
    paths = ["signals", "events"] if d.has_signals else ["events"]
    cuts = [(bars.height * k // 5, jump) for k in (1, 2, 3, 4) for jump in (0.05, -0.05)]
    for t, jump in cuts:
        changed = mutate_after(bars, t, rng, jump)
        assert not changed.row(t + 1) == bars.row(t + 1)
        for path in paths:
            a = d.run(bars, params, path=path, **settings)
            b = d.run(changed, params, path=path, **settings)
            t_time = a.equity["open_time"][t]
            before = decided_by(a, t_time)
            assert before.height >= 1, (name, path)
            assert before.equals(decided_by(b, t_time)), (name, path, t)
            fa = a.fills.filter(pl.col("time") <= t_time)
            assert fa.equals(b.fills.filter(pl.col("time") <= t_time)), (name, path, t)


@pytest.mark.parametrize("name", list(CRYPTO))
def test_crypto_strategies_do_not_look_ahead(name: str, rng) -> None:
    bars = walk(rng, 3_000, 100.0, 1_700_000_000_000)
    perp = {"instrument": qf.Instrument(market="linear_perp")} if name == "ema_rsi_atr" else {}
    check(name, CRYPTO[name], bars, rng, cash=10_000.0, **perp)


@pytest.mark.shared_data
def test_opening_range_breakout_does_not_look_ahead(shared_data: Path, rng) -> None:
    bars = pl.read_parquet(shared_data / "SPY-5m.parquet").head(2_000)
    check("opening_range_breakout", {"stop_pct": 0.002}, bars, rng, cash=10_000.0)


class Peeking(MaCross):
    """ma_cross that acts one bar early (uses bar t+1's signal on bar t): must be caught."""

    def signals(self, bars, params=None, cache=None):
        plan = super().signals(bars, params, cache)
        return SignalPlan(np.r_[plan.entries[1:], False], np.r_[plan.exits[1:], False],
                          exit_rules=plan.exit_rules)  # fmt: skip


def test_the_check_catches_a_peeking_strategy(rng) -> None:
    bars = walk(rng, 3_000, 100.0, 1_700_000_000_000)
    with pytest.raises(AssertionError, match="ma_cross"):
        check("ma_cross", CRYPTO["ma_cross"], bars, rng, definition=Peeking(), cash=10_000.0)
