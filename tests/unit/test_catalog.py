"""Unit tests of the Parquet catalog on a local folder (S3 lives in tests/integration)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantforge.data.catalog import Catalog, DatasetInfo, WriteReport, bar_gaps
from quantforge.data.schema import BAR_SCHEMA
from quantforge.errors import ConfigError, DataValidationError, NotFoundError

H = 3_600_000
M = 60_000


def make_bars(start: datetime, n: int, step_ms: int, *, seed: int = 1, full: bool = True):
    """Bars on a regular grid with random but valid OHLCV (int ms open_time)."""
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1000)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    open_ = np.concatenate([[100.0], close[:-1]])
    cols = {
        "open_time": t0 + step_ms * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": np.maximum(open_, close) + 0.5,
        "low": np.minimum(open_, close) - 0.5,
        "close": close,
        "volume": rng.uniform(1, 10, n),
    }
    if full:
        cols |= {
            "quote_volume": rng.uniform(100, 1000, n),
            "trades": rng.integers(1, 100, n),
            "taker_buy_base": rng.uniform(0, 1, n),
            "taker_buy_quote": rng.uniform(0, 100, n),
        }
    return pl.DataFrame(cols)


def as_utc(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


def files_snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def cat(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "catalog")


def test_round_trip_keeps_values_and_dtypes(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 3, 1, tzinfo=UTC), 500, M)
    report = cat.write_bars(bars, symbol="btcusdt", interval="1m")
    assert report == WriteReport(
        rows_in=500,
        rows_new=500,
        rows_total=500,
        partitions=("exchange=binance/symbol=BTCUSDT/interval=1m/year=2024",),
    )
    out = cat.read_bars("BTCUSDT", "1m")
    assert out.schema == pl.Schema(BAR_SCHEMA)
    assert out.equals(as_utc(bars))
    path = cat.root + "/exchange=binance/symbol=BTCUSDT/interval=1m/year=2024/data.parquet"
    assert os.path.isfile(path)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).metadata.row_group(0).column(1).compression == "ZSTD"


def test_time_input_forms_are_equivalent(cat: Catalog, tmp_path: Path) -> None:
    bars = make_bars(datetime(2024, 3, 1, tzinfo=UTC), 50, H, full=False)
    naive = as_utc(bars).with_columns(
        pl.col("open_time").dt.replace_time_zone(None).dt.cast_time_unit("us")
    )
    tokyo = as_utc(bars).with_columns(pl.col("open_time").dt.convert_time_zone("Asia/Tokyo"))
    for i, frame in enumerate((bars, naive, tokyo)):
        other = Catalog(tmp_path / f"c{i}")
        other.write_bars(frame, symbol="X", interval="1h")
        assert other.read_bars("X", "1h").equals(as_utc(bars))


def test_time_filter_start_inclusive_end_exclusive(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 48, H)
    cat.write_bars(bars, symbol="ETHUSDT", interval="1h")
    out = cat.read_bars(
        "ETHUSDT",
        "1h",
        start=datetime(2024, 1, 1, 5, tzinfo=UTC),
        end=datetime(2024, 1, 1, 9, tzinfo=UTC),
    )
    assert out["open_time"].to_list() == [datetime(2024, 1, 1, h, tzinfo=UTC) for h in (5, 6, 7, 8)]
    # strings and naive datetimes are UTC; a bound between bars
    out = cat.read_bars("ETHUSDT", "1h", start="2024-01-01T05:30", end=datetime(2024, 1, 1, 8))
    assert out["open_time"].dt.hour().to_list() == [6, 7]
    # non-UTC aware bound is converted
    tz = timezone_plus_2()
    out = cat.read_bars("ETHUSDT", "1h", start=datetime(2024, 1, 2, 20, tzinfo=tz))
    assert out["open_time"].to_list() == [
        datetime(2024, 1, 2, h, tzinfo=UTC) for h in (18, 19, 20, 21, 22, 23)
    ]
    empty = cat.read_bars("ETHUSDT", "1h", start="2030-01-01")
    assert empty.height == 0
    assert empty.schema == cat.read_bars("ETHUSDT", "1h").schema
    assert (
        cat.read_bars("ETHUSDT", "1h", start="2024-01-01T03:00", end="2024-01-01T03:00").height == 0
    )


def timezone_plus_2():
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_partitions_by_year_across_boundary(cat: Catalog) -> None:
    bars = make_bars(datetime(2023, 12, 31, 20, tzinfo=UTC), 10, H)
    report = cat.write_bars(bars, symbol="BTCUSDT", interval="1h")
    assert [p.rsplit("=", 1)[1] for p in report.partitions] == ["2023", "2024"]
    base = Path(cat.root) / "exchange=binance/symbol=BTCUSDT/interval=1h"
    y23 = pl.read_parquet(base / "year=2023/data.parquet")
    y24 = pl.read_parquet(base / "year=2024/data.parquet")
    assert y23.height == 4
    assert y24.height == 6
    assert (y23["open_time"].dt.year() == 2023).all()
    assert (y24["open_time"].dt.year() == 2024).all()
    out = cat.read_bars("BTCUSDT", "1h", start="2023-12-31T22:00", end="2024-01-01T02:00")
    assert out["open_time"].to_list() == [
        datetime(2023, 12, 31, 22, tzinfo=UTC),
        datetime(2023, 12, 31, 23, tzinfo=UTC),
        datetime(2024, 1, 1, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=UTC),
    ]
    # a range inside one year only opens that year's file (the other year can even be broken)
    (base / "year=2023/data.parquet").write_bytes(b"garbage")
    assert cat.read_bars("BTCUSDT", "1h", start="2024-01-01").height == 6


def test_overlapping_imports_merge_incoming_wins(cat: Catalog) -> None:
    a = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 100, H, seed=1)
    b = make_bars(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=50), 100, H, seed=2)
    cat.write_bars(a, symbol="SOLUSDT", interval="1h")
    report = cat.write_bars(b, symbol="SOLUSDT", interval="1h")
    assert (report.rows_in, report.rows_new, report.rows_total) == (100, 50, 150)
    out = cat.read_bars("SOLUSDT", "1h")
    expected = pl.concat([as_utc(a).head(50), as_utc(b)])
    assert out.equals(expected)
    assert out["open_time"].is_unique().all()
    assert out["open_time"].is_sorted()


def test_rows_total_counts_untouched_partitions(cat: Catalog) -> None:
    cat.write_bars(make_bars(datetime(2022, 6, 1, tzinfo=UTC), 30, H), symbol="A", interval="1h")
    report = cat.write_bars(
        make_bars(datetime(2024, 6, 1, tzinfo=UTC), 20, H), symbol="A", interval="1h"
    )
    assert (report.rows_new, report.rows_total, len(report.partitions)) == (20, 50, 1)


def test_repeat_write_is_byte_identical_and_skips_rewrite(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 12, 30, tzinfo=UTC), 100, H)
    cat.write_bars(bars, symbol="BTCUSDT", interval="1h")
    root = Path(cat.root)
    before = files_snapshot(root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("data.parquet")}
    report = cat.write_bars(
        bars.sample(fraction=1.0, shuffle=True, seed=3), symbol="BTCUSDT", interval="1h"
    )
    assert report.partitions == ()
    assert report.rows_new == 0
    assert report.rows_total == 100
    assert files_snapshot(root) == before
    assert {p: p.stat().st_mtime_ns for p in root.rglob("data.parquet")} == mtimes


def test_duplicate_keys_in_incoming_frame_rejected(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, H)
    dup = pl.concat([bars, bars.slice(7, 1)])
    with pytest.raises(DataValidationError, match=r"open_time .* repeats \(first at row 7"):
        cat.write_bars(dup, symbol="X", interval="1h")
    assert not Path(cat.root).exists() or not list(Path(cat.root).rglob("data.parquet"))


def test_missing_column_named(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, H).drop("close")
    with pytest.raises(DataValidationError, match=r"lack required column.*'close'"):
        cat.write_bars(bars, symbol="X", interval="1h")


def test_uncastable_value_names_column_and_row(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, H, full=False)
    bad = bars.with_columns(
        pl.Series("high", [str(v) for v in bars["high"].to_list()[:4]] + ["n/a"] + ["1.0"] * 5)
    )
    with pytest.raises(DataValidationError, match=r"'high'.*'n/a' at row 4"):
        cat.write_bars(bad, symbol="X", interval="1h")
    # numeric strings are castable
    ok = bars.with_columns(pl.col("high").cast(pl.String))
    assert cat.write_bars(ok, symbol="X", interval="1h").rows_new == 10


def test_null_required_value_and_bad_time_column(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, H, full=False)
    nulls = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("low")).alias("low")
    )
    with pytest.raises(DataValidationError, match="'low' is null at row 3"):
        cat.write_bars(nulls, symbol="X", interval="1h")
    micro = bars.with_columns(pl.col("open_time") * 1000)
    with pytest.raises(DataValidationError, match="not epoch milliseconds"):
        cat.write_bars(micro, symbol="X", interval="1h")
    text = bars.with_columns(pl.col("open_time").cast(pl.String))
    with pytest.raises(DataValidationError, match="must be a Datetime"):
        cat.write_bars(text, symbol="X", interval="1h")


def test_unknown_columns_dropped(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 5, H, full=False)
    cat.write_bars(
        bars.with_columns(close_time=pl.col("open_time") + H - 1), symbol="X", interval="1h"
    )
    assert cat.read_bars("X", "1h").columns == list(bars.columns)


def test_optional_columns_union_across_partitions(cat: Catalog) -> None:
    cat.write_bars(
        make_bars(datetime(2023, 12, 31, 22, tzinfo=UTC), 2, H, full=False),
        symbol="X",
        interval="1h",
    )
    cat.write_bars(make_bars(datetime(2024, 1, 1, tzinfo=UTC), 2, H), symbol="X", interval="1h")
    out = cat.read_bars("X", "1h")
    assert out.columns == list(BAR_SCHEMA)
    assert out["quote_volume"].null_count() == 2
    assert out["quote_volume"].slice(2).null_count() == 0


def test_not_found_lists_and_suggests(cat: Catalog) -> None:
    cat.write_bars(
        make_bars(datetime(2024, 1, 1, tzinfo=UTC), 5, H), symbol="BTCUSDT", interval="1h"
    )
    cat.write_bars(
        make_bars(datetime(2024, 1, 1, tzinfo=UTC), 5, H), symbol="ETHUSDT", interval="1h"
    )
    with pytest.raises(NotFoundError, match="did you mean 'BTCUSDT'") as info:
        cat.read_bars("BTCUSDC", "1h")
    assert "binance/ETHUSDT/1h" in str(info.value)
    with pytest.raises(NotFoundError, match=r"BTCUSDT has interval.*1h"):
        cat.read_bars("BTCUSDT", "15m")
    with pytest.raises(NotFoundError, match="catalog is empty"):
        Catalog(Path(cat.root) / "nowhere").read_bars("BTCUSDT", "1h")
    assert isinstance(info.value, LookupError)


def test_invalid_names_rejected(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 5, H)
    with pytest.raises(ConfigError, match="invalid symbol"):
        cat.write_bars(bars, symbol="../etc", interval="1h")
    with pytest.raises(ConfigError, match="invalid interval"):
        cat.write_bars(bars, symbol="X", interval="1hour")
    with pytest.raises(ConfigError, match="unknown trade kind"):
        cat.read_trades("X", kind="ticks")


def test_failed_write_leaves_catalog_unchanged(
    cat: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail after the first partition's temp file is written: nothing is published."""
    first = make_bars(datetime(2023, 12, 31, 0, tzinfo=UTC), 30, H, seed=1)
    cat.write_bars(first, symbol="BTCUSDT", interval="1h")
    root = Path(cat.root)
    before = files_snapshot(root)
    dirs_before = sorted(p for p in root.rglob("*") if p.is_dir())

    real = Catalog._write_temp
    calls = []

    def failing(self: Catalog, folder: Path, content: bytes) -> str:
        calls.append(folder)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, folder, content)

    monkeypatch.setattr(Catalog, "_write_temp", failing)
    # touches 2023 (rewrite), 2024 (rewrite) and 2025 (new folder) -> fails on the second one
    second = make_bars(datetime(2023, 12, 31, 12, tzinfo=UTC), 24 * 400, H, seed=2)
    with pytest.raises(Exception, match="No space left") as info:
        cat.write_bars(second, symbol="BTCUSDT", interval="1h")
    assert "left unchanged" in str(info.value)
    assert len(calls) == 2
    assert files_snapshot(root) == before
    assert not list(root.rglob("*.tmp"))
    assert sorted(p for p in root.rglob("*") if p.is_dir()) == dirs_before
    assert cat.read_bars("BTCUSDT", "1h").equals(as_utc(first))
    monkeypatch.undo()
    report = cat.write_bars(second, symbol="BTCUSDT", interval="1h")
    assert len(report.partitions) == 3


