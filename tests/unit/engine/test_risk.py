"""Risk rails: hand-computed rejections, the drawdown kill switch and the daily loss limit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.unit.engine.conftest import Script, make_bars

import quantforge as qf

FLAT = (100.0, 100.0, 100.0, 100.0)
PERP = qf.Instrument(market="linear_perp", leverage=5.0)


def run(rows, actions, **kw):
    kw.setdefault("cash", 1_000.0)
    return qf.backtest(make_bars(rows), Script(actions), **kw)


@pytest.mark.parametrize(
    ("limits", "qty", "reason"),
    [
        (qf.RiskLimits(max_position_qty=3.0), 5.0, "max_position"),
        (qf.RiskLimits(max_notional=150.0), 2.0, "max_notional"),
        (qf.RiskLimits(max_leverage=2.0), 30.0, "max_leverage"),
    ],
)
def test_caps_reject_with_reason(limits: qf.RiskLimits, qty: float, reason: str) -> None:
    r = run([FLAT, FLAT, FLAT], {0: lambda c: c.buy(qty)}, risk=limits, instrument=PERP)
    assert r.orders.select("status", "reason").row(0) == ("rejected", reason)


def test_caps_allow_orders_within_limits() -> None:
    limits = qf.RiskLimits(max_position_qty=3.0, max_notional=300.0, max_leverage=0.31)
    r = run([FLAT, FLAT, FLAT], {0: lambda c: c.buy(3.0)}, risk=limits, instrument=PERP)
    assert r.orders["status"][0] == "filled"


def test_max_open_orders() -> None:
    r = run(
        [FLAT, FLAT],
        {0: lambda c: [c.buy(1.0, limit=90.0), c.buy(1.0, limit=91.0)]},
        risk=qf.RiskLimits(max_open_orders=1),
    )
    assert r.orders.select("status", "reason").rows() == [
        ("active", "none"),
        ("rejected", "max_open_orders"),
    ]


def test_drawdown_kill_switch_flattens_and_halts_for_good() -> None:
    rows = [FLAT, FLAT, (100.0, 100.0, 85.0, 88.0), (87.0, 87.0, 86.0, 86.0), FLAT, FLAT]
    r = run(
        rows,
        {0: lambda c: c.buy(10.0), 4: lambda c: c.buy(1.0)},
        risk=qf.RiskLimits(max_drawdown=0.1),
    )
    t = r.trades.row(0, named=True)
    # equity at bar 2's close: 1000 - 10*12 = 880 < 900 -> flat at bar 3's open (87)
    assert (t["exit_reason"], t["exit_price"]) == ("halt", 87.0)
    assert r.orders.select("status", "reason").row(-1) == ("rejected", "halted")
    assert r.equity["position"].to_list() == [0.0, 10.0, 10.0, 0.0, 0.0, 0.0]


def test_daily_loss_limit_halts_until_next_utc_day() -> None:
    hour = 3_600_000
    times = [22 * hour, 23 * hour, 24 * hour, 25 * hour, 26 * hour]  # day 0 then day 1
    opens = [100.0, 100.0, 95.0, 95.0, 95.0]
    closes = [100.0, 95.0, 95.0, 95.0, 95.0]
    bars = pl.DataFrame(
        {
            "open_time": np.array(times, dtype=np.int64),
            "open": opens,
            "high": np.maximum(opens, closes),
            "low": np.minimum(opens, closes),
            "close": closes,
            "volume": [1.0] * 5,
        }
    )
    actions = {0: lambda c: c.buy(10.0), 1: lambda c: c.buy(1.0), 2: lambda c: c.buy(1.0)}
    r = qf.backtest(bars, Script(actions), cash=1_000.0, risk=qf.RiskLimits(daily_loss_limit=0.03))
    # bar 1 (day 0) closes at 95: equity 950 < 1000 * 0.97 -> flatten at bar 2's open, halt
    assert r.trades.select("exit_reason", "exit_price").rows() == [
        ("halt", 95.0),
        ("end_of_data", 95.0),
    ]
    assert r.orders.select("tag", "status", "reason").rows() == [
        ("entry", "filled", "none"),
        ("halt", "filled", "none"),
        ("entry", "rejected", "halted"),  # decided on bar 1, same day
        ("entry", "filled", "none"),  # decided on bar 2, the first bar of day 1
    ]
