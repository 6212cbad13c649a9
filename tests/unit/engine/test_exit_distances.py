"""Hand-computed cases for absolute exit distances and tagged reduce-only orders."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf
from quantforge.errors import ConfigError, DataValidationError, StrategyError

FLAT = (100.0, 100.0, 100.0, 100.0)


def run(rows, actions, **kw):
    strat = Script(actions)
    kw.setdefault("cash", 10_000.0)
    return qf.backtest(make_bars(rows), strat, **kw), strat


def test_event_stop_distance_is_live_on_the_entry_bar() -> None:
    # entry fills at 102 (bar 1 open); stop 102 - 3 = 99, reached by bar 1's low of 98.5
    rows = [FLAT, (102.0, 103.0, 98.5, 100.0), FLAT]
    r, _ = run(rows, {0: lambda c: c.buy(1.0, stop_distance=3.0)})
    t = r.trades.row(0, named=True)
    assert (t["exit_reason"], t["entry_price"], t["exit_price"]) == ("stop", 102.0, 99.0)
    assert (t["bars_held"], r.orders["stop_price"][1]) == (0, 99.0)


def test_event_take_profit_distance_for_a_short() -> None:
    # short fills at 100; take-profit buy limit at 100 - 4 = 96, reached on bar 2 (low 95)
    rows = [FLAT, (100.0, 101.0, 97.0, 98.0), (98.0, 99.0, 95.0, 96.0), FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.sell(1.0, take_profit_distance=4.0, stop_distance=5.0)},
        instrument=qf.Instrument(market="linear_perp"),
    )
    t = r.trades.row(0, named=True)
    assert (t["side"], t["exit_reason"], t["exit_price"]) == ("short", "take_profit", 96.0)
    assert r.orders["stop_price"][1] == 105.0  # 100 + 5, canceled once flat
    assert r.orders["reason"][1] == "position_closed"


def test_fast_path_distance_array_is_read_at_the_signal_bar() -> None:
    # signal at bar 1 (distance 2.0 there; 50.0 on the fill bar would never trigger)
    rows = [FLAT, FLAT, (101.0, 101.5, 98.8, 100.0), FLAT]
    dist = np.array([np.nan, 2.0, 50.0, 50.0])
    entries = np.array([False, True, False, False])
    r = qf.backtest(
        make_bars(rows), entries=entries, cash=10_000.0, sizing=qf.sizing.FixedQty(1.0),
        exit_rules=qf.ExitRules(stop_distance=dist),
    )  # fmt: skip
    t = r.trades.row(0, named=True)
    assert (t["entry_price"], t["exit_price"], t["exit_reason"]) == (101.0, 99.0, "stop")


def test_fast_path_nan_distance_means_no_stop() -> None:
    rows = [FLAT, FLAT, (101.0, 101.5, 90.0, 100.0), FLAT]
    entries = np.array([False, True, False, False])
    r = qf.backtest(
        make_bars(rows), entries=entries, cash=10_000.0, sizing=qf.sizing.FixedQty(1.0),
        exit_rules=qf.ExitRules(stop_distance=np.full(4, np.nan), take_profit_distance=0.25),
    )  # fmt: skip
    # no stop; the take-profit at 101.25 fills on bar 2 (high 101.5)
    t = r.trades.row(0, named=True)
    assert (t["exit_price"], t["exit_reason"]) == (101.25, "take_profit")
    assert r.orders.height == 2


def test_risk_sizing_uses_the_absolute_distance() -> None:
    # risk 1% of 10,000 = 100 over a 4.0 distance -> 25 units at 100
    rows = [FLAT, FLAT, FLAT]
    r, _ = run(
        rows,
        {0: lambda c: c.buy(size=qf.sizing.RiskPercent(0.01), stop_distance=4.0)},
    )
    assert r.fills["qty"][0] == pytest.approx(25.0)
    assert r.orders["stop_price"][1] == 96.0


def test_distance_exits_match_between_paths() -> None:
    rows = [FLAT, (100.0, 102.0, 99.0, 101.0), (101.0, 104.0, 100.5, 103.0),
            (103.0, 103.5, 97.0, 98.0), FLAT, (99.0, 100.0, 95.0, 96.0), FLAT]  # fmt: skip
    entries = np.array([True, False, False, False, True, False, False])
    dist = np.array([1.5, 9.0, 9.0, 9.0, 2.0, 9.0, 9.0])
    rules = qf.ExitRules(stop_distance=dist, take_profit_distance=dist * 2.0)
    fast = qf.backtest(make_bars(rows), entries=entries, exit_rules=rules,
                       sizing=qf.sizing.FixedQty(1.0))  # fmt: skip

    class Entries(qf.Strategy):
        def on_bar(self, ctx: qf.Context) -> None:
            if ctx.position == 0.0 and entries[ctx.i]:
                ctx.buy()

    slow = qf.backtest(make_bars(rows), Entries(), exit_rules=rules,
                       sizing=qf.sizing.FixedQty(1.0))  # fmt: skip
    assert fast.trades.equals(slow.trades)
    assert fast.fills.equals(slow.fills)
    # entry 0 fills at 100: take-profit 103 on bar 2; entry 4 fills at 99: stop 97 on bar 5
    assert fast.trades["exit_reason"].to_list() == ["take_profit", "stop"]
    assert fast.trades["exit_price"].to_list() == [103.0, 97.0]


def test_user_reduce_only_orders_carry_their_tag() -> None:
    rows = [FLAT, FLAT, (100.0, 100.0, 94.0, 95.0), FLAT]
    r, strat = run(
        rows,
        {
            0: lambda c: c.buy(1.0),
            1: lambda c: c.sell(1.0, stop=95.0, reduce_only=True, tag="stop"),
        },
    )
    assert r.trades["exit_reason"][0] == "stop"
    assert r.orders["tag"][1] == "stop"
    assert [f.tag for f in strat.fills] == ["entry", "stop"]


def test_close_position_tag_and_default() -> None:
    rows = [FLAT, FLAT, FLAT, FLAT, FLAT]
    r, _ = run(
        rows,
        {
            0: lambda c: c.buy(1.0),
            1: lambda c: c.close_position(tag="timeout"),
            2: lambda c: c.buy(1.0),
            3: lambda c: c.close_position(),
        },
    )
    assert r.trades["exit_reason"].to_list() == ["timeout", "signal"]


def test_bad_arguments_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="not both"):
        qf.ExitRules(stop_loss=0.01, stop_distance=1.0)
    with pytest.raises(ConfigError, match="not both"):
        qf.ExitRules(take_profit=0.01, take_profit_distance=1.0)
    with pytest.raises(ConfigError, match=r"stop_distance\[1\]"):
        qf.ExitRules(stop_distance=np.array([1.0, -1.0]))
    with pytest.raises(ConfigError, match="positive"):
        qf.ExitRules(take_profit_distance=0.0)
    with pytest.raises(DataValidationError, match="one value per bar"):
        qf.backtest(make_bars([FLAT, FLAT]), entries=np.array([True, False]),
                    exit_rules=qf.ExitRules(stop_distance=np.ones(3)))  # fmt: skip
    with pytest.raises(StrategyError, match="reduce_only"):
        run([FLAT, FLAT], {0: lambda c: c.buy(1.0, tag="stop")})
    with pytest.raises(StrategyError, match="tag="):
        run([FLAT, FLAT], {0: lambda c: c.sell(1.0, reduce_only=True, tag="halt")})
