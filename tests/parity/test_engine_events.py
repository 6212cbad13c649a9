"""Parity: the event-driven path and the compiled fast path give identical ledgers, bit for bit."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quantforge as qf


def _sma(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, x])
    out = np.full(x.shape[0], np.nan)
    out[w - 1 :] = (c[w:] - c[:-w]) / w
    return out


def cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    f, s = _sma(close, fast), _sma(close, slow)
    above = f > s
    prev = np.r_[False, above[:-1]]
    valid = ~np.isnan(s) & ~np.isnan(np.r_[np.nan, s[:-1]])
    return above & ~prev & valid, ~above & prev & valid


class SignalFollower(qf.Strategy):
    """Does on each bar exactly what the fast path's signal rules do (long and short)."""

    def __init__(self, le, lx, se=None, sx=None) -> None:
        n = le.shape[0]
        self.le, self.lx = le, lx
        self.se = se if se is not None else np.zeros(n, bool)
        self.sx = sx if sx is not None else np.zeros(n, bool)
        self.entries: set[int] = set()

    def on_bar(self, ctx: qf.Context) -> None:
        i = ctx.i
        go_long = self.le[i] and not self.lx[i]
        go_short = self.se[i] and not self.sx[i]
        if go_long and go_short:
            go_long = go_short = False
        pos = ctx.position
        close = False
        if pos > 0:
            close = bool(self.lx[i] or go_short)
            go_long = False
        elif pos < 0:
            close = bool(self.sx[i] or go_long)
            go_short = False
        if not (close or go_long or go_short):
            return
        # like the fast path: any action cancels entries still working (partial fills)
        for oid in ctx.open_orders:
            if oid in self.entries:
                ctx.cancel(oid)
        if close:
            ctx.close_position()
        if go_long:
            self.entries.add(ctx.buy())
        elif go_short:
            self.entries.add(ctx.sell())


