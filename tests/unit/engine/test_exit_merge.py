"""A strategy's own exits merge with the backtest's exit rules, the same way on both paths.

Before, the fast path replaced the backtest's (an experiment's ``engine.risk``) exits with the
strategy's, silently; the event path used them only for entries without any exit of their own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf
from quantforge.engine.backtest import Backtest
from quantforge.engine.exits import ExitRules, TrailingStop
from quantforge.errors import ConfigError
from quantforge.strategies.library._common import SignalPlan

# a slow rise: no 5 % stop is ever hit, so only the timeout (or the final bar) can close
RISE = [(100.0 + i, 101.0 + i, 99.5 + i, 100.5 + i) for i in range(12)]


def test_merged_fills_unset_kinds_and_keeps_own() -> None:
    own = ExitRules(stop_loss=0.05)
    defaults = ExitRules(timeout_bars=3, take_profit_distance=2.0)
    merged = own.merged(defaults)
    assert merged.stop_loss == 0.05
    assert merged.timeout_bars == 3
    assert merged.take_profit_distance == 2.0
    assert merged.take_profit is None
    assert merged.stop_distance is None
    assert own.merged(ExitRules()) is own
    assert ExitRules().merged(defaults) is defaults
    assert ExitRules().is_empty
    assert not own.is_empty


@pytest.mark.parametrize(
    ("own", "defaults", "kind"),
    [
        (ExitRules(stop_loss=0.05), ExitRules(stop_loss=0.02), "stop"),
        (ExitRules(stop_distance=3.0), ExitRules(stop_loss=0.02), "stop"),
        (ExitRules(take_profit=0.1), ExitRules(take_profit_distance=5.0), "take-profit"),
        (ExitRules(trailing=0.03), ExitRules(trailing=TrailingStop(absolute=2.0)), "trailing"),
        (ExitRules(timeout_bars=5), ExitRules(timeout_bars=3), "timeout"),
    ],
)
def test_a_kind_set_twice_is_an_error(own: ExitRules, defaults: ExitRules, kind: str) -> None:
    with pytest.raises(ConfigError, match=f"set a {kind}"):
        own.merged(defaults)


def _ledger(result: qf.BacktestResult) -> list[tuple[object, ...]]:
    cols = ("entry_time", "exit_time", "entry_price", "exit_price", "qty", "exit_reason")
    return [tuple(row) for row in result.trades.select(cols).iter_rows()]


def test_both_paths_merge_a_strategy_stop_with_an_engine_timeout() -> None:
    bars = make_bars(RISE)
    config = Backtest(
        cash=10_000.0, sizing=qf.sizing.FixedQty(1.0), exit_rules=ExitRules(timeout_bars=3)
    )
    entries = np.zeros(len(RISE), dtype=np.bool_)
    entries[1] = True
    plan = SignalPlan(entries, np.zeros_like(entries), exit_rules=ExitRules(stop_loss=0.05))
    fast = plan.run(bars, config)
    event = config.run_strategy(bars, Script({1: lambda ctx: ctx.buy(stop_loss=0.05)}))
    # entry at bar 2's open (102), timeout three bars after the entry bar: bar 5's open (105)
    assert _ledger(fast) == _ledger(event)
    ((_, _, entry, exit_, qty, reason),) = _ledger(fast)
    assert (entry, exit_, qty, reason) == (102.0, 105.0, 1.0, "timeout")
    # and the strategy's stop is live too: its order carries the 5 % stop level
    stops = fast.orders.filter(fast.orders["type"] == "stop")
    assert stops.height == 1
    assert math.isclose(float(stops["stop_price"][0]), 102.0 * 0.95)


def test_both_paths_refuse_a_kind_set_twice() -> None:
    bars = make_bars(RISE)
    config = Backtest(cash=10_000.0, exit_rules=ExitRules(stop_loss=0.02))
    entries = np.zeros(len(RISE), dtype=np.bool_)
    entries[1] = True
    plan = SignalPlan(entries, np.zeros_like(entries), exit_rules=ExitRules(stop_loss=0.05))
    with pytest.raises(ConfigError, match="set a stop exit"):
        plan.run(bars, config)
    with pytest.raises(qf.QuantforgeError, match="set a stop exit"):
        config.run_strategy(bars, Script({1: lambda ctx: ctx.buy(stop_loss=0.05)}))
