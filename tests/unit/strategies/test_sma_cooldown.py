"""sma_cooldown: cooldown after exits, daily (UTC) loss limit, position-state tracking."""

from __future__ import annotations

import numpy as np

import quantforge as qf
from quantforge.strategies import registry

SC = registry.get("sma_cooldown")
WIN = [10, 10, 10, 10, 12, 13, 14, 13, 11, 10, 10]  # cross up on 4, cross down on 7
LOSS = [10, 10, 10, 10, 12, 11, 10, 10, 10, 10, 10]  # cross up on 4, cross down on 6 (12 -> 10)
HOUR = 3_600_000
DAY0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC


def run(bars, params):
    strategy = SC.build(bars, {"fast": 1, "slow": 3, "stop_pct": 0.0, **params})
    result = qf.Backtest(cash=1_000.0).run_strategy(bars, strategy)
    return strategy, result


def entry_bars(result, start, step) -> list[int]:
    t = result.orders.filter(result.orders["tag"] == "entry")["created_time"]
    return [(int(x.timestamp() * 1000) - start) // step for x in t]


def test_cooldown_boundary(make_bars) -> None:
    bars = make_bars(WIN * 3)
    start = bars["open_time"][0]
    # exits fill on bars 8 and 19; the next entry signals are on bars 15 and 26 (7 bars later)
    _, free = run(bars, {"cooldown_bars": 0, "daily_loss_limit": 0.0})
    assert entry_bars(free, start, 60_000) == [4, 15, 26]
    strategy, blocked = run(bars, {"cooldown_bars": 8, "daily_loss_limit": 0.0})
    assert entry_bars(blocked, start, 60_000) == [4, 26]
    assert strategy.skipped == [(15, "cooldown")]
    _, edge = run(bars, {"cooldown_bars": 7, "daily_loss_limit": 0.0})
    assert entry_bars(edge, start, 60_000) == [4, 15, 26]


def test_daily_loss_limit_stops_entries_until_the_next_utc_day(make_bars) -> None:
    # hourly bars from midnight UTC: signals on bars 4 and 15 (day 0) and 26 (day 1)
    bars = make_bars(LOSS * 3, start_ms=DAY0, step_ms=HOUR)
    _, free = run(bars, {"cooldown_bars": 0, "daily_loss_limit": 0.0})
    assert entry_bars(free, DAY0, HOUR) == [4, 15, 26]
    loss = free.trades["pnl"][0] / 1_000.0
    assert loss < -0.1  # the first trade loses ~16.7%
    strategy, halted = run(bars, {"cooldown_bars": 0, "daily_loss_limit": 0.1})
    assert entry_bars(halted, DAY0, HOUR) == [4, 26]
    assert strategy.skipped == [(15, "daily_loss_limit")]
    # a limit larger than the loss does not halt
    _, loose = run(bars, {"cooldown_bars": 0, "daily_loss_limit": 0.2})
    assert entry_bars(loose, DAY0, HOUR) == [4, 15, 26]


def test_position_state_transitions(make_bars) -> None:
    bars = make_bars(WIN)
    strategy, result = run(bars, {"cooldown_bars": 0})
    assert strategy.transitions == [(4, "entering"), (5, "long"), (7, "exiting"), (8, "flat")]
    assert result.trades.height == 1
    assert strategy.state == "flat"


def test_stop_exit_starts_a_cooldown(make_bars) -> None:
    close = WIN * 2
    low = np.minimum(np.r_[close[0], close[:-1]], close).astype(float)
    low[6] = 11.0  # stops the first trade (12 * 0.95 = 11.4) on bar 6
    bars = make_bars(close, low=low)
    strategy = SC.build(bars, {"fast": 1, "slow": 3, "stop_pct": 0.05, "cooldown_bars": 10,
                                "daily_loss_limit": 0.0})  # fmt: skip
    result = qf.Backtest(cash=1_000.0).run_strategy(bars, strategy)
    assert result.trades["exit_reason"].to_list() == ["stop"]
    assert strategy.last_exit_bar == 6
    assert strategy.skipped == [(15, "cooldown")]  # 15 < 6 + 10
