"""Resampling on hand-computed cases: aggregation, UTC alignment, completeness marks, errors."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from quantforge.data.resample import resample_bars
from quantforge.errors import ConfigError, DataValidationError

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _minutes(start_minute: int, n: int, *, skip: tuple[int, ...] = ()) -> pl.DataFrame:
    """Bars i: open i, high i + 0.5, low i - 0.5, close i + 0.25, volume 1, trades i."""
    idx = [i for i in range(start_minute, start_minute + n) if i not in skip]
    return pl.DataFrame(
        {
            "open_time": [T0 + dt.timedelta(minutes=i) for i in idx],
            "open": [float(i) for i in idx],
            "high": [i + 0.5 for i in idx],
            "low": [i - 0.5 for i in idx],
            "close": [i + 0.25 for i in idx],
            "volume": [1.0] * len(idx),
            "trades": idx,
        },
        schema_overrides={"open_time": pl.Datetime("ms", "UTC")},
    )


def test_one_minute_to_five_minutes_hand_computed() -> None:
    out = resample_bars(_minutes(0, 10), "1m", "5m")
    assert out.columns == [
        "open_time", "open", "high", "low", "close", "volume", "trades", "source_bars", "complete"
    ]  # fmt: skip
    assert out.rows() == [
        (T0, 0.0, 4.5, -0.5, 4.25, 5.0, 0 + 1 + 2 + 3 + 4, 5, True),
        (T0 + dt.timedelta(minutes=5), 5.0, 9.5, 4.5, 9.25, 5.0, 35, 5, True),
    ]


def test_alignment_is_utc_epoch_not_first_bar() -> None:
    # data starting at 00:03 → first 5m bar is 00:00 (holding 00:03, 00:04) and is incomplete
    out = resample_bars(_minutes(3, 7), "1m", "5m")
    assert out["open_time"].to_list() == [T0, T0 + dt.timedelta(minutes=5)]
    assert out["source_bars"].to_list() == [2, 5]
    assert out["complete"].to_list() == [False, True]
    assert out["open"][0] == 3.0


def test_gap_and_tail_marked_incomplete_or_dropped() -> None:
    bars = _minutes(0, 12, skip=(6, 7))  # 10 bars: window 5..9 lacks two, 10..14 has only 2
    out = resample_bars(bars, "1m", "5m")
    assert out["source_bars"].to_list() == [5, 3, 2]
    assert out["complete"].to_list() == [True, False, False]
    dropped = resample_bars(bars, "1m", "5m", drop_incomplete=True)
    assert dropped["open_time"].to_list() == [T0]


def test_unsorted_input_is_sorted_first() -> None:
    bars = _minutes(0, 10)
    out = resample_bars(bars.reverse(), "1m", "5m")
    assert out.equals(resample_bars(bars, "1m", "5m"))


def test_weekly_bars_open_on_monday() -> None:
    # 2024-01-03 is a Wednesday; 1d → 1w windows start Monday 2024-01-01
    days = [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in range(3, 16)]
    bars = pl.DataFrame(
        {"open_time": days, "open": [1.0] * 13, "high": [2.0] * 13, "low": [0.5] * 13,
         "close": [1.5] * 13, "volume": [1.0] * 13},
        schema_overrides={"open_time": pl.Datetime("ms", "UTC")},
    )  # fmt: skip
    out = resample_bars(bars, "1d", "1w")
    assert out["open_time"].dt.weekday().to_list() == [1, 1, 1]  # Monday
    assert out["source_bars"].to_list() == [5, 7, 1]
    assert out["complete"].to_list() == [False, True, False]


def test_monthly_bars_know_month_lengths() -> None:
    days = pl.datetime_range(
        dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 31, tzinfo=dt.UTC),
        "1d",
        eager=True,
        time_unit="ms",
    )
    n = days.len()
    bars = pl.DataFrame(
        {"open_time": days, "open": [1.0] * n, "high": [1.0] * n, "low": [1.0] * n,
         "close": [1.0] * n, "volume": [2.0] * n}
    )  # fmt: skip
    out = resample_bars(bars, "1d", "1M")
    assert out["source_bars"].to_list() == [29, 31]  # 2024 is a leap year
    assert out["complete"].to_list() == [True, True]
    assert out["volume"].to_list() == [58.0, 62.0]
    # one day missing in March → incomplete
    missing = dt.datetime(2024, 3, 10, tzinfo=dt.UTC)
    out = resample_bars(bars.filter(pl.col("open_time") != missing), "1d", "1M")
    assert out["complete"].to_list() == [True, False]


@pytest.mark.parametrize(("src", "dst"), [("1m", "1m"), ("15m", "1h"), ("1h", "1m"), ("1w", "1M"),
                                          ("7m", "1d"), ("3d", "1w"), ("1M", "1d")])  # fmt: skip
def test_compatible_intervals(src: str, dst: str) -> None:
    ok = {("15m", "1h")}
    if (src, dst) in ok:
        return
    with pytest.raises(ConfigError, match="cannot resample"):
        resample_bars(_minutes(0, 3), src, dst)


def test_duplicates_and_off_grid_rejected() -> None:
    bars = _minutes(0, 3)
    with pytest.raises(DataValidationError, match="1 duplicate"):
        resample_bars(pl.concat([bars, bars.head(1)]), "1m", "5m")
    shifted = bars.with_columns(pl.col("open_time") + dt.timedelta(seconds=1))
    with pytest.raises(DataValidationError, match="3 off-grid"):
        resample_bars(shifted, "1m", "5m")
    with pytest.raises(DataValidationError, match="lack column"):
        resample_bars(bars.drop("low"), "1m", "5m")
