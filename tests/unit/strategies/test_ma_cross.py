"""ma_cross rules on hand-made bars, on both engine paths, and against a plain-Python oracle."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from quantforge.strategies import registry

MA = registry.get("ma_cross")
START = 1_700_000_000_000 // 60_000 * 60_000


def bar_of(times: pl.Series) -> list[int]:
    return [(int(t.timestamp() * 1000) - START) // 60_000 for t in times]


def run_both(bars: pl.DataFrame, params: dict) -> pl.DataFrame:
    fast = MA.run(bars, params, path="signals", cash=1_000.0)
    event = MA.run(bars, params, path="events", cash=1_000.0)
    assert fast.trades.equals(event.trades)
    assert fast.orders.equals(event.orders)
    return fast.trades


def test_entry_on_cross_up_exit_on_cross_down(make_bars) -> None:
    # fast = close (SMA 1), slow = SMA 3: cross up on bar 4, cross down on bar 7
    trades = run_both(make_bars([10, 10, 10, 10, 12, 13, 14, 13, 11, 10, 10]),
                      {"fast": 1, "slow": 3})  # fmt: skip
    assert trades.height == 1
    assert bar_of(trades["entry_time"]) == [5]  # filled at the next open
    assert bar_of(trades["exit_time"]) == [8]
    assert trades["entry_price"].to_list() == [12.0]
    assert trades["exit_price"].to_list() == [13.0]
    assert trades["exit_reason"].to_list() == ["signal"]


def test_percent_stop_from_the_fill_price(make_bars) -> None:
    close = [10, 10, 10, 10, 12, 13, 14, 13, 11, 10, 10]
    low = np.minimum(np.r_[close[0], close[:-1]], close).astype(float)
    low[6] = 11.5  # bar 6 trades below 12 * 0.99 = 11.88
    trades = run_both(make_bars(close, low=low), {"fast": 1, "slow": 3, "stop_pct": 0.01})
    assert trades["exit_reason"].to_list() == ["stop"]
    assert bar_of(trades["exit_time"]) == [6]
    assert trades["exit_price"].to_list() == pytest.approx([12.0 * 0.99])
    # a 5% stop is not reached: the cross down closes the trade
    trades = run_both(make_bars(close, low=low), {"fast": 1, "slow": 3, "stop_pct": 0.05})
    assert trades["exit_reason"].to_list() == ["signal"]


def test_being_above_is_not_a_cross_and_warmup_gives_no_signal(make_bars) -> None:
    # rising from the start: fast > slow as soon as slow exists, but never *crosses*
    plan = MA.signals(make_bars(np.arange(1.0, 40.0)), {"fast": 2, "slow": 5})
    assert not plan.entries.any()
    assert not plan.exits.any()


def test_ema_type_uses_ema(make_bars, rng) -> None:
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    sma = MA.signals(make_bars(close), {"ma_type": "sma"})
    ema = MA.signals(make_bars(close), {"ma_type": "ema"})
    assert not np.array_equal(sma.entries, ema.entries)


def oracle(o, h, lo, c, fast, slow, stop_pct):
    """Plain-Python ma_cross: SMA, cross rules, next-open fills, stop at fill*(1-stop)."""
    n = len(c)

    def sma(p, i):
        return sum(c[i - p + 1 : i + 1]) / p if i >= p - 1 else None

    trades, pos, entry, stop, pending = [], False, 0.0, 0.0, None
    for i in range(n):
        if pending == "buy":
            pos, entry, pending = True, o[i], None
            stop, eb = entry * (1 - stop_pct), i
        elif pending == "sell":
            trades.append((eb, i, entry, o[i], "signal"))
            pos, pending = False, None
        if pos and lo[i] <= stop:
            trades.append((eb, i, entry, min(o[i], stop) if i != eb else stop, "stop"))
            pos = False
        f0, s0 = sma(fast, i), sma(slow, i)
        f1, s1 = (sma(fast, i - 1), sma(slow, i - 1)) if i else (None, None)
        if None in (f0, s0, f1, s1):
            continue
        if not pos and f0 > s0 and f1 <= s1:
            pending = "buy"
        elif pos and f0 < s0 and f1 >= s1:
            pending = "sell"
    return trades


def test_matches_a_plain_python_oracle(make_bars, rng) -> None:
    n = 600
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.001, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, n)))
    bars = make_bars(close, open=open_, high=high, low=low)
    params = {"fast": 5, "slow": 17, "stop_pct": 0.006}
    trades = run_both(bars, params)
    want = oracle(open_, high, low, close, 5, 17, 0.006)
    assert len(want) > 10
    got = list(zip(bar_of(trades["entry_time"]), bar_of(trades["exit_time"]),
                   trades["entry_price"], trades["exit_price"], trades["exit_reason"],
                   strict=True))  # fmt: skip
    assert [(*g[:2], g[4]) for g in got] == [(*w[:2], w[4]) for w in want]
    assert np.allclose([g[2:4] for g in got], [w[2:4] for w in want], rtol=1e-12)
