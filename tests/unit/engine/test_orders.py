"""Hand-computed cases for every order type, the same-bar rule, gaps, fees and rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf

FLAT = (100.0, 100.0, 100.0, 100.0)


def run(rows, actions, **kw):
    strat = Script(actions)
    kw.setdefault("cash", 10_000.0)
    return qf.backtest(make_bars(rows), strat, **kw), strat


def order(result, oid):
    return result.orders.row(oid, named=True)


def test_market_fills_next_open_with_taker_fee_and_slippage() -> None:
    rows = [FLAT, (101.0, 102.0, 99.0, 100.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(2.0)},
        fees=qf.Fees(maker=0.001, taker=0.002),
        slippage=qf.slippage.FixedBps(10),
    )
    o = order(r, 0)
    assert o["status"] == "filled"
    assert o["liquidity"] == "taker"
    assert o["fill_price"] == pytest.approx(101.0 * 1.001)
    assert o["fee"] == pytest.approx(2.0 * 101.0 * 1.001 * 0.002)
    assert r.equity["cash"][1] == pytest.approx(10_000 - 2 * 101.101 - 2 * 101.101 * 0.002)


def test_limit_rests_then_fills_at_its_price_as_maker() -> None:
    rows = [FLAT, (100.0, 101.0, 96.0, 99.0), (98.0, 99.0, 94.0, 95.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, limit=95.0)}, fees=qf.Fees(maker=0.001, taker=0.002))
    o = order(r, 0)
    assert (o["status"], o["fill_price"], o["liquidity"]) == ("filled", 95.0, "maker")
    assert o["done_time"] == r.equity["open_time"][2]
    assert o["fee"] == pytest.approx(0.095)


def test_limit_marketable_on_arrival_fills_at_open_as_taker() -> None:
    rows = [FLAT, (90.0, 91.0, 89.0, 90.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, limit=95.0)}, fees=qf.Fees(maker=0.001, taker=0.002))
    o = order(r, 0)
    assert (o["fill_price"], o["liquidity"]) == (90.0, "taker")


def test_resting_limit_gapped_through_fills_at_open_as_maker() -> None:
    rows = [FLAT, (100.0, 101.0, 99.0, 100.0), (90.0, 91.0, 89.0, 90.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, limit=95.0)}, fees=qf.Fees(maker=0.001, taker=0.002))
    o = order(r, 0)
    assert (o["fill_price"], o["liquidity"]) == (90.0, "maker")


def test_stop_fills_at_stop_plus_slippage_or_at_gapped_open() -> None:
    rows = [FLAT, (100.0, 106.0, 99.0, 104.0), (107.0, 108.0, 106.0, 107.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(1.0, stop=105.0), 1: lambda c: c.sell(1.0, stop=103.0)},
        slippage=qf.slippage.FixedBps(10),
    )
    assert order(r, 0)["fill_price"] == pytest.approx(105.0 * 1.001)
    # the sell stop at 103 is not reached on bar 2 (low 106); bar 3 gaps through it
    assert order(r, 1)["done_time"] == r.equity["open_time"][3]
    assert order(r, 1)["fill_price"] == pytest.approx(100.0 * 0.999)
    rows = [FLAT, (107.0, 108.0, 106.0, 107.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, stop=105.0)})
    assert order(r, 0)["fill_price"] == 107.0


def test_stop_limit_triggers_and_fills_or_rests() -> None:
    rows = [FLAT, (100.0, 107.0, 99.0, 106.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, stop=105.0, limit=105.5)})
    assert (order(r, 0)["fill_price"], order(r, 0)["liquidity"]) == (105.0, "taker")
    # gap above the limit: triggered but not marketable; rests, fills at the limit later
    rows = [FLAT, (107.0, 108.0, 106.0, 107.0), (106.5, 106.8, 105.0, 105.2), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, stop=105.0, limit=105.5)})
    o = order(r, 0)
    assert (o["fill_price"], o["liquidity"], o["done_time"]) == (
        105.5,
        "maker",
        r.equity["open_time"][2],
    )


@pytest.mark.parametrize(
    ("rule", "reason", "price"),
    [
        ("adverse", "stop", 98.0),
        ("favorable", "take_profit", 103.0),
        ("open_distance", "take_profit", 103.0),
    ],
)
def test_same_bar_stop_and_take_profit_rule(rule: str, reason: str, price: float) -> None:
    rows = [FLAT, FLAT, (101.0, 104.0, 97.0, 100.0), FLAT]
    r, _ = run(
        rows, {0: lambda c: c.buy(1.0, stop_loss=0.02, take_profit=0.03)}, same_bar_rule=rule
    )
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"]) == (reason, price)
    # the other exit is canceled once the position is flat
    assert r.orders["reason"].to_list()[1:] == (
        ["none", "position_closed"] if reason == "stop" else ["position_closed", "none"]
    )


def test_open_distance_rule_visits_nearer_extreme_first() -> None:
    rows = [FLAT, FLAT, (99.0, 104.0, 97.0, 100.0), FLAT]  # low is nearer the open
    r, _ = run(
        rows,
        {0: lambda c: c.buy(1.0, stop_loss=0.02, take_profit=0.03)},
        same_bar_rule="open_distance",
    )
    assert r.trades["exit_reason"][0] == "stop"


def test_stop_loss_gapped_through_fills_at_open() -> None:
    rows = [FLAT, FLAT, (95.0, 96.0, 94.0, 95.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, stop_loss=0.02)})
    assert (r.trades["exit_price"][0], r.trades["exit_reason"][0]) == (95.0, "stop")


def test_trailing_percent_follows_the_high() -> None:
    rows = [FLAT, (100.0, 110.0, 99.0, 108.0), (107.0, 107.5, 104.0, 105.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, trailing=0.05)})
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"]) == ("trailing", pytest.approx(104.5))


def test_trailing_absolute_for_a_short() -> None:
    rows = [FLAT, (100.0, 100.5, 90.0, 91.0), (92.0, 94.0, 91.5, 93.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.sell(1.0, trailing=qf.TrailingStop(absolute=3.0))},
        instrument=qf.Instrument(market="linear_perp"),
    )
    t = r.trades.row(0, named=True)
    assert (t["side"], t["exit_reason"], t["exit_price"]) == ("short", "trailing", 93.0)
    assert t["pnl"] == pytest.approx(100.0 - 93.0)


def test_timeout_exits_at_open_after_n_bars() -> None:
    rows = [FLAT, FLAT, FLAT, (103.0, 104.0, 102.0, 103.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, timeout_bars=2)})
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["exit_price"], t["bars_held"]) == ("timeout", 103.0, 2)


def test_lot_and_tick_rounding() -> None:
    rows = [FLAT, (300.0, 300.0, 300.0, 300.0), FLAT]
    inst = qf.Instrument(lot_size=0.1, tick_size=0.05)
    r, _ = run(
        rows,
        {
            0: lambda c: c.buy(size=qf.sizing.FixedNotional(1000.0)),
            1: lambda c: c.sell(1.0, limit=312.123, reduce_only=True),
        },
        instrument=inst,
    )
    assert order(r, 0)["fill_qty"] == pytest.approx(3.3)
    assert order(r, 1)["limit_price"] == pytest.approx(312.10)


def test_slippage_rounds_against_the_trader_on_the_tick() -> None:
    rows = [FLAT, (100.0, 101.0, 99.0, 100.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(1.0)},
        slippage=qf.slippage.FixedBps(1),
        instrument=qf.Instrument(tick_size=0.5),
    )
    assert order(r, 0)["fill_price"] == 100.5


def test_rejections_are_records_with_reasons() -> None:
    rows = [FLAT, FLAT, FLAT]
    r, _ = run(
        rows,
        {0: lambda c: [c.buy(0.01), c.buy(1_000.0), c.sell(1.0)]},
        instrument=qf.Instrument(min_notional=5.0),
    )
    assert r.orders["status"].to_list() == ["rejected"] * 3
    assert r.orders["reason"].to_list() == ["min_notional", "insufficient_funds", "spot_short"]
    assert r.trades.height == 0


def test_risk_percent_sizing_uses_the_stop_distance() -> None:
    rows = [FLAT, FLAT, FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(size=qf.sizing.RiskPercent(0.01), stop_loss=0.02)})
    assert order(r, 0)["fill_qty"] == pytest.approx(0.01 * 10_000 / 2.0)
    r, _ = run(rows, {0: lambda c: c.buy(size=qf.sizing.RiskPercent(0.01))})
    assert order(r, 0)["reason"] == "no_stop_distance"


def test_percent_equity_spends_all_cash_including_fees() -> None:
    rows = [FLAT, FLAT, FLAT]
    r, _ = run(
        rows, {0: lambda c: c.buy(size=qf.sizing.PercentEquity(1.0))}, fees=qf.Fees(taker=0.001)
    )
    assert order(r, 0)["fill_qty"] == pytest.approx(10_000 / (100 * 1.001))
    assert r.equity["cash"][1] == pytest.approx(0.0, abs=1e-8)


def test_ioc_gtb_cancel_and_replace() -> None:
    rows = [
        FLAT,
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 96.0, 100.0),
    ]
    actions = {
        0: lambda c: [
            c.buy(1.0, limit=95.0, tif="ioc"),
            c.buy(1.0, limit=95.0, tif=2),
            c.buy(1.0, limit=97.0),
        ],
        2: lambda c: c.replace(2, limit=96.0),
        3: lambda c: c.cancel(99),
    }
    r, s = run(rows, actions)
    st = r.orders.select("status", "reason").rows()
    assert st[0] == ("canceled", "ioc")
    assert st[1] == ("expired", "time")
    assert st[2] == ("canceled", "user")
    assert st[3] == ("filled", "none")
    assert order(r, 3)["fill_price"] == 96.0
    assert s.ids[3] is False


def test_on_fill_sees_fills_in_order_before_on_bar() -> None:
    rows = [FLAT, FLAT, (100.0, 100.0, 97.0, 98.0), FLAT]
    _r, s = run(rows, {0: lambda c: c.buy(1.0, stop_loss=0.02)})
    assert [(f.bar, f.side, f.tag) for f in s.fills] == [(1, 1, "entry"), (2, -1, "stop")]


def test_reverse_through_zero_books_two_trades() -> None:
    rows = [FLAT, FLAT, (110.0, 110.0, 110.0, 110.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(1.0), 1: lambda c: c.sell(3.0)},
        instrument=qf.Instrument(market="linear_perp", leverage=5.0),
        fees=qf.Fees(taker=0.01),
    )
    t = r.trades.rows(named=True)
    assert [(x["side"], x["exit_reason"]) for x in t] == [
        ("long", "signal"),
        ("short", "end_of_data"),
    ]
    assert t[0]["pnl"] == pytest.approx(10.0 - 1.0 - 1.1)
    assert t[1]["qty"] == pytest.approx(2.0)
    assert math.isclose(r.trades["pnl"].sum(), r.final_equity - 10_000.0, rel_tol=1e-12)


def test_signal_fast_path_limit_entries_expire() -> None:
    rows = [FLAT, (100.0, 101.0, 99.5, 100.0), (100.0, 101.0, 99.5, 100.0), FLAT]
    bars = make_bars(rows)
    entries = np.array([True, False, False, False])
    price = np.array([99.0, np.nan, np.nan, np.nan])
    r = qf.backtest(
        bars, entries=entries, entry_price=price, entry_valid_bars=2, sizing=qf.sizing.FixedQty(1.0)
    )
    assert r.orders.select("type", "status", "reason").row(0) == ("limit", "expired", "time")


def test_range_fraction_slippage_uses_previous_bar_range() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0), (100.0, 110.0, 90.0, 100.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(1.0), 1: lambda c: c.sell(1.0)},
        slippage=qf.slippage.RangeFraction(0.5),
    )
    assert order(r, 0)["fill_price"] == pytest.approx(100.0 + 0.5 * 2.0)  # bar 0's range
    assert order(r, 1)["fill_price"] == pytest.approx(100.0 - 0.5 * 20.0)  # bar 1's range


def test_atr_fraction_slippage_uses_atr_known_at_previous_close() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0), (100.0, 103.0, 98.0, 102.0), FLAT]
    r, _ = run(rows, {1: lambda c: c.buy(1.0)}, slippage=qf.slippage.AtrFraction(1.0, period=1))
    # ATR(1) at bar 1 = true range of bar 1 = max(5, |103-100|, |98-100|) = 5
    assert order(r, 0)["fill_price"] == pytest.approx(105.0)


def test_sqrt_impact_slippage() -> None:
    rows = [FLAT, FLAT, FLAT]  # volume 1000 per bar
    r, _ = run(rows, {0: lambda c: c.buy(9.0)}, slippage=qf.slippage.SqrtImpact(0.1))
    assert order(r, 0)["fill_price"] == pytest.approx(100.0 * (1 + 0.1 * math.sqrt(9 / 1000)))
