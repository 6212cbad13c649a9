"""Volume participation cap: partial fills, the remainder keeps working."""

from __future__ import annotations

import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf

FLAT = (100.0, 100.0, 100.0, 100.0)


def test_market_order_fills_in_slices_of_the_bar_volume() -> None:
    rows = [FLAT, FLAT, (101.0, 101.0, 101.0, 101.0), (102.0, 102.0, 102.0, 102.0), FLAT]
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(10.0)}),
        cash=10_000.0,
        volume_participation=0.004,
        fees=qf.Fees(taker=0.001),
    )  # 4 of 1000 per bar
    assert r.fills.select("qty", "price").rows() == [(4.0, 100.0), (4.0, 101.0), (2.0, 102.0)]
    o = r.orders.row(0, named=True)
    assert (o["status"], o["fill_qty"]) == ("filled", 10.0)
    assert o["fill_price"] == pytest.approx((400 + 404 + 204) / 10)
    assert o["fee"] == pytest.approx(1.008)
    assert r.equity["position"].to_list() == [0.0, 4.0, 8.0, 10.0, 10.0]
    assert r.trades["qty"][0] == pytest.approx(10.0)


def test_partial_stop_exit_keeps_the_rest_working() -> None:
    rows = [FLAT, FLAT, FLAT, (99.0, 99.0, 97.0, 97.5), (97.0, 97.0, 96.0, 96.0), FLAT]
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(6.0, stop_loss=0.02)}),
        cash=10_000.0,
        volume_participation=0.004,
    )
    sells = r.fills.filter(r.fills["side"] == "sell").select("qty", "price", "tag").rows()
    # 4 at the stop (98) inside bar 3; the remaining 2 at bar 4's open, already below the stop
    assert sells == [(4.0, 98.0, "stop"), (2.0, 97.0, "stop")]
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"]) == ("stop", pytest.approx((392 + 194) / 6))


def test_ioc_remainder_is_canceled() -> None:
    rows = [FLAT, FLAT, FLAT]
    r = qf.backtest(
        make_bars(rows),
        Script({0: lambda c: c.buy(10.0, limit=101.0, tif="ioc")}),
        cash=10_000.0,
        volume_participation=0.004,
    )
    o = r.orders.row(0, named=True)
    assert (o["status"], o["reason"], o["fill_qty"]) == ("canceled", "ioc", 4.0)
