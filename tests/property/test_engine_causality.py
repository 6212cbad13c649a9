"""No look-ahead (mutating the future changes nothing decided before it) and determinism."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import quantforge as qf

CREATION_COLS = [
    "order_id",
    "created_time",
    "type",
    "side",
    "time_in_force",
    "tag",
    "reduce_only",
    "limit_price",
    "stop_price",
]


def random_bars(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    op = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.003, n))
    hi = np.maximum(op, close) * (1 + np.abs(rng.normal(0, 0.005, n)))
    lo = np.minimum(op, close) * (1 - np.abs(rng.normal(0, 0.005, n)))
    return pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 3_600_000,
            "open": op,
            "high": hi,
            "low": lo,
            "close": close,
            "volume": rng.uniform(10, 100, n),
        }
    )


def mutate_after(bars: pl.DataFrame, t: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed + 1)
    n = bars.height
    f = np.ones(n)
    f[t + 1 :] = np.exp(rng.normal(0, 0.05, n - t - 1))
    wild = np.ones(n)
    wild[t + 1 :] = 1 + np.abs(rng.normal(0, 0.03, n - t - 1))
    return bars.with_columns(
        pl.col("open") * f,
        pl.col("close") * f,
        pl.col("high") * f * wild,
        pl.col("low") * f / wild,
        pl.col("volume") * f,
    )


class SmaStrategy(qf.Strategy):
    """Computes its indicator from ``ctx.closes`` only (what a bar-by-bar strategy can see)."""

    def on_bar(self, ctx: qf.Context) -> None:
        closes = ctx.closes
        if closes.shape[0] < 6:
            return
        fast, slow = closes[-3:].mean(), closes[-6:].mean()
        if ctx.position == 0 and fast > slow:
            ctx.buy(size=qf.sizing.PercentEquity(0.5), stop_loss=0.01, take_profit=0.02)
        elif ctx.position > 0 and fast < slow:
            ctx.close_position()
        elif ctx.position == 0 and fast < slow * 0.995:
            ctx.buy(1.0, limit=ctx.close * 0.99, tif=3)


def _decided_until(result: qf.BacktestResult, cutoff) -> tuple[pl.DataFrame, ...]:
    orders = result.orders.filter(pl.col("created_time") <= cutoff).select(CREATION_COLS)
    fills = result.fills.filter(pl.col("time") <= cutoff)
    equity = result.equity.filter(pl.col("open_time") <= cutoff)
    trades = result.trades.filter(pl.col("exit_time") < cutoff)  # end_of_data rows excepted
    return orders, fills, equity, trades


def _assert_same_past(a: qf.BacktestResult, b: qf.BacktestResult, cutoff) -> None:
    for x, y in zip(_decided_until(a, cutoff), _decided_until(b, cutoff), strict=True):
        assert x.equals(y)


KW = {
    "cash": 10_000.0,
    "fees": qf.Fees(maker=0.0002, taker=0.0005),
    "slippage": qf.slippage.RangeFraction(0.1),
    "same_bar_rule": "adverse",
    "instrument": qf.Instrument(market="linear_perp", leverage=2.0),
}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(20, 150), frac=st.floats(0.1, 0.9))
def test_fast_path_future_cannot_change_the_past(seed: int, n: int, frac: float) -> None:
    bars = random_bars(seed, n)
    t = int(frac * (n - 1))
    rng = np.random.default_rng(seed)
    le, lx, se = (rng.random(n) < 0.2 for _ in range(3))
    rules = qf.ExitRules(
        stop_loss=0.01, trailing=qf.TrailingStop(atr_multiple=2.0, atr_period=5), timeout_bars=7
    )
    sig = {
        "entries": le,
        "exits": lx,
        "short_entries": se,
        "exit_rules": rules,
        "slippage": qf.slippage.SqrtImpact(0.1),
    }
    a = qf.backtest(bars, **{**KW, **sig})
    le2, lx2, se2 = le.copy(), lx.copy(), se.copy()
    for arr in (le2, lx2, se2):
        arr[t + 1 :] = rng.random(n - t - 1) < 0.5
    b = qf.backtest(
        mutate_after(bars, t, seed),
        **{**KW, **sig, "entries": le2, "exits": lx2, "short_entries": se2},
    )
    _assert_same_past(a, b, a.equity["open_time"][t])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(20, 120), frac=st.floats(0.1, 0.9))
def test_event_path_future_cannot_change_the_past(seed: int, n: int, frac: float) -> None:
    bars = random_bars(seed, n)
    t = int(frac * (n - 1))
    a = qf.backtest(bars, SmaStrategy(), **KW)
    b = qf.backtest(mutate_after(bars, t, seed), SmaStrategy(), **KW)
    _assert_same_past(a, b, a.equity["open_time"][t])


def _ipc(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def test_same_inputs_give_byte_identical_ledgers() -> None:
    bars = random_bars(7, 400)
    runs = [qf.backtest(bars, SmaStrategy(), **KW) for _ in range(2)]
    rng = np.random.default_rng(7)
    le, lx = rng.random(400) < 0.1, rng.random(400) < 0.1
    runs += [qf.backtest(bars, entries=le, exits=lx, **KW) for _ in range(2)]
    for x, y in (runs[:2], runs[2:]):
        for name in ("orders", "fills", "trades", "equity"):
            assert _ipc(getattr(x, name)) == _ipc(getattr(y, name))
        assert dict(x.metrics) == dict(y.metrics)
    assert runs[0].fills.height > 10
    assert runs[2].fills.height > 10
