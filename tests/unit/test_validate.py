"""Bar checks and quarantine on hand-built frames whose every problem is counted by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from quantforge.data.validate import (
    DEFAULT_OUTLIER_Z,
    check_bars,
    split_quarantine,
    split_trade_quarantine,
)
from quantforge.errors import DataValidationError

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _bars(
    minutes: list[float], rows: list[tuple[float, float, float, float, float]]
) -> pl.DataFrame:
    times = [T0 + dt.timedelta(minutes=m) for m in minutes]
    o, h, lo, c, v = zip(*rows, strict=True)
    return pl.DataFrame(
        {"open_time": times, "open": o, "high": h, "low": lo, "close": c, "volume": v},
        schema_overrides={"open_time": pl.Datetime("ms", "UTC")},
    )


GOOD = (10.0, 11.0, 9.0, 10.5, 1.0)


def test_clean_frame_is_ok() -> None:
    df = _bars([0, 1, 2], [GOOD, GOOD, GOOD])
    report = check_bars(df, "1m")
    assert report.ok
    assert not report.quarantinable
    assert report.rows == 3
    assert report.first == T0
    assert report.last == T0 + dt.timedelta(minutes=2)
    clean, bad = split_quarantine(df, report)
    assert clean.equals(df)
    assert bad.height == 0
    assert "reason" in bad.columns


def test_every_problem_counted() -> None:
    rows = [
        GOOD,  # 0  ok
        (10.0, 9.5, 9.0, 10.0, 1.0),  # 1  high < open → OHLC break
        (10.0, 11.0, 10.5, 10.2, 1.0),  # 2  low > min(open, close) → OHLC break
        (0.0, 11.0, 0.0, 10.0, 1.0),  # 3  non-positive price (also nothing else)
        (10.0, 11.0, 9.0, 10.0, -1.0),  # 4  negative volume
        (10.0, 11.0, 9.0, float("nan"), 1.0),  # 5  NaN
        GOOD,  # 6  duplicate of 6 (first copy)
        GOOD,  # 6  duplicate of 6 (last copy: kept)
        GOOD,  # 7.5 off grid
        GOOD,  # 10 after a gap of 8, 9 (2 missing)
        GOOD,  # 9  → time goes back, and fills slot 9 (so only 8 is missing)
    ]
    df = _bars([0, 1, 2, 3, 4, 5, 6, 6, 7.5, 10, 9], rows)
    report = check_bars(df, "1m")
    assert report.ohlc_violations == 2
    assert report.non_positive_prices == 1
    assert report.negative_volume == 1
    assert report.nan_rows == 1
    assert report.duplicates == 1
    assert report.off_grid == 1
    assert report.non_monotonic == 1  # 10 → 9
    assert report.missing_slots == 2  # 7 and 8 (7.5 is off grid, so not a slot)
    assert report.gaps == 1
    assert report.largest_gap == 2
    assert report.largest_gap_start == T0 + dt.timedelta(minutes=7)
    assert report.quarantinable
    assert not report.ok

    clean, bad = split_quarantine(df, report)
    assert clean.height + bad.height == df.height
    assert clean["open_time"].is_sorted()
    assert clean["open_time"].n_unique() == clean.height
    reasons = dict(
        zip(
            bad["open_time"].dt.minute().to_list(),
            bad["reason"].to_list(),
            strict=True,
        )
    )
    assert reasons[1] == "ohlc_invariant"
    assert reasons[2] == "ohlc_invariant"
    assert reasons[3] == "non_positive_price"
    assert reasons[4] == "negative_volume"
    assert reasons[5] == "nan"
    assert reasons[6] == "duplicate"
    assert reasons[7] == "off_grid"
    assert sorted(clean["open_time"].dt.minute().to_list()) == [0, 6, 9, 10]


def test_non_monotonic_counts_backward_steps() -> None:
    df = _bars([0, 2, 1, 3, 0], [GOOD] * 5)
    report = check_bars(df, "1m")
    assert report.non_monotonic == 2
    assert report.duplicates == 1


def test_taker_buy_above_volume() -> None:
    df = _bars([0, 1], [GOOD, GOOD]).with_columns(taker_buy_base=pl.Series([0.5, 1.5]))
    report = check_bars(df, "1m")
    assert report.taker_buy_exceeds_volume == 1
    _clean, bad = split_quarantine(df, report)
    assert bad["reason"].to_list() == ["taker_buy_gt_volume"]


def test_several_reasons_joined() -> None:
    df = _bars([0.5], [(0.0, -1.0, 0.0, 0.0, -2.0)])
    report = check_bars(df, "1m")
    _clean, bad = split_quarantine(df, report)
    # high -1 < max(open, close) = 0 breaks OHLC too
    assert bad["reason"][0] == "non_positive_price;ohlc_invariant;negative_volume;off_grid"


def test_gaps_monthly_and_weekly() -> None:
    months = [dt.datetime(2024, m, 1, tzinfo=dt.UTC) for m in (1, 2, 5, 6)]
    df = pl.DataFrame(
        {"open_time": months, "open": [1.0] * 4, "high": [1.0] * 4, "low": [1.0] * 4,
         "close": [1.0] * 4, "volume": [1.0] * 4},
        schema_overrides={"open_time": pl.Datetime("ms", "UTC")},
    )  # fmt: skip
    report = check_bars(df, "1M")
    assert (report.missing_slots, report.gaps, report.off_grid) == (2, 1, 0)
    assert report.largest_gap_start == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    # weekly bars open on Monday (Binance); 2024-01-01 is a Monday, 2024-01-03 is not
    weeks = df.with_columns(
        open_time=pl.Series([dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 8, 22, 3)]).cast(
            pl.Datetime("ms", "UTC")
        )
    )
    report = check_bars(weeks, "1w")
    assert (report.off_grid, report.missing_slots) == (1, 1)


def test_outliers_reported_not_quarantined(rng: np.random.Generator) -> None:
    n = 500
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    close[300] *= 1.5  # a bad print: +40 %
    df = _bars(
        list(range(n)),
        [(c, c * 1.001, c * 0.999, c, 1.0) for c in close],
    )
    report = check_bars(df, "1m")
    # both the jump up to the bad print and the jump back down
    assert report.outliers == 2
    assert report.outlier_times[0] == T0 + dt.timedelta(minutes=300)
    assert report.outlier_threshold == DEFAULT_OUTLIER_Z
    assert not report.quarantinable
    clean, _bad = split_quarantine(df, report)
    assert clean.height == n
    assert check_bars(df, "1m", outlier_z=math.inf).outliers == 0


def test_jump_across_gap_is_not_an_outlier(rng: np.random.Generator) -> None:
    n = 200
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    close[100:] *= 2.0  # level shift exactly where 10 bars are missing
    minutes = list(range(100)) + list(range(110, 210))
    df = _bars(minutes, [(c, c, c, c, 1.0) for c in close])
    report = check_bars(df, "1m")
    assert report.outliers == 0
    assert report.missing_slots == 10


def test_errors() -> None:
    df = _bars([0], [GOOD])
    with pytest.raises(DataValidationError, match="lack column"):
        check_bars(df.drop("volume"), "1m")
    report = check_bars(df, "1m")
    with pytest.raises(DataValidationError, match="describes 1 rows"):
        split_quarantine(pl.concat([df, df]), report)


def test_trade_quarantine() -> None:
    trades = pl.DataFrame(
        {
            "time": [T0] * 5,
            "trade_id": [1, 2, 2, 3, 4],
            "price": [10.0, 10.0, 10.1, -1.0, float("nan")],
            "qty": [1.0, 1.0, 1.0, 1.0, 1.0],
            "is_buyer_maker": [True] * 5,
        }
    )
    clean, bad = split_trade_quarantine(trades)
    assert clean["trade_id"].to_list() == [1, 2]
    assert clean["price"].to_list() == [10.0, 10.1]  # the last copy of id 2 wins
    assert bad["reason"].to_list() == ["duplicate", "non_positive_price", "nan"]
