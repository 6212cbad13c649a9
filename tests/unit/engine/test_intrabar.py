"""Intrabar refinement from a finer series, and the adverse/favorable bounds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf
from quantforge.engine import _kernel as k
from quantforge.engine.backtest import same_bar_bounds
from quantforge.engine.intrabar import extreme_order

FLAT = (100.0, 100.0, 100.0, 100.0)


def fine_for(rows_per_bar: list[list[tuple[float, float, float, float]]]) -> pl.DataFrame:
    rows = [r for group in rows_per_bar for r in group]
    times = [60_000 * i + 15_000 * j for i, g in enumerate(rows_per_bar) for j in range(len(g))]
    o, h, lo, c = (list(x) for x in zip(*rows, strict=True))
    return pl.DataFrame(
        {
            "open_time": np.array(times, dtype=np.int64),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": [1.0] * len(rows),
        }
    )


def test_extreme_order_from_finer_bars() -> None:
    fine = fine_for(
        [
            [(100, 101, 99, 100), (100, 104, 100, 103), (103, 103, 97, 98)],  # high first
            [(100, 100, 96, 97), (97, 105, 97, 104)],  # low first
            [(100, 106, 95, 100)],  # both in one fine bar: unknown
        ]
    )
    out = extreme_order(np.array([0, 60_000, 120_000, 180_000], dtype=np.int64), fine)
    assert out.tolist() == [k.BF_HIGH_FIRST, k.BF_LOW_FIRST, 0, 0]


@pytest.mark.parametrize(("first", "reason"), [("high", "take_profit"), ("low", "stop")])
def test_finer_series_overrides_the_same_bar_rule(first: str, reason: str) -> None:
    bar = (101.0, 104.0, 97.0, 100.0)
    rows = [FLAT, FLAT, bar, FLAT]
    inner = (
        [(101, 104, 101, 103), (103, 103, 97, 100)]
        if first == "high"
        else [(101, 101, 97, 98), (98, 104, 98, 100)]
    )
    fine = fine_for([[FLAT], [FLAT], inner, [FLAT]])
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(1.0, stop_loss=0.02, take_profit=0.03)}),
        intrabar=fine,
        same_bar_rule="adverse",
    )
    assert r.trades["exit_reason"][0] == reason


def test_same_bar_bounds_bracket_the_truth() -> None:
    rows = [FLAT, FLAT, (101.0, 104.0, 97.0, 100.0), FLAT]
    b = same_bar_bounds(
        make_bars(rows),
        lambda: Script({0: lambda c: c.buy(1.0, stop_loss=0.02, take_profit=0.03)}),
        cash=1_000.0,
    )
    assert b.worst.trades["exit_reason"][0] == "stop"
    assert b.best.trades["exit_reason"][0] == "take_profit"
    assert b.worst.final_equity < b.best.final_equity
