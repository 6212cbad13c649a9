"""Perpetuals: funding payments and liquidation, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf
from quantforge.errors import ConfigError

FLAT = (100.0, 100.0, 100.0, 100.0)


def perp(mmr: float = 0.0) -> qf.Instrument:
    return qf.Instrument(market="linear_perp", leverage=5.0, maintenance_margin=mmr)


def test_funding_is_paid_on_the_position_held_into_the_open() -> None:
    rows = [FLAT, FLAT, (110.0, 110.0, 110.0, 110.0), (120.0, 120.0, 120.0, 120.0)]
    rate = np.array([0.01, 0.01, 0.001, -0.0005])  # bars 0 and 1: no position held into them
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(2.0)}),
        cash=1_000.0,
        instrument=perp(),
        funding_rate=rate,
    )
    expected = -2 * 110.0 * 0.001 + 2 * 120.0 * 0.0005
    t = r.trades.row(0, named=True)
    assert t["funding"] == pytest.approx(expected)
    assert t["pnl"] == pytest.approx(2 * 20.0 + expected)
    assert r.final_equity == pytest.approx(1_000.0 + 40.0 + expected)


def test_short_receives_positive_funding_and_fast_path_agrees() -> None:
    rows = [FLAT] * 4
    rate = np.array([0.0, 0.0, 0.001, 0.0])
    bars = make_bars(rows)
    cfg = {
        "cash": 1_000.0,
        "instrument": perp(),
        "funding_rate": rate,
        "sizing": qf.sizing.FixedQty(3.0),
    }
    ev = qf.backtest(bars, Script({0: lambda c: c.sell()}), **cfg)
    fast = qf.backtest(bars, short_entries=np.array([True, False, False, False]), **cfg)
    assert ev.trades["funding"][0] == pytest.approx(3 * 100.0 * 0.001)
    assert ev.trades.equals(fast.trades)


def test_funding_on_spot_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="perpetuals"):
        qf.backtest(
            make_bars([FLAT, FLAT]), entries=np.array([True, False]), funding_rate=np.zeros(2)
        )


def test_long_liquidated_at_its_liquidation_price() -> None:
    rows = [FLAT, FLAT, (95.0, 96.0, 75.0, 80.0), FLAT]
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(40.0)}),
        cash=1_000.0,
        instrument=perp(0.05),
        fees=qf.Fees(taker=0.0),
    )
    p_liq = 3_000.0 / (40 * 0.95)
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"]) == ("liquidation", pytest.approx(p_liq))
    assert r.equity["equity"][2] == pytest.approx(0.05 * 40 * p_liq)


def test_gap_through_liquidation_price_fills_at_open() -> None:
    rows = [FLAT, FLAT, (70.0, 72.0, 69.0, 71.0), FLAT]
    r = qf.backtest(
        make_bars(rows), Script({0: lambda c: c.buy(40.0)}), cash=1_000.0, instrument=perp(0.05)
    )
    assert r.trades.select("exit_reason", "exit_price").row(0) == ("liquidation", 70.0)
    assert r.final_equity == pytest.approx(1_000.0 - 40 * 30.0)


def test_short_liquidated_and_stop_first_prevents_it() -> None:
    rows = [FLAT, FLAT, (101.0, 125.0, 100.0, 110.0), FLAT]
    r = qf.backtest(
        make_bars(rows), Script({0: lambda c: c.sell(40.0)}), cash=1_000.0, instrument=perp(0.05)
    )
    assert r.trades.select("exit_reason", "exit_price").row(0) == (
        "liquidation",
        pytest.approx(5_000.0 / (40 * 1.05)),
    )
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.sell(40.0, stop_loss=0.1)}),
        cash=1_000.0,
        instrument=perp(0.05),
    )
    assert r.trades.select("exit_reason", "exit_price").row(0) == ("stop", pytest.approx(110.0))
