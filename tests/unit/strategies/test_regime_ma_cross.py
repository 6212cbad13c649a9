"""regime_ma_cross: each entry condition against TA-Lib, the ATR stop, the cross-down exit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib

from quantforge.strategies import registry

RG = registry.get("regime_ma_cross")
START = 1_700_000_000_000 // 60_000 * 60_000
PARAMS = {"trend_period": 50, "trend_lookback": 5, "fast": 5, "slow": 15, "rsi_min": 45.0}


def idx(t) -> int:
    return (int(t.timestamp() * 1000) - START) // 60_000


@pytest.fixture
def bars(make_bars, rng) -> pl.DataFrame:
    n = 3_000
    drift = np.where((np.arange(n) // 400) % 2 == 0, 0.0008, -0.0004)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, n)))
    return make_bars(close, open=open_, high=high, low=low)


def test_conditions_match_talib(bars: pl.DataFrame) -> None:
    c, h, lo = (bars[k].to_numpy() for k in ("close", "high", "low"))
    cond = RG.conditions(bars, PARAMS)
    p = RG.resolve(PARAMS)
    trend = talib.EMA(c, p["trend_period"])
    k = p["trend_lookback"]
    want_trend = np.zeros(c.size, bool)
    want_trend[k:] = np.nan_to_num(trend[k:]) > np.nan_to_num(trend[:-k], nan=np.inf)
    atr = talib.ATR(h, lo, c, p["atr_period"])
    avg = talib.SMA(atr, p["atr_avg_period"])
    rsi = talib.RSI(c, p["rsi_period"])
    fast, slow = talib.EMA(c, 5), talib.EMA(c, 15)
    with np.errstate(invalid="ignore"):
        want_active = atr > 0.8 * avg
        want_rsi = (rsi >= 45.0) & (rsi <= 75.0)
        above = fast > slow
        prev_le = np.r_[False, fast[:-1] <= slow[:-1]]
    want_cross = above & prev_le
    assert np.array_equal(cond.trend_up, want_trend)
    assert np.array_equal(cond.active, want_active)
    assert np.array_equal(cond.rsi_ok, want_rsi)
    assert np.array_equal(cond.cross_up, want_cross)
    # each condition matters on this data: removing any one changes the entry set
    all4 = cond.entry
    assert all4.sum() >= 5
    for other in (cond.trend_up, cond.active):
        assert (cond.cross_up & ~other).any()
    tight = RG.conditions(bars, {**PARAMS, "rsi_max": 55.0})
    assert (cond.cross_up & ~tight.rsi_ok).any()
    assert tight.entry.sum() < all4.sum()
    # "crossed on this very bar": bars where fast > slow without a cross never enter
    assert not (all4 & ~want_cross).any()
    assert (above & ~want_cross & cond.trend_up & cond.active & cond.rsi_ok).any()


def test_entries_stops_and_exits_follow_the_rules(bars: pl.DataFrame) -> None:
    cond = RG.conditions(bars, PARAMS)
    result = RG.run(bars, {**PARAMS, "atr_stop": 1.0}, cash=10_000.0)
    orders, trades = result.orders, result.trades
    entries = orders.filter(pl.col("tag") == "entry")
    assert entries.height >= 5
    signal_bars = [idx(t) for t in entries["created_time"]]
    assert all(cond.entry[i] for i in signal_bars)
    stops = orders.filter(pl.col("type") == "stop")
    filled_entries = entries.filter(pl.col("status") == "filled")
    on_entry_bar = 0
    for e in filled_entries.iter_rows(named=True):
        signal = idx(e["created_time"])
        # attached to the entry when it filled, at exactly fill - atr_stop * ATR[signal bar]
        attached = stops.filter(pl.col("order_id") == e["order_id"] + 1).row(0, named=True)
        assert attached["created_time"] == e["done_time"]
        assert attached["stop_price"] == e["fill_price"] - 1.0 * cond.atr[signal]
        if attached["status"] == "filled" and attached["done_time"] == e["done_time"]:
            on_entry_bar += 1  # live on the entry bar itself
    assert stops.height == filled_entries.height
    reasons = set(trades["exit_reason"].to_list())
    assert {"stop", "signal"} <= reasons
    for t in trades.filter(pl.col("exit_reason") == "signal").iter_rows(named=True):
        assert cond.cross_down[idx(t["exit_time"]) - 1]
    stop_fills = stops.filter(pl.col("status") == "filled")["fill_price"].to_numpy()
    for t in trades.filter(pl.col("exit_reason") == "stop").iter_rows(named=True):
        assert np.isclose(stop_fills, t["exit_price"], rtol=1e-12, atol=0).any()
    # one position at a time: entries never overlap an open trade
    ent = [idx(t) for t in trades["entry_time"]]
    ex = [idx(t) for t in trades["exit_time"]]
    assert all(ent[j + 1] >= ex[j] for j in range(len(ent) - 1))
