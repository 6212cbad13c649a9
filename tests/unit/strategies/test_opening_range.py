"""opening_range_breakout on hand-made sessions (full day, early close, holiday) and real SPY."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantforge as qf
from quantforge.errors import ConfigError
from quantforge.strategies import registry
from quantforge.strategies.library.opening_range import session_table

ORB = registry.get("opening_range_breakout")
M5 = 300_000


def ms(s: str) -> int:
    return int(datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp() * 1000)


def session_bars() -> tuple[pl.DataFrame, dict[str, int]]:
    """2025-07-02 (13:30-20:00 UTC), 2025-07-03 (early close 17:00 UTC), 2025-07-04 (holiday)."""
    times = np.r_[
        np.arange(ms("2025-07-02T13:30"), ms("2025-07-02T20:00"), M5),
        np.arange(ms("2025-07-03T13:30"), ms("2025-07-03T17:00"), M5),
        np.arange(ms("2025-07-04T13:30"), ms("2025-07-04T15:00"), M5),
    ]
    n = times.size
    close = np.full(n, 100.0)
    high = np.full(n, 100.2)
    low = np.full(n, 99.8)
    first = {"d1": 0, "d2": int(np.searchsorted(times, ms("2025-07-03T13:30"))),
             "d3": int(np.searchsorted(times, ms("2025-07-04T13:30")))}  # fmt: skip
    for start in (first["d1"], first["d2"]):
        high[start : start + 6] = 101.0  # the opening range: 99 .. 101
        low[start : start + 6] = 99.0
    # day 1: four breakouts (bars 10, 20, 30, 40), each followed by a bar that hits the stop
    for b in (10, 20, 30, 40):
        high[b], close[b] = 101.5, 101.3
        low[b + 1] = 99.8
    # day 2: one breakout that is held into the early close
    b = first["d2"] + 10
    high[b : first["d3"]], close[b : first["d3"]], low[b + 1 : first["d3"]] = 101.5, 101.3, 101.2
    # holiday bars: wild prices that must not be traded
    high[first["d3"] :] = 120.0
    opens = np.r_[close[0], close[:-1]]
    opens[first["d2"]] = opens[first["d3"]] = 100.0
    bars = pl.DataFrame({"open_time": times, "open": opens, "high": np.maximum(high, opens),
                         "low": np.minimum(low, opens), "close": close,
                         "volume": np.ones(n)})  # fmt: skip
    return bars, first


def run(bars, **params):
    strategy = ORB.build(bars, {"direction": "long", **params})
    return strategy, qf.Backtest(cash=10_000.0, calendar="equity").run_strategy(bars, strategy)


def t_ms(series: pl.Series) -> list[int]:
    return [int(x.timestamp() * 1000) for x in series]


def test_session_table_knows_early_closes_and_holidays() -> None:
    bars, first = session_bars()
    s = session_table(bars["open_time"].to_numpy(), "XNYS")
    assert s.bar_ms == M5
    assert s.open_ms[0] == ms("2025-07-02T13:30")
    assert s.close_ms[0] == ms("2025-07-02T20:00")
    assert s.close_ms[first["d2"]] == ms("2025-07-03T17:00")  # half day before Independence Day
    assert (s.session[first["d3"] :] == -1).all()  # 4 July: no session
    with pytest.raises(ConfigError, match=r"unknown exchange calendar 'xnys'.*'XNYS'"):
        session_table(bars["open_time"].to_numpy(), "xnys")


def test_breakout_entry_stop_and_stops_per_day() -> None:
    bars, _ = session_bars()
    _strategy, r = run(bars, max_stops_per_day=2, cooloff_minutes=0)
    entries = r.orders.filter(pl.col("tag") == "entry")
    filled = entries.filter(pl.col("status") == "filled")
    d1 = filled.filter(pl.col("done_time") < datetime(2025, 7, 3, tzinfo=UTC))
    # two stop-outs on day 1, then no more entries: the breakouts at bars 30 and 40 are not traded
    assert t_ms(d1["done_time"]) == [ms("2025-07-02T13:30") + 10 * M5,
                                     ms("2025-07-02T13:30") + 20 * M5]  # fmt: skip
    assert d1["fill_price"].to_list() == [101.0, 101.0]  # the stop trigger = range high
    assert entries["type"].unique().to_list() == ["stop_limit"]
    assert entries["limit_price"][0] == pytest.approx(101.0 * 1.001)
    stops = r.orders.filter((pl.col("tag") == "stop") & (pl.col("status") == "filled"))
    assert stops["fill_price"].to_list()[:2] == pytest.approx([101.0 * 0.995] * 2)
    last_d1_entry = max(t_ms(entries.filter(
        pl.col("created_time") < datetime(2025, 7, 3, tzinfo=UTC))["created_time"]))  # fmt: skip
    assert last_d1_entry < ms("2025-07-02T13:30") + 21 * M5  # none after the second stop
    # with three stops allowed, the third breakout is traded too
    _, r3 = run(bars, max_stops_per_day=3, cooloff_minutes=0)
    assert r3.orders.filter((pl.col("tag") == "stop") & (pl.col("status") == "filled")).height == 3


def test_no_entry_order_inside_the_opening_range_window() -> None:
    bars, _ = session_bars()
    _, r = run(bars)
    entries = r.orders.filter(pl.col("tag") == "entry")
    for created in t_ms(entries["created_time"]):
        day_open = created - (created - ms("2025-07-02T13:30")) % 86_400_000
        # decided on a bar ending at or after open + 30 min: fills from open + 30 min on
        assert created + M5 >= day_open + 30 * 60_000


def test_cool_off_after_a_stop() -> None:
    bars, _ = session_bars()
    _strategy, r = run(bars, max_stops_per_day=10, cooloff_minutes=45)
    stop_bar = ms("2025-07-02T13:30") + 11 * M5
    created = t_ms(r.orders.filter(pl.col("tag") == "entry")["created_time"])
    assert not [c for c in created if stop_bar <= c < stop_bar + 45 * 60_000]
    assert [c for c in created if c >= stop_bar + 45 * 60_000]


def test_flat_before_the_early_close_and_nothing_on_a_holiday() -> None:
    bars, _ = session_bars()
    _, r = run(bars, flat_minutes=5)
    d2 = r.trades.filter(pl.col("entry_time") >= datetime(2025, 7, 3, tzinfo=UTC))
    assert d2.height == 1
    assert t_ms(d2["exit_time"]) == [ms("2025-07-03T16:55")]  # 5 min before the 13:00 ET close
    assert r.orders.filter(pl.col("created_time") >= datetime(2025, 7, 4, tzinfo=UTC)).height == 0
    with pytest.raises(ConfigError, match="flat_minutes=1 is shorter than one bar"):
        ORB.build(bars, {"flat_minutes": 1})


def spy(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "rows"), [("SPY-5m.parquet", None), ("SPY-1m-iex.parquet", 60_000)]
)
def test_real_spy_sessions(shared_data: Path, name: str, rows: int | None) -> None:
    bars = spy(shared_data / name)
    if rows is not None:
        bars = bars.head(rows)
    params = {"max_stops_per_day": 1, "cooloff_minutes": 15, "stop_pct": 0.002,
              "direction": "both"}  # fmt: skip
    strategy = ORB.build(bars, params)
    margin = qf.Instrument(market="linear_perp")  # lets the short breakouts fill
    r = qf.Backtest(cash=100_000.0, calendar="equity", instrument=margin).run_strategy(
        bars, strategy
    )
    assert set(r.trades["side"].to_list()) == {"long", "short"}
    s = strategy.s
    t = bars["open_time"].dt.epoch("ms").to_numpy()
    index = {int(x): i for i, x in enumerate(t)}
    trades = r.trades
    assert trades.height > 20
    closes = set()
    for row in trades.iter_rows(named=True):
        i = index[int(row["entry_time"].timestamp() * 1000)]
        j = index[int(row["exit_time"].timestamp() * 1000)]
        # no position held over a session close: entry and exit in one session, exit before close
        assert s.session[i] == s.session[j] >= 0
        assert t[j] < s.close_ms[j]
        # no entry inside the opening-range window
        assert t[i] >= s.open_ms[i] + 30 * 60_000
        closes.add(int(s.close_ms[j]))
    early = {ms("2025-07-03T17:00"), ms("2025-11-28T18:00"), ms("2025-12-24T18:00")}
    sessions_with_early_close = {int(c) for c in s.close_ms} & early
    assert sessions_with_early_close  # the data covers at least one half day
    # stops per day respected
    stop_fills = r.fills.filter(pl.col("tag") == "stop")
    per_session: dict[int, int] = {}
    for x in t_ms(stop_fills["time"]):
        sid = int(s.session[index[x]])
        per_session[sid] = per_session.get(sid, 0) + 1
    assert max(per_session.values()) <= 1
    # flat at every session's last bar
    pos = r.equity["position"].to_numpy()
    last = np.r_[s.session[1:] != s.session[:-1], True]
    assert np.all(pos[last] == 0.0)
    assert (pos != 0.0).any()