def test_temp_files_invisible_to_readers_and_cleaned(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, H)
    cat.write_bars(bars, symbol="X", interval="1h")
    folder = Path(cat.root) / "exchange=binance/symbol=X/interval=1h/year=2024"
    stale = folder / ".data.parquet.deadbeef.tmp"
    stale.write_bytes(b"half a parquet file")
    (folder.parent / "year=2025").mkdir()
    (folder.parent / "year=2025" / ".data.parquet.0.tmp").write_bytes(b"PAR1")
    assert cat.read_bars("X", "1h").equals(as_utc(bars))
    assert [d.rows for d in cat.datasets()] == [10]
    cat.write_bars(bars.head(1), symbol="X", interval="1h")
    assert not stale.exists()


def test_last_time(cat: Catalog) -> None:
    assert cat.last_time("X", "1h") is None
    cat.write_bars(
        make_bars(datetime(2023, 12, 31, 20, tzinfo=UTC), 10, H), symbol="X", interval="1h"
    )
    assert cat.last_time("X", "1h") == datetime(2024, 1, 1, 5, tzinfo=UTC)


def test_scan_bars_is_lazy(cat: Catalog) -> None:
    cat.write_bars(make_bars(datetime(2024, 1, 1, tzinfo=UTC), 24, H), symbol="X", interval="1h")
    lazy = cat.scan_bars("X", "1h", start="2024-01-01T10:00")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.select(pl.len()).collect().item() == 14


