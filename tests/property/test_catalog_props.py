"""Property tests of catalog writes: idempotent, order-free without key clashes, a keyed union."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantforge.data import _parquet
from quantforge.data.catalog import Catalog

H = 3_600_000
# keys are hours from 2023-12-31 00:00 UTC, so frames straddle a year (= partition) boundary
T0 = int(datetime(2023, 12, 31, tzinfo=UTC).timestamp() * 1000)

rows = st.dictionaries(
    keys=st.integers(0, 60),
    values=st.floats(1.0, 1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(data: dict[int, float]) -> pl.DataFrame:
    hours = sorted(data)
    price = [data[h] for h in hours]
    return pl.DataFrame(
        {
            "open_time": [T0 + h * H for h in hours],
            "open": price,
            "high": [p * 1.01 for p in price],
            "low": [p * 0.99 for p in price],
            "close": price,
            "volume": [float(h) for h in hours],
        }
    ).sample(fraction=1.0, shuffle=True, seed=len(hours))  # input order must not matter


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("data.parquet"))}


def written(*frames: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(tmp)
        for f in frames:
            cat.write_bars(f, symbol="BTCUSDT", interval="1h")
        return cat.read_bars("BTCUSDT", "1h"), snapshot(Path(tmp))


@SETTINGS
@given(a=rows)
def test_writing_twice_equals_writing_once(a: dict[int, float]) -> None:
    once, files_once = written(frame(a))
    twice, files_twice = written(frame(a), frame(a))
    assert twice.equals(once)
    assert files_twice == files_once  # byte-identical partitions


@SETTINGS
@given(a=rows, b=rows)
def test_disjoint_writes_commute(a: dict[int, float], b: dict[int, float]) -> None:
    b = {k: v for k, v in b.items() if k not in a}
    frames_b = [frame(b)] if b else []
    ab, files_ab = written(frame(a), *frames_b)
    ba, files_ba = written(*frames_b, frame(a))
    assert ab.equals(ba)
    assert files_ab == files_ba


@SETTINGS
@given(a=rows, b=rows)
def test_merge_is_a_keyed_union_where_the_later_write_wins(
    a: dict[int, float], b: dict[int, float]
) -> None:
    out, _ = written(frame(a), frame(b))
    expected = {**a, **b}  # plain-Python oracle: later write wins on a clash
    hours = sorted(expected)
    assert out["open_time"].dt.epoch("ms").to_list() == [T0 + h * H for h in hours]
    assert out["close"].to_list() == [expected[h] for h in hours]
    assert out["open_time"].is_unique().all()
    assert out.schema["close"] == pl.Float64


def _bound(minutes: float | None) -> datetime | None:
    return (
        None
        if minutes is None
        else datetime(2023, 12, 31, 20, tzinfo=UTC) + timedelta(minutes=minutes)
    )


bounds = st.one_of(st.none(), st.floats(-30, 700, allow_nan=False))


@SETTINGS
@given(lo=bounds, hi=bounds, group=st.integers(1, 200))
def test_read_range_matches_a_filter_of_everything(
    lo: float | None, hi: float | None, group: int
) -> None:
    # any row-group size, any bounds (sub-millisecond ones too): pruning and the binary-search
    # cut of the read path return exactly what a plain filter of all rows returns
    bars = pl.DataFrame(
        {
            "open_time": [T0 + 20 * H + m * 60_000 for m in range(600)],
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": [1.0 + m for m in range(600)],
            "volume": 1.0,
        }
    ).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    start, end = _bound(lo), _bound(hi)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_parquet, "ROW_GROUP_SIZE", group)
        cat = Catalog(tmp)
        cat.write_bars(bars, symbol="BTCUSDT", interval="1m")
        out = cat.read_bars("BTCUSDT", "1m", start=start, end=end)
    expected = bars
    if start is not None:
        expected = expected.filter(
            pl.col("open_time") >= pl.lit(start).cast(pl.Datetime("ms", "UTC"))
        )
    if end is not None:
        expected = expected.filter(pl.col("open_time") < pl.lit(end).cast(pl.Datetime("ms", "UTC")))
    assert out.equals(expected)
