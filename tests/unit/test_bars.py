"""Tick/volume/dollar bars and time bars from trades, on hand-computed cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from quantforge.bars import (
    bar_threshold,
    dollar_bars,
    tick_bars,
    time_bars,
    trade_bars,
    volume_bars,
)
from quantforge.bars._kernels import threshold_bar_ends_nb
from quantforge.errors import ConfigError, DataValidationError

T0 = dt.datetime(2024, 8, 9, tzinfo=dt.UTC)


def _trades(prices: list[float], qtys: list[float], *, seconds: list[float] | None = None,
            maker: list[bool] | None = None) -> pl.DataFrame:  # fmt: skip
    n = len(prices)
    secs = seconds if seconds is not None else [float(i) for i in range(n)]
    return pl.DataFrame(
        {
            "time": [T0 + dt.timedelta(seconds=s) for s in secs],
            "trade_id": list(range(1, n + 1)),
            "price": prices,
            "qty": qtys,
            "is_buyer_maker": maker if maker is not None else [i % 2 == 0 for i in range(n)],
        },
        schema_overrides={"time": pl.Datetime("us", "UTC")},
    )


def test_dollar_bars_crossing_trade_goes_to_current_bar() -> None:
    # dollar values: 100, 300, 50, 700, 100, 100  with threshold 400:
    # bar 1 = 100 + 300 = 400 (reaches exactly) ; bar 2 = 50 + 700 = 750 (700 crosses: whole
    # trade stays in bar 2) ; bar 3 = 100 + 100 = 200 < 400 → incomplete tail
    trades = _trades([10.0, 10.0, 10.0, 10.0, 10.0, 10.0], [10.0, 30.0, 5.0, 70.0, 10.0, 10.0])
    bars = dollar_bars(trades, 400.0)
    assert bars["dollar_value"].to_list() == [400.0, 750.0, 200.0]
    assert bars["trades"].to_list() == [2, 2, 2]
    assert bars["complete"].to_list() == [True, True, False]
    assert bars["open_time"].to_list() == [
        T0,
        T0 + dt.timedelta(seconds=2),
        T0 + dt.timedelta(seconds=4),
    ]
    assert bars["close_time"][1] == T0 + dt.timedelta(seconds=3)


def test_bar_fields_hand_computed() -> None:
    trades = _trades([100.0, 102.0, 99.0, 101.0], [1.0, 2.0, 1.0, 4.0],
                     maker=[True, False, False, True])  # fmt: skip
    bars = volume_bars(trades, 3.0)
    first = bars.row(0, named=True)
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        100.0,
        102.0,
        100.0,
        102.0,
    )
    assert first["volume"] == 3.0
    assert first["dollar_value"] == 100.0 + 204.0
    assert first["vwap"] == pytest.approx(304.0 / 3.0)
    assert first["buy_volume"] == 2.0  # the taker bought in trade 2 only
    second = bars.row(1, named=True)
    assert (second["open"], second["high"], second["low"], second["close"]) == (
        99.0,
        101.0,
        99.0,
        101.0,
    )
    assert second["volume"] == 5.0
    assert second["buy_volume"] == 1.0
    assert bars["complete"].to_list() == [True, True]


def test_tick_bars_and_quote_qty_used_for_dollars() -> None:
    trades = _trades([1.0] * 7, [1.0] * 7).with_columns(quote_qty=pl.Series([2.0] * 7))
    bars = tick_bars(trades, 3)
    assert bars["trades"].to_list() == [3, 3, 1]
    assert bars["complete"].to_list() == [True, True, False]
    assert bars["dollar_value"].to_list() == [6.0, 6.0, 2.0]  # from quote_qty, not price * qty


def test_per_day_threshold() -> None:
    # 11 trades over 10 seconds; total value 1100 → per day = 1100 * 8640; 4320 bars/day →
    # threshold 2200 / 1 ... computed by hand below
    trades = _trades([10.0] * 11, [10.0] * 11)
    days = 10.0 / 86_400.0
    expected = 1100.0 / days / 4320.0
    assert bar_threshold(trades, "dollar", 4320) == pytest.approx(expected)
    assert bar_threshold(trades, "tick", 4320) == pytest.approx(11 / days / 4320)
    bars = dollar_bars(trades, per_day=4320)
    assert bars.height == pytest.approx(1100.0 / expected, abs=1)


def test_unsorted_trades_are_sorted_by_time_then_id() -> None:
    trades = _trades([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], seconds=[2.0, 0.0, 1.0])
    bars = tick_bars(trades, 10)
    assert (bars["open"][0], bars["close"][0]) == (2.0, 1.0)


def test_empty_and_errors() -> None:
    empty = _trades([], [])
    assert dollar_bars(empty, 1.0).height == 0
    trades = _trades([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match="exactly one"):
        dollar_bars(trades)
    with pytest.raises(ConfigError, match="exactly one"):
        dollar_bars(trades, 1.0, per_day=3)
    with pytest.raises(ConfigError, match="threshold must be > 0"):
        dollar_bars(trades, -1.0)
    with pytest.raises(ConfigError, match="unknown bar kind"):
        trade_bars(trades, "range", 1.0)
    with pytest.raises(ConfigError, match="span no time"):
        dollar_bars(_trades([1.0], [1.0]), per_day=10)
    with pytest.raises(DataValidationError, match="non-positive"):
        dollar_bars(_trades([1.0, -2.0], [1.0, 1.0]), 1.0)
    with pytest.raises(DataValidationError, match="lack column"):
        dollar_bars(trades.drop("qty"), 1.0)


def test_kernel_matches_python_reference(rng: np.random.Generator) -> None:
    measure = rng.exponential(1.0, 1000)
    ends, last_complete = threshold_bar_ends_nb(measure, 7.5)
    py_func = getattr(threshold_bar_ends_nb, "py_func", threshold_bar_ends_nb)  # JIT may be off
    py_ends, py_last = py_func(measure, 7.5)
    assert np.array_equal(ends, py_ends)
    assert last_complete == py_last


def test_time_bars_hand_computed() -> None:
    trades = _trades(
        [10.0, 12.0, 9.0, 11.0, 20.0],
        [1.0, 1.0, 2.0, 1.0, 3.0],
        seconds=[0.0, 10.0, 59.999, 30.0, 61.0],
        maker=[True, False, False, True, False],
    )
    bars = time_bars(trades, "1m")
    assert bars["open_time"].to_list() == [T0, T0 + dt.timedelta(minutes=1)]
    first = bars.row(0, named=True)
    # time order: 10 (0s), 12 (10s), 11 (30s), 9 (59.999s)
    assert (first["open"], first["high"], first["low"], first["close"]) == (10.0, 12.0, 9.0, 9.0)
    assert first["volume"] == 5.0
    assert first["trades"] == 4
    assert first["quote_volume"] == 10.0 + 12.0 + 18.0 + 11.0
    assert first["taker_buy_base"] == 3.0
    assert first["taker_buy_quote"] == 12.0 + 18.0
    assert bars.schema["open_time"] == pl.Datetime("ms", "UTC")