def test_bar_gaps_hand_computed() -> None:
    hours = [0, 1, 4, 5, 7, 8, 9, 15]
    s = pl.Series([datetime(2024, 1, 1, h, tzinfo=UTC) for h in hours])
    # missing: 2,3 | 6 | 10..14 -> 8 slots in 3 holes, largest 5 h
    assert bar_gaps(s, "1h") == (8, 3, timedelta(hours=5))
    assert bar_gaps(s.head(2), "1h") == (0, 0, timedelta(0))
    months = pl.Series(
        [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 5, 6)]
        + [datetime(2025, 1, 1, tzinfo=UTC)]
    )
    # missing Mar, Apr (61 days) and Jul..Dec (184 days)
    assert bar_gaps(months, "1M") == (8, 2, timedelta(days=184))


def test_datasets_reports_gaps(cat: Catalog) -> None:
    bars = make_bars(datetime(2024, 1, 1, tzinfo=UTC), 100, M)
    holes = bars.filter(~pl.int_range(pl.len()).is_in([3, 50, 51, 52, 53, 99]))
    cat.write_bars(holes, symbol="BTCUSDT", interval="1m")
    cat.write_bars(
        make_bars(datetime(2024, 1, 1, tzinfo=UTC), 3, H), symbol="ETHUSDT", interval="1h"
    )
    infos = cat.datasets()
    assert infos[0] == DatasetInfo(
        exchange="binance",
        symbol="BTCUSDT",
        interval="1m",
        first=datetime(2024, 1, 1, tzinfo=UTC),
        last=datetime(2024, 1, 1, 1, 38, tzinfo=UTC),
        rows=94,
        gaps=5,
        largest_gap=timedelta(minutes=4),
        gap_runs=2,
    )
    assert (infos[1].symbol, infos[1].rows, infos[1].gaps) == ("ETHUSDT", 3, 0)
    assert Catalog(Path(cat.root) / "empty").datasets() == []


