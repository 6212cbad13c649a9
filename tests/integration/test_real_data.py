"""Real Binance data (../shared/data, MANIFEST.md): parsing, import, resampling, trades → bars."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from quantforge.bars import dollar_bars, time_bars
from quantforge.data.catalog import Catalog
from quantforge.data.ingest import import_files
from quantforge.data.resample import resample_bars
from quantforge.data.sources.binance_dumps import read_binance_dump
from quantforge.data.validate import check_bars

pytestmark = pytest.mark.shared_data

MS_UTC = pl.Datetime("ms", "UTC")
VOLUMES = ("volume", "quote_volume", "taker_buy_base", "taker_buy_quote")


def _bars(shared: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(shared / name).with_columns(pl.col("open_time").cast(MS_UTC))


@pytest.fixture(scope="module")
def minute(shared_data: Path) -> pl.DataFrame:
    return _bars(shared_data, "BTCUSDT-1m.parquet")


@pytest.fixture(scope="module")
def quarter(shared_data: Path) -> pl.DataFrame:
    return _bars(shared_data, "BTCUSDT-15m.parquet")


def _assert_same_bars(got: pl.DataFrame, want: pl.DataFrame, *, volume_rel: float) -> None:
    joined = got.join(want, on="open_time", how="inner", suffix="_ref")
    assert joined.height == want.height
    for col in ("open", "high", "low", "close", "trades"):
        assert (joined[col] == joined[f"{col}_ref"]).all(), col
    for col in VOLUMES:
        rel = (
            (joined[col] - joined[f"{col}_ref"]).abs() / joined[f"{col}_ref"].abs().clip(1e-12)
        ).max()
        assert isinstance(rel, float)
        assert rel <= volume_rel, col


def test_fixtures_match_the_minute_parquet(shared_data: Path, minute: pl.DataFrame) -> None:
    base = shared_data / "fixtures" / "public-data" / "spot"
    for day in ("2024-12-31", "2025-01-01"):  # ms and µs files
        dump = read_binance_dump(base / f"BTCUSDT-1m-{day}.csv")
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        want = minute.filter(
            pl.col("open_time").is_between(start, start + dt.timedelta(days=1), closed="left")
        )
        assert dump.frame.equals(want.select(dump.frame.columns))


def test_halt_day_resamples_to_the_15m_parquet(shared_data: Path, quarter: pl.DataFrame) -> None:
    dump = read_binance_dump(shared_data / "fixtures/public-data/spot/BTCUSDT-1m-2023-03-24.csv")
    assert dump.frame.height == 1360
    assert dump.close_time_mismatches == 1  # 12:39 bar truncated at the halt
    report = check_bars(dump.frame, "1m")
    assert (report.missing_slots, report.gaps) == (80, 1)
    assert report.largest_gap_start == dt.datetime(2023, 3, 24, 12, 40, tzinfo=dt.UTC)
    out = resample_bars(dump.frame, "1m", "15m")
    day = dt.datetime(2023, 3, 24, tzinfo=dt.UTC)
    want = quarter.filter(
        pl.col("open_time").is_between(day, day + dt.timedelta(days=1), closed="left")
    )
    _assert_same_bars(out, want, volume_rel=1e-12)
    # the bucket straddling the halt (MANIFEST: 2023-03-24 12:30) is built from 10 minutes
    halt = out.filter(pl.col("open_time") == day + dt.timedelta(hours=12, minutes=30))
    assert halt["source_bars"].to_list() == [10]
    assert halt["complete"].to_list() == [False]
    assert out.filter(~pl.col("complete")).height == 1


def test_resample_1m_to_15m_equals_the_15m_parquet(
    minute: pl.DataFrame, quarter: pl.DataFrame
) -> None:
    out = resample_bars(minute, "1m", "15m")
    assert out["complete"].all()  # the 1m file is gap-free
    first, last = minute["open_time"].min(), minute["open_time"].max()
    want = quarter.filter(pl.col("open_time").is_between(first, last))
    assert want.height == out.height == 70_176
    _assert_same_bars(out, want, volume_rel=1e-12)
    # the 15m file's volumes are the 1m sums rounded to 8 decimals (MANIFEST §1)
    joined = out.join(want, on="open_time", suffix="_ref")
    assert (joined["volume"].round(8) == joined["volume_ref"]).all()
    assert (joined["taker_buy_base"].round(8) == joined["taker_buy_base_ref"]).all()


def test_daily_example_fact(quarter: pl.DataFrame) -> None:
    daily = resample_bars(quarter, "15m", "1d")
    row = daily.filter(pl.col("open_time") == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)).row(
        0, named=True
    )
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        7195.24,
        7255.00,
        7175.15,
        7200.85,
    )
    assert row["volume"] == pytest.approx(16792.388165, abs=1e-8)
    assert row["complete"]


def test_gap_counts_match_manifest(shared_data: Path, quarter: pl.DataFrame) -> None:
    report = check_bars(quarter, "15m")
    assert report.rows == 290_107
    assert (report.missing_slots, report.gaps) == (565, 33)
    assert [(g.start, g.missing) for g in report.top_gaps[:4]] == [
        (dt.datetime(2018, 2, 8, 0, 30, tzinfo=dt.UTC), 134),
        (dt.datetime(2018, 6, 26, 2, 0, tzinfo=dt.UTC), 40),
        (dt.datetime(2019, 5, 15, 3, 0, tzinfo=dt.UTC), 40),
        (dt.datetime(2019, 8, 15, 2, 0, tzinfo=dt.UTC), 32),
    ]
    assert report.zero_volume == 56
    assert (report.duplicates, report.off_grid, report.ohlc_violations) == (0, 0, 0)
    assert report.non_positive_prices == 0
    for sym in ("ETHUSDT", "SOLUSDT", "BNBUSDT"):
        hourly = check_bars(_bars(shared_data, f"{sym}-1h.parquet"), "1h")
        assert (hourly.rows, hourly.missing_slots, hourly.gaps) == (43_985, 14, 7), sym
        assert hourly.zero_volume == 2
        assert hourly.largest_gap_start == dt.datetime(2021, 8, 13, 2, tzinfo=dt.UTC)
        assert check_bars(_bars(shared_data, f"{sym}-15m.parquet"), "15m").missing_slots == 0


def test_trades_reproduce_minute_bars(shared_data: Path, minute: pl.DataFrame) -> None:
    trades = (
        pl.read_parquet(shared_data / "BINANCE-trades-ws-sample.parquet")
        .filter((pl.col("market") == "binance-spot") & (pl.col("symbol") == "BTCUSDT"))
        .filter(pl.col("time") >= 1723161255000)  # the 2024-08-08/09 run (MANIFEST §4)
        .with_columns((pl.col("time") * 1000).cast(pl.Datetime("us", "UTC")))
    )
    assert trades.height == 19_904
    bars = time_bars(trades, "1m")
    first_trade, last_trade = trades["time"].min(), trades["time"].max()
    assert isinstance(first_trade, dt.datetime)
    assert isinstance(last_trade, dt.datetime)
    full = bars.filter(
        (pl.col("open_time") > first_trade)
        & (pl.col("open_time") + dt.timedelta(minutes=1) <= last_trade)
    )
    assert full.height == 10
    want = minute.filter(pl.col("open_time").is_in(full["open_time"].implode()))
    joined = full.join(want, on="open_time", suffix="_ref")
    assert joined.height == 10
    for col in ("open", "high", "low", "close", "trades"):
        assert (joined[col] == joined[f"{col}_ref"]).all(), col
    for col in ("volume", "taker_buy_base"):  # Binance volumes are 8-decimal numbers
        assert (joined[col].round(8) == joined[f"{col}_ref"]).all(), col
    for col in ("quote_volume", "taker_buy_quote"):
        rel = ((joined[col] - joined[f"{col}_ref"]) / joined[f"{col}_ref"]).abs().max()
        assert isinstance(rel, float)
        assert rel < 1e-12, col
    # dollar bars on the same real trades conserve volume and value
    dbars = dollar_bars(trades, per_day=2000)
    assert dbars["trades"].sum() == trades.height
    assert dbars["volume"].sum() == pytest.approx(trades["qty"].sum(), rel=1e-12)


def test_import_dump_slices_into_catalog(tmp_path: Path, minute: pl.DataFrame) -> None:
    """Write real 1m rows back out in the dump layout (ms for 2024, µs for 2025) and import."""
    paths = []
    for day, unit_mult in (("2024-12-30", 1), ("2025-02-03", 1000)):
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        rows = minute.filter(
            pl.col("open_time").is_between(start, start + dt.timedelta(days=1), closed="left")
        )
        t = pl.col("open_time").dt.epoch("ms")
        dump = rows.select(
            (t * unit_mult).alias("a"), "open", "high", "low", "close", "volume",
            ((t + 59_999) * unit_mult + (unit_mult - 1)).alias("ct"), "quote_volume", "trades",
            "taker_buy_base", "taker_buy_quote", pl.lit(0).alias("ignore"),
        )  # fmt: skip
        path = tmp_path / f"BTCUSDT-1m-{day}.csv"
        dump.write_csv(path, include_header=False)
        paths.append(path)
    cat = Catalog(tmp_path / "cat")
    report = import_files(paths, cat, "BTCUSDT", "1m")
    assert [f.time_unit for f in report.files] == ["ms", "us"]
    assert report.quarantined == 0
    assert report.rows_clean == 2880
    stored = cat.read_bars("BTCUSDT", "1m")
    want = minute.filter(pl.col("open_time").is_in(stored["open_time"].implode()))
    assert stored.select(want.columns).equals(want)