def _ipc(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def load_bars(path: Path, n: int | None = None) -> pl.DataFrame:
    bars = pl.read_parquet(path).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    return bars if n is None else bars.head(n)


def assert_identical(a: qf.BacktestResult, b: qf.BacktestResult) -> None:
    for name in ("orders", "fills", "trades", "equity"):
        assert _ipc(getattr(a, name)) == _ipc(getattr(b, name)), name
    assert dict(a.metrics).keys() == dict(b.metrics).keys()


@pytest.mark.shared_data
def test_sma_cross_with_stop_event_equals_fast_on_btc_15m(shared_data: Path) -> None:
    bars = load_bars(shared_data / "BTCUSDT-15m.parquet", 120_000)
    close = bars["close"].to_numpy()
    le, lx = cross_signals(close, 20, 50)
    cfg = {
        "cash": 100_000.0,
        "fees": qf.Fees(maker=0.0002, taker=0.0004),
        "slippage": qf.slippage.FixedBps(2),
        "sizing": qf.sizing.PercentEquity(1.0),
        "exit_rules": qf.ExitRules(stop_loss=0.02, take_profit=0.05),
        "instrument": qf.Instrument(tick_size=0.01, lot_size=0.00001, min_notional=5.0),
    }
    fast = qf.backtest(bars, entries=le, exits=lx, **cfg)
    event = qf.backtest(bars, SignalFollower(le, lx), **cfg)
    assert fast.trades.height > 100
    assert set(fast.trades["exit_reason"].unique()) >= {"signal", "stop", "take_profit"}
    assert_identical(fast, event)


@pytest.mark.shared_data
def test_long_short_trailing_timeout_parity_on_eth_1h(shared_data: Path) -> None:
    bars = load_bars(shared_data / "ETHUSDT-1h.parquet")
    close = bars["close"].to_numpy()
    le, lx = cross_signals(close, 10, 30)
    cfg = {
        "fees": qf.Fees(maker=0.0001, taker=0.0005),
        "slippage": qf.slippage.RangeFraction(0.05),
        "sizing": qf.sizing.PercentEquity(0.5),
        "exit_rules": qf.ExitRules(trailing=qf.TrailingStop(atr_multiple=3.0), timeout_bars=48),
        "instrument": qf.Instrument(market="linear_perp", leverage=2.0, tick_size=0.01),
        "same_bar_rule": "open_distance",
    }
    fast = qf.backtest(bars, entries=le, exits=lx, short_entries=lx, short_exits=le, **cfg)
    event = qf.backtest(bars, SignalFollower(le, lx, lx, le), **cfg)
    reasons = set(fast.trades["exit_reason"].unique())
    assert {"trailing", "timeout"} <= reasons
    assert (fast.trades["side"] == "short").any()
    assert_identical(fast, event)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(10, 200),
    rule=st.sampled_from(["adverse", "favorable", "open_distance"]),
    exits=st.sampled_from(
        [
            qf.ExitRules(),
            qf.ExitRules(stop_loss=0.01, take_profit=0.015),
            qf.ExitRules(trailing=0.01, timeout_bars=5),
            qf.ExitRules(stop_loss=0.02, trailing=qf.TrailingStop(atr_multiple=1.5, atr_period=3)),
        ]
    ),
    sizer=st.sampled_from(
        [qf.sizing.PercentEquity(0.9), qf.sizing.FixedQty(3.0), qf.sizing.RiskPercent(0.02)]
    ),
    risk=st.sampled_from(
        [
            qf.RiskLimits(),
            qf.RiskLimits(max_drawdown=0.03),
            qf.RiskLimits(daily_loss_limit=0.01, max_notional=20_000.0),
        ]
    ),
    mmr=st.sampled_from([0.0, 0.3]),
    participation=st.sampled_from([None, 0.3]),
)
def test_event_equals_fast_on_random_bars(
    seed, n, rule, exits, sizer, risk, mmr, participation
) -> None:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    op = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.004, n))
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 900_000,
            "open": op,
            "high": np.maximum(op, close) * (1 + np.abs(rng.normal(0, 0.006, n))),
            "low": np.minimum(op, close) * (1 - np.abs(rng.normal(0, 0.006, n))),
            "close": close,
            "volume": rng.uniform(1, 10, n),
        }
    )
    le, lx, se, sx = (rng.random(n) < 0.15 for _ in range(4))
    cfg = {
        "cash": 10_000.0,
        "fees": qf.Fees(maker=0.0001, taker=0.0006),
        "slippage": qf.slippage.SqrtImpact(0.05),
        "sizing": sizer,
        "exit_rules": exits,
        "same_bar_rule": rule,
        "risk": risk,
        "volume_participation": participation,
        "instrument": qf.Instrument(
            market="linear_perp", leverage=3.0, lot_size=0.001, maintenance_margin=mmr
        ),
        "funding_rate": np.where(np.arange(n) % 8 == 0, rng.normal(0, 0.001, n), 0.0),
    }
    fast = qf.backtest(bars, entries=le, exits=lx, short_entries=se, short_exits=sx, **cfg)
    event = qf.backtest(bars, SignalFollower(le, lx, se, sx), **cfg)
    assert_identical(fast, event)


@pytest.mark.shared_data
def test_intrabar_refined_parity_on_btc_15m_with_1m(shared_data: Path) -> None:
    start = pl.datetime(2024, 1, 1, time_zone="UTC")
    bars = load_bars(shared_data / "BTCUSDT-15m.parquet").filter(pl.col("open_time") >= start)
    bars = bars.head(8_000)
    end = bars["open_time"][-1]
    fine = load_bars(shared_data / "BTCUSDT-1m.parquet").filter(
        pl.col("open_time").is_between(start, end + pl.duration(minutes=14))
    )
    le, lx = cross_signals(bars["close"].to_numpy(), 10, 40)
    cfg = {
        "fees": qf.Fees(maker=0.0002, taker=0.0004),
        "exit_rules": qf.ExitRules(stop_loss=0.004, take_profit=0.004),
        "intrabar": fine,
    }
    fast = qf.backtest(bars, entries=le, exits=lx, **cfg)
    event = qf.backtest(bars, SignalFollower(le, lx), **cfg)
    assert_identical(fast, event)
    # the refinement matters: some same-bar stop/take-profit conflicts resolve the other way
    adverse = qf.backtest(bars, entries=le, exits=lx, **{**cfg, "intrabar": None})
    assert not fast.trades.equals(adverse.trades)
