"""The catalog's Parquet layout and its pyarrow read path (quantforge.data._parquet).

Guards the performance work of issue 2: the new writer options must not change what
``read_bars``/``read_trades`` return, and catalogs written by the old (Polars) writer must read
the same and merge correctly.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from quantforge.data import _parquet
from quantforge.data._parquet import partition_bytes, read_partitions
from quantforge.data._rows import split_years
from quantforge.data.catalog import Catalog
from quantforge.data.schema import BAR_SCHEMA

M = 60_000
H = 3_600_000


def minute_bars(start: datetime, n: int, *, seed: int = 7, full: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1000)
    close = np.round(30_000 + np.cumsum(rng.normal(0, 5, n)), 2)
    open_ = np.concatenate([[close[0]], close[:-1]])
    cols: dict[str, object] = {
        "open_time": t0 + M * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": np.maximum(open_, close) + 0.5,
        "low": np.minimum(open_, close) - 0.5,
        "close": close,
        "volume": np.round(rng.uniform(0, 50, n), 5),
    }
    if full:
        cols |= {
            "quote_volume": np.round(rng.uniform(0, 1e6, n), 7),
            "trades": rng.integers(0, 5000, n),
            "taker_buy_base": np.round(rng.uniform(0, 20, n), 5),
            "taker_buy_quote": np.round(rng.uniform(0, 5e5, n), 7),
        }
    return pl.DataFrame(cols).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


def old_writer(frame: pl.DataFrame, path: Path) -> None:
    """What Catalog wrote before the pyarrow writer (Polars zstd default, 65,536-row groups)."""
    frame.write_parquet(path, compression="zstd", statistics=True, row_group_size=65_536)


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    # many row groups from little data, so pruning at group edges is exercised
    monkeypatch.setattr(_parquet, "ROW_GROUP_SIZE", 97)


def files(root: str | Path) -> dict[int, Path]:
    return {int(p.parent.name[5:]): p for p in Path(root).rglob("year=*/data.parquet")}


RANGES = [
    (None, None),
    ("2023-12-31T23:00", None),
    (None, "2024-01-01T00:30"),
    ("2023-12-31T23:58:30", "2024-01-01T00:00:00.000500"),  # bounds between bars
    (datetime(2024, 1, 1, 0, 1, 0, 999, tzinfo=UTC), "2024-01-01T01:00"),  # sub-ms bound
    ("2024-01-01T00:07", "2024-01-01T00:07"),  # empty
    ("2023-12-31T21:00", "2024-01-01T03:00"),
    ("2030-01-01", None),
    (None, "2000-01-01"),
]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_read_bars_equals_the_lazy_polars_scan(
    tmp_path: Path, small_groups: None, start: object, end: object
) -> None:
    bars = minute_bars(datetime(2023, 12, 31, 20, tzinfo=UTC), 600)
    cat = Catalog(tmp_path / "c")
    cat.write_bars(bars, symbol="BTCUSDT", interval="1m")
    assert pq.ParquetFile(files(cat.root)[2024]).metadata.num_row_groups > 3
    fast = cat.read_bars("BTCUSDT", "1m", start=start, end=end)  # type: ignore[arg-type]
    lazy = cat.scan_bars("BTCUSDT", "1m", start=start, end=end).collect()  # type: ignore[arg-type]
    assert fast.schema == pl.Schema(BAR_SCHEMA)
    assert fast.equals(lazy)
    assert fast["open_time"].is_sorted()


def test_old_layout_catalog_reads_identically_and_merges(tmp_path: Path) -> None:
    bars = minute_bars(datetime(2023, 12, 31, 22, tzinfo=UTC), 300)
    new = Catalog(tmp_path / "new")
    new.write_bars(bars, symbol="BTCUSDT", interval="1m")
    old = Catalog(tmp_path / "old")
    old.write_bars(bars, symbol="BTCUSDT", interval="1m")
    for year, path in files(old.root).items():  # replace every partition by an old-layout file
        old_writer(bars.filter(pl.col("open_time").dt.year() == year), path)
    assert pq.ParquetFile(next(iter(files(old.root).values()))).metadata.created_by.startswith(
        "Polars"
    )
    for start, end in RANGES:
        a = old.read_bars("BTCUSDT", "1m", start=start, end=end)  # type: ignore[arg-type]
        b = new.read_bars("BTCUSDT", "1m", start=start, end=end)  # type: ignore[arg-type]
        assert a.schema == b.schema == pl.Schema(BAR_SCHEMA)
        assert a.equals(b)
    # the old reader (a plain Polars read of the files) agrees with the new one
    plain = pl.concat([pl.read_parquet(p) for _y, p in sorted(files(old.root).items())])
    assert old.read_bars("BTCUSDT", "1m").equals(plain)
    # re-importing unchanged rows leaves old-layout files byte-identical
    before = {y: p.read_bytes() for y, p in files(old.root).items()}
    report = old.write_bars(bars.tail(50), symbol="BTCUSDT", interval="1m")
    assert report.partitions == ()
    assert {y: p.read_bytes() for y, p in files(old.root).items()} == before
    # a real change rewrites the touched partition in the new layout; the incoming row wins
    changed = bars.tail(1).with_columns(pl.col("close") + 1.0, pl.col("high") + 1.0)
    old.write_bars(changed, symbol="BTCUSDT", interval="1m")
    expected = pl.concat([bars.head(bars.height - 1), changed])
    assert old.read_bars("BTCUSDT", "1m").equals(expected)
    assert files(old.root)[2023].read_bytes() == before[2023]
    assert pq.ParquetFile(files(old.root)[2024]).metadata.created_by.startswith("parquet-cpp")


def test_partition_layout(tmp_path: Path) -> None:
    bars = minute_bars(datetime(2024, 3, 1, tzinfo=UTC), 70_000)
    cat = Catalog(tmp_path / "c")
    cat.write_bars(bars, symbol="BTCUSDT", interval="1m")
    meta = pq.ParquetFile(files(cat.root)[2024]).metadata
    assert meta.num_rows == 70_000
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [65_536, 4_464]
    group = meta.row_group(0)
    for i in range(group.num_columns):
        column = group.column(i)
        assert column.compression == "ZSTD"
        assert not column.has_dictionary_page
        expected = (
            "BYTE_STREAM_SPLIT" if column.physical_type == "DOUBLE" else "DELTA_BINARY_PACKED"
        )
        assert expected in column.encodings, (column.path_in_schema, column.encodings)
        assert column.statistics is not None
        assert column.statistics.has_min_max


def test_partition_bytes_ignore_memory_chunks() -> None:
    bars = minute_bars(datetime(2024, 3, 1, tzinfo=UTC), 5_000)
    chunked = pl.concat([bars.slice(0, 1_234), bars.slice(1_234, 2_000), bars.slice(3_234)])
    assert chunked.n_chunks() > 1
    assert partition_bytes(chunked) == partition_bytes(bars)


def test_read_partitions_mixed_columns_and_memory_sources() -> None:
    a = minute_bars(datetime(2023, 12, 31, 23, 50, tzinfo=UTC), 10, full=False)
    b = minute_bars(datetime(2024, 1, 1, tzinfo=UTC), 10, seed=3)
    sources = [io.BytesIO(partition_bytes(a)), io.BytesIO(partition_bytes(b))]
    out = read_partitions(sources, "open_time", None, None, sorted_by_time=True)
    assert out.columns == list(BAR_SCHEMA)
    assert out.head(10)["quote_volume"].null_count() == 10
    assert out.tail(10).equals(b)
    lo = datetime(2023, 12, 31, 23, 55, tzinfo=UTC)
    hi = datetime(2024, 1, 1, 0, 3, tzinfo=UTC)
    cut = read_partitions(sources, "open_time", lo, hi, sorted_by_time=True)
    assert cut["open_time"].to_list() == [lo + timedelta(minutes=i) for i in range(8)]


def test_read_partitions_unsorted_file_falls_back_to_a_filter() -> None:
    bars = minute_bars(datetime(2024, 1, 1, tzinfo=UTC), 50)
    shuffled = bars.sample(fraction=1.0, shuffle=True, seed=1)
    source = io.BytesIO(partition_bytes(shuffled))
    lo = datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    hi = datetime(2024, 1, 1, 0, 20, tzinfo=UTC)
    out = read_partitions([source], "open_time", lo, hi, sorted_by_time=True)
    expected = shuffled.filter((pl.col("open_time") >= lo) & (pl.col("open_time") < hi))
    assert out.equals(expected)


def test_split_years_sorted_and_unsorted() -> None:
    times = [datetime(2022, 12, 31, 23, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)]
    times += [datetime(2024, 6, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)]
    frame = pl.DataFrame({"t": times, "x": [0, 1, 2, 3]}).with_columns(
        pl.col("t").cast(pl.Datetime("ms", "UTC"))
    )
    for f in (frame, frame.reverse()):
        parts = split_years(f, "t")
        assert list(parts) == [2022, 2024, 2026]
        assert sorted(parts[2024]["x"].to_list()) == [1, 2]
        assert sum(p.height for p in parts.values()) == 4
    assert split_years(frame.clear(), "t") == {}


def test_trades_read_sorted_by_id_and_filtered(tmp_path: Path, small_groups: None) -> None:
    n = 1_000
    rng = np.random.default_rng(5)
    times = 1_704_067_200_000_000 + np.sort(rng.integers(0, 3_600_000_000, n))  # 2024-01-01, µs
    trades = pl.DataFrame(
        {
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "trade_id": np.arange(n, dtype=np.int64)[::-1].copy(),  # ids run against time
            "price": rng.uniform(1, 2, n),
            "qty": rng.uniform(0, 1, n),
            "is_buyer_maker": rng.random(n) < 0.5,
        }
    )
    cat = Catalog(tmp_path / "c")
    cat.write_trades(trades, symbol="BTCUSDT")
    lo = datetime(2024, 1, 1, 0, 10, 0, 123, tzinfo=UTC)
    out = cat.read_trades("BTCUSDT", start=lo, end="2024-01-01T00:40")
    lazy_expected = trades.filter(
        (pl.col("time") >= lo) & (pl.col("time") < datetime(2024, 1, 1, 0, 40, tzinfo=UTC))
    ).sort("trade_id")
    assert out.equals(lazy_expected)
    assert out.height > 0
