"""ema_rsi_atr: setups vs TA-Lib, the tiered hybrid entry (fall-through), ATR exits, trailing."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib

import quantforge as qf
from quantforge.strategies import registry
from quantforge.strategies.library._common import BarArrays
from quantforge.strategies.library.ema_rsi_atr import EmaRsiAtrSignals, EmaRsiAtrStrategy

ERA = registry.get("ema_rsi_atr")
N = 40


def hand_strategy(bars, *, signal_bar=5, ema_fast=99.0, vwap=99.0, atr=1.0, side=1, **params):
    long_setup = np.zeros(N, bool)
    short_setup = np.zeros(N, bool)
    (long_setup if side > 0 else short_setup)[signal_bar] = True
    sig = EmaRsiAtrSignals(long_setup, short_setup, np.full(N, ema_fast), np.full(N, atr),
                           np.full(N, vwap))  # fmt: skip
    p = ERA.resolve({"size_pct": 0.5, **params})
    return EmaRsiAtrStrategy(sig, BarArrays.of(bars), p)


def run(bars, strategy, **settings):
    cfg = {"cash": 10_000.0, "instrument": qf.Instrument(market="linear_perp"), **settings}
    return qf.Backtest(**cfg).run_strategy(bars, strategy)


def flat(make_bars, low=None, high=None):
    close = np.full(N, 100.0)
    lo = np.full(N, 99.95) if low is None else low
    hi = np.full(N, 100.05) if high is None else high
    return make_bars(close, open=close, high=hi, low=lo)


def test_tier1_waits_for_a_touch_of_the_fast_ema(make_bars) -> None:
    low = np.full(N, 99.95)
    low[7] = 98.5  # bar 7 touches the fast EMA (99)
    bars = flat(make_bars, low=low)
    s = hand_strategy(bars)
    r = run(bars, s)
    entries = r.orders.filter(pl.col("tag") == "entry")
    assert entries.height == 1
    assert entries["type"][0] == "limit"
    assert entries["limit_price"][0] == 99.0
    assert entries["status"][0] == "filled"
    assert entries["fill_price"][0] == 99.0
    assert s.entries == [(5, 1, [(5, 1)])]
    assert r.fills["qty"][0] == pytest.approx(0.5 * 10_000 / 100.0)


def test_tiers_fall_through_when_they_expire(make_bars) -> None:
    bars = flat(make_bars)  # nothing is ever reached at 99 or 99.9
    s = hand_strategy(bars)
    r = run(bars, s)
    # tier 1 (3 bars: 6-8) -> tier 2 at bar 8 (2 bars: 9-10) -> tier 3 slices at bars 10, 11, 12
    # -> tier 4 market at bar 13, filled at bar 14's open
    assert s.entries == [(5, 1, [(5, 1), (8, 2), (10, 3), (13, 4)])]
    entries = r.orders.filter(pl.col("tag") == "entry")
    assert entries["type"].to_list() == ["limit"] * 5 + ["market"]
    assert entries["limit_price"].to_list()[:5] == pytest.approx([99.0, 99.9, 99.0, 99.0, 99.0])
    assert entries["status"].to_list() == ["expired"] * 5 + ["filled"]
    assert r.fills["qty"][0] == pytest.approx(50.0)


def test_switched_off_tiers_are_skipped(make_bars) -> None:
    bars = flat(make_bars)
    s = hand_strategy(bars, tier1=False, tier3=False)
    run(bars, s)
    assert s.entries == [(5, 1, [(5, 2), (7, 4)])]


def test_vwap_slices_split_the_order(make_bars) -> None:
    bars = flat(make_bars)
    s = hand_strategy(bars, tier1=False, tier2=False, vwap=100.0, tier3_slices=4)
    r = run(bars, s)
    fills = r.fills.filter(pl.col("tag") == "entry")
    assert fills.height == 4
    assert fills["qty"].to_list() == pytest.approx([12.5] * 4)
    assert fills["price"].to_list() == [100.0] * 4
    assert s.entries == [(5, 1, [(5, 3)])]


def test_atr_stop_and_take_profit_levels(make_bars) -> None:
    bars = flat(make_bars)
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=2.0)
    r = run(bars, s)
    protect = r.orders.filter(pl.col("reduce_only"))
    stop = protect.filter(pl.col("type") == "stop")
    tp = protect.filter(pl.col("type") == "limit")
    assert stop["stop_price"][0] == pytest.approx(100.0 - 1.5 * 2.0)
    assert tp["limit_price"][0] == pytest.approx(100.0 + 2.0 * 2.0)
    # short: mirrored
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=2.0, side=-1)
    r = run(bars, s)
    protect = r.orders.filter(pl.col("reduce_only"))
    assert protect.filter(pl.col("type") == "stop")["stop_price"][0] == pytest.approx(103.0)
    assert protect.filter(pl.col("type") == "limit")["limit_price"][0] == pytest.approx(96.0)


def test_trailing_stop_follows_the_best_price(make_bars) -> None:
    close = np.r_[np.full(10, 100.0), 100.0 + np.arange(1, N - 9) * 0.5]
    bars = make_bars(close, open=np.r_[close[0], close[:-1]], high=close + 0.1, low=close - 0.1)
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=1.0,
                      use_trailing_stop=True, trail_start_atr=1.0, trail_atr=1.5,
                      tp_atr=50.0)  # fmt: skip
    r = run(bars, s)
    assert r.trades.height == 0 or r.trades["exit_reason"][0] == "end_of_data"
    best = float(bars["high"].max())
    assert s.stop_level == pytest.approx(best - 1.5)
    stops = r.orders.filter(pl.col("type") == "stop")["stop_price"].to_list()
    assert stops == sorted(stops)
    assert len(stops) > 5


def test_trailing_take_profit_replaces_the_target(make_bars) -> None:
    close = np.r_[np.full(10, 100.0), 100.0 + np.arange(1, N - 9) * 0.5]
    bars = make_bars(close, open=np.r_[close[0], close[:-1]], high=close + 0.1, low=close - 0.1)
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=1.0,
                      use_trailing_tp=True, trail_tp_atr=0.5)  # fmt: skip
    r = run(bars, s)
    assert r.orders.filter(pl.col("reduce_only") & (pl.col("type") == "limit")).height == 0
    assert s.stop_level == pytest.approx(float(bars["high"].max()) - 0.5)


def test_setups_match_talib(make_bars, rng) -> None:
    n = 3_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.005, n)))
    bars = make_bars(close, high=close * 1.002, low=close * 0.998)
    got = ERA.setups(bars, {"ema_fast": 5, "ema_slow": 20, "ema_trend": 100})
    f, sl, tr = talib.EMA(close, 5), talib.EMA(close, 20), talib.EMA(close, 100)
    rsi = talib.RSI(close, 14)
    with np.errstate(invalid="ignore"):
        up = (f > sl) & np.r_[False, f[:-1] <= sl[:-1]]
        down = (f < sl) & np.r_[False, f[:-1] >= sl[:-1]]
        want_long = up & (close > tr) & (rsi > 35)
        want_short = down & (close < tr) & (rsi < 65)
    assert np.array_equal(got.long_setup, want_long)
    assert want_long.sum() > 3
    assert np.array_equal(got.short_setup, want_short)
    assert want_short.sum() > 3
    off = ERA.setups(bars, {"ema_fast": 5, "ema_slow": 20, "use_trend_filter": False,
                            "use_rsi_filter": False})  # fmt: skip
    assert np.array_equal(off.long_setup, up)
    assert np.array_equal(off.short_setup, down)
    only_long = ERA.setups(bars, {"ema_fast": 5, "ema_slow": 20, "direction": "long"})
    assert not only_long.short_setup.any()


def test_a_stop_during_the_vwap_slices_ends_the_entry(make_bars) -> None:
    low = np.full(N, 99.95)
    low[8] = 98.0  # below the stop (100 - 1.5 * 1.0) placed after the first slice filled
    bars = flat(make_bars, low=low)
    vwap = np.full(N, 90.0)  # later slices rest far below the market
    vwap[5] = 100.0  # the first slice (placed on bar 5) fills on bar 6
    long_setup = np.zeros(N, bool)
    long_setup[5] = True
    sig = EmaRsiAtrSignals(long_setup, np.zeros(N, bool), np.full(N, 99.0), np.full(N, 1.0), vwap)
    p = ERA.resolve({"size_pct": 0.5, "tier1": False, "tier2": False, "tier3_slices": 6})
    s = EmaRsiAtrStrategy(sig, BarArrays.of(bars), p)
    r = run(bars, s)
    assert r.trades.height == 1
    assert r.trades["exit_price"][0] == pytest.approx(98.5)
    entries = r.orders.filter(pl.col("tag") == "entry")
    # slices placed on bars 5, 6, 7; after the stop on bar 8 no slice and no tier 4 follow
    assert entries["type"].to_list() == ["limit"] * 3
    assert entries["status"].to_list() == ["filled", "expired", "expired"]
    assert s.entry is None


def test_entry_bar_is_protected_and_exits_carry_their_reason(make_bars) -> None:
    # market entry (tier 4) fills at bar 6's open of 100; the attached stop at 100 - 1.5 * 1.0
    # works on that same bar and is hit by its low of 98
    low = np.full(N, 99.95)
    low[6] = 98.0
    bars = flat(make_bars, low=low)
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=1.0)
    r = run(bars, s)
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"], t["bars_held"]) == ("stop", 98.5, 0)
    # a target reached later is booked as take_profit (the strategy's re-priced order)
    high = np.full(N, 100.05)
    high[9] = 102.5
    bars = flat(make_bars, high=high)
    s = hand_strategy(bars, tier1=False, tier2=False, tier3=False, atr=1.0)
    r = run(bars, s)
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"]) == ("take_profit", 102.0)
    assert set(r.orders.filter(pl.col("reduce_only"))["tag"].to_list()) == {"stop", "take_profit"}