def make_trades(first_id: int, n: int, t0: datetime):
    rng = np.random.default_rng(first_id)
    base = int(t0.timestamp() * 1_000_000)
    return pl.DataFrame(
        {
            "time": pl.Series(base + np.arange(n) * 1500, dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")
            ),
            "trade_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "price": rng.uniform(100, 101, n),
            "qty": rng.uniform(0.1, 1, n),
            "quote_qty": rng.uniform(10, 100, n),
            "is_buyer_maker": rng.integers(0, 2, n).astype(bool),
        }
    )


def test_trades_round_trip_merge_and_info(cat: Catalog) -> None:
    t0 = datetime(2024, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    a = make_trades(1000, 50, t0)
    b = make_trades(1040, 20, t0 + timedelta(microseconds=40 * 1500))
    cat.write_trades(a, symbol="BTCUSDT")
    report = cat.write_trades(b, symbol="BTCUSDT")
    assert (report.rows_new, report.rows_total) == (10, 60)
    out = cat.read_trades("BTCUSDT")
    assert out["trade_id"].to_list() == list(range(1000, 1060))
    assert out["time"].dtype == pl.Datetime("us", "UTC")
    assert out.slice(40).equals(b)
    assert out.head(40).equals(a.head(40))
    # microsecond precision survives; time bounds work
    later = cat.read_trades("BTCUSDT", start=t0 + timedelta(microseconds=1500))
    assert later.height == 59
    # aggTrades are a separate dataset; a hole in the ids is reported
    cat.write_trades(a.filter(pl.col("trade_id") != 1010), symbol="BTCUSDT", kind="aggTrades")
    infos = {d.interval: d for d in cat.datasets()}
    assert (infos["aggTrades"].rows, infos["aggTrades"].gaps, infos["aggTrades"].gap_runs) == (
        49,
        1,
        1,
    )
    assert infos["trades"].gaps == 0
    assert infos["trades"].largest_gap is None
    assert infos["trades"].first == t0


def test_real_ethusdt_1h_import(shared_data: Path, cat: Catalog) -> None:
    """MANIFEST §2: 43,985 rows, 2021-01-12 08:00 → 2026-01-19 14:00, 14 missing hours in 7 gaps."""
    eth = pl.read_parquet(shared_data / "ETHUSDT-1h.parquet")
    report = cat.write_bars(eth, symbol="ETHUSDT", interval="1h")
    assert report.rows_total == 43_985
    (info,) = cat.datasets()
    assert info.rows == 43_985
    assert info.first == datetime(2021, 1, 12, 8, tzinfo=UTC)
    assert info.last == datetime(2026, 1, 19, 14, tzinfo=UTC)
    assert (info.gaps, info.gap_runs, info.largest_gap) == (14, 7, timedelta(hours=4))
    out = cat.read_bars("ETHUSDT", "1h")
    assert out.equals(as_utc(eth))
    again = cat.write_bars(eth, symbol="ETHUSDT", interval="1h")
    assert (again.rows_new, again.partitions) == (0, ())


KILL_WRITER = """
import os, sys, time
import polars as pl
from quantforge.data import catalog as catalog_module
from quantforge.data.catalog import Catalog

root, new_frame, mode = sys.argv[1], sys.argv[2], sys.argv[3]

def hang(message):
    print(message, flush=True)
    time.sleep(60)  # the parent kills us here

if mode == "temp":  # a slow disk: die with the second partition's temp file half written
    calls = []
    def slow_write_temp(self, folder, content):
        calls.append(folder)
        if len(calls) < 2:
            return real_write_temp(self, folder, content)
        temp = folder / ".data.parquet.killed.tmp"
        with open(temp, "wb") as handle:
            handle.write(content[: len(content) // 2])
            handle.flush()
            hang("writing")
    real_write_temp = Catalog._write_temp
    Catalog._write_temp = slow_write_temp
else:  # die between publishing the first and the second partition
    real_replace = os.replace
    def replace_then_hang(src, dst):
        real_replace(src, dst)
        hang("renamed")
    catalog_module.os.replace = replace_then_hang

Catalog(root).write_bars(pl.read_parquet(new_frame), symbol="BTCUSDT", interval="1m")
"""


@pytest.mark.parametrize("mode", ["temp", "rename"])
def test_killed_writer_never_leaves_a_corrupt_partition(tmp_path: Path, mode: str) -> None:
    """SIGKILL a writer mid-write: every partition stays a complete old or new version."""
    a = make_bars(datetime(2023, 12, 20, tzinfo=UTC), 40_000, M, seed=1)
    b = a.with_columns(pl.col("close") + 1.0)
    b.write_parquet(tmp_path / "b.parquet")
    root = tmp_path / "cat"
    cat = Catalog(root)
    cat.write_bars(a, symbol="BTCUSDT", interval="1m")
    before = files_snapshot(root)
    with subprocess.Popen(
        [sys.executable, "-c", KILL_WRITER, str(root), str(tmp_path / "b.parquet"), mode],
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert line == {"temp": b"writing", "rename": b"renamed"}[mode]
    versions = []
    for year in (2023, 2024):
        part = cat.read_bars("BTCUSDT", "1m", start=f"{year}-01-01", end=f"{year + 1}-01-01")
        in_year = pl.col("open_time").dt.year() == year
        if part.equals(as_utc(a).filter(in_year)):
            versions.append("old")
        else:
            assert part.equals(as_utc(b).filter(in_year))
            versions.append("new")
    if mode == "temp":
        # nothing was published; the half-written temp file is invisible to readers
        assert versions == ["old", "old"]
        assert list(root.rglob("*.tmp"))
        assert files_snapshot(root) == {
            **before,
            **{str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.tmp")},
        }
    else:
        assert versions == ["new", "old"]  # one partition published, the other untouched
    assert cat.datasets()[0].rows == 40_000
    # running the same import again completes it and removes the dead writer's temp files
    cat.write_bars(b, symbol="BTCUSDT", interval="1m")
    assert cat.read_bars("BTCUSDT", "1m").equals(as_utc(b))
    assert not list(root.rglob("*.tmp"))


def test_real_btcusdt_15m_gaps(shared_data: Path, cat: Catalog) -> None:
    """MANIFEST §1: 290,107 rows, 565 missing 15m slots in 33 gaps, largest 134 slots."""
    btc = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet")
    cat.write_bars(btc, symbol="BTCUSDT", interval="15m")
    (info,) = cat.datasets()
    assert (info.rows, info.gaps, info.gap_runs) == (290_107, 565, 33)
    assert info.largest_gap == timedelta(minutes=15 * 134)
    assert info.first == datetime(2017, 8, 17, 4, tzinfo=UTC)
    assert info.last == datetime(2025, 11, 30, 23, 45, tzinfo=UTC)
    # first 1m-derived bar of 2020 opens at the first 1m bar's open (MANIFEST example fact)
    bar = cat.read_bars("BTCUSDT", "15m", start="2020-01-01", end="2020-01-01T00:15")
    assert bar["open"].to_list() == [7195.24]
