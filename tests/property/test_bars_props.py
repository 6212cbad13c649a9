"""Property tests: threshold bars conserve amounts, hold each trade once, obey the threshold."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantforge.bars import trade_bars

T0 = dt.datetime(2024, 8, 9, tzinfo=dt.UTC)


@st.composite
def trade_frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 300))
    prices = draw(st.lists(st.floats(0.01, 1e5), min_size=n, max_size=n))
    qtys = draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n))
    maker = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 5_000_000), min_size=n, max_size=n))
    times = np.cumsum(steps)
    return pl.DataFrame(
        {
            "time": [T0 + dt.timedelta(microseconds=int(t)) for t in times],
            "trade_id": list(range(n)),
            "price": prices,
            "qty": qtys,
            "is_buyer_maker": maker,
        },
        schema_overrides={"time": pl.Datetime("us", "UTC")},
    )


def _reference_sizes(measure: list[float], threshold: float) -> tuple[list[int], bool]:
    sizes, acc, count = [], 0.0, 0
    for x in measure:
        acc += x
        count += 1
        if acc >= threshold:
            sizes.append(count)
            acc, count = 0.0, 0
    if count:
        sizes.append(count)
        return sizes, False
    return sizes, True


@settings(max_examples=80, deadline=None)
@given(
    trades=trade_frames(),
    kind=st.sampled_from(["tick", "volume", "dollar"]),
    fraction=st.floats(0.001, 2.0),
)
def test_threshold_bars_properties(trades: pl.DataFrame, kind: str, fraction: float) -> None:
    price = trades["price"].to_list()
    qty = trades["qty"].to_list()
    dollars = [p * q for p, q in zip(price, qty, strict=True)]
    measure = {"tick": [1.0] * len(price), "volume": qty, "dollar": dollars}[kind]
    total = sum(measure)
    threshold = (
        max(total * fraction, 1e-9)
        if kind != "tick"
        else float(max(1, round(len(price) * fraction)))
    )
    bars = trade_bars(trades, kind, threshold)

    # every trade in exactly one bar, in order; bars follow the plain-Python reference
    sizes, last_complete = _reference_sizes(measure, threshold)
    assert bars["trades"].to_list() == sizes
    assert bars["trades"].sum() == trades.height
    assert bars["complete"].to_list() == [True] * (len(sizes) - 1) + [last_complete]
    # conservation
    assert bars["volume"].sum() == pytest.approx(sum(qty), rel=1e-9, abs=1e-9)
    assert bars["dollar_value"].sum() == pytest.approx(sum(dollars), rel=1e-9, abs=1e-9)
    assert bars["buy_volume"].sum() == pytest.approx(
        sum(q for q, m in zip(qty, trades["is_buyer_maker"], strict=True) if not m),
        rel=1e-9,
        abs=1e-9,
    )
    # bar boundaries respect the threshold: complete bars reach it, and would not have without
    # their last trade (that trade crossed it and went wholly into the bar)
    start = 0
    for size, complete in zip(sizes, bars["complete"], strict=True):
        chunk = measure[start : start + size]
        bar_total = sum(chunk)
        if complete:
            assert bar_total >= threshold * (1 - 1e-12)
            assert sum(chunk[:-1]) < threshold
        else:
            assert bar_total < threshold
        start += size
    # OHLC inside the bar's trades; time order
    starts = np.cumsum([0, *sizes[:-1]])
    for i, s in enumerate(starts):
        seg = price[s : s + sizes[i]]
        assert bars["open"][i] == seg[0]
        assert bars["close"][i] == seg[-1]
        assert bars["high"][i] == max(seg)
        assert bars["low"][i] == min(seg)
    assert (bars["open_time"] <= bars["close_time"]).all()
    assert (bars["close_time"][:-1] <= bars["open_time"][1:]).all()
