"""Rows of catalog writes: the stored kinds, validating an incoming frame, merging partitions.

Split from `quantforge.data.catalog` (which owns storage, locking and publication).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import polars as pl

from quantforge.data.schema import (
    BAR_SCHEMA,
    BAR_TIME,
    REQUIRED_BAR_COLUMNS,
    REQUIRED_TRADE_COLUMNS,
    TRADE_SCHEMA,
    TRADE_TIME,
)
from quantforge.errors import DataValidationError

log = logging.getLogger("quantforge.data.catalog")  # messages read as the catalog's

# integers above this in a time column are not epoch milliseconds (1e14 ms is the year 5138)
_MAX_EPOCH_MS: Final = 100_000_000_000_000


@dataclass(frozen=True, slots=True)
class Kind:
    """How one family of frames (bars or tick data) is stored."""

    schema: Mapping[str, pl.DataType]
    required: tuple[str, ...]
    time: str
    key: str
    label: str


BARS: Final = Kind(BAR_SCHEMA, REQUIRED_BAR_COLUMNS, BAR_TIME, BAR_TIME, "bars")
TRADES: Final = Kind(TRADE_SCHEMA, REQUIRED_TRADE_COLUMNS, TRADE_TIME, "trade_id", "trades")


def _first_row(frame: pl.DataFrame, mask: pl.Expr) -> int:
    hit = frame.lazy().with_row_index("__row").filter(mask).select("__row").head(1).collect()
    return int(hit.item()) if hit.height else -1


def conform(frame: pl.DataFrame, kind: Kind, what: str) -> pl.DataFrame:
    """Validate and cast an incoming frame to the canonical schema (columns in schema order)."""
    missing = [c for c in kind.required if c not in frame.columns]
    if missing:
        msg = (
            f"{what} lack required column(s) {', '.join(map(repr, missing))}; columns present: "
            f"{frame.columns}; rename them to the quantforge.data.schema names "
            f"({', '.join(kind.required)})"
        )
        raise DataValidationError(msg)
    dropped = [c for c in frame.columns if c not in kind.schema]
    if dropped:
        log.warning("%s: dropping column(s) the catalog does not store: %s", what, dropped)
    columns: list[pl.Series] = []
    for name, dtype in kind.schema.items():
        if name not in frame.columns:
            continue
        series = frame.get_column(name)
        if name == kind.time:
            series = _cast_time(frame, series, dtype, what)
        else:
            try:
                series = series.cast(dtype, strict=True)
            except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
                row = _first_row(
                    frame,
                    pl.col(name).is_not_null() & pl.col(name).cast(dtype, strict=False).is_null(),
                )
                bad = frame.get_column(name)[row] if row >= 0 else "?"
                msg = (
                    f"{what}: column {name!r} ({series.dtype}) cannot be cast to {dtype}; first "
                    f"bad value {bad!r} at row {row}; fix or drop that column before writing"
                )
                raise DataValidationError(msg) from exc
        columns.append(series)
    out = pl.DataFrame(columns)
    for name in kind.required:
        if out.get_column(name).null_count() == 0:
            continue
        row = _first_row(out, pl.col(name).is_null())
        msg = f"{what}: required column {name!r} is null at row {row}; drop or fill that row"
        raise DataValidationError(msg)
    if not _strictly_increasing(out.get_column(kind.key)) and not (
        out.get_column(kind.key).is_unique().all()
    ):
        dup = _first_row(out, pl.col(kind.key).is_duplicated())
        value = out.get_column(kind.key)[dup]
        count = int(out.get_column(kind.key).is_duplicated().sum())
        msg = (
            f"{what}: {kind.key} {value} repeats (first at row {dup}, {count} rows share a key); "
            f"keep one row per {kind.key} (e.g. frame.unique({kind.key!r}, keep='last')) "
            "and write again"
        )
        raise DataValidationError(msg)
    return out


def _cast_time(frame: pl.DataFrame, series: pl.Series, dtype: pl.DataType, what: str) -> pl.Series:
    name = series.name
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            series = series.dt.replace_time_zone("UTC")
        else:
            series = series.dt.convert_time_zone("UTC")
        return series.cast(dtype)
    if series.dtype == pl.Date:
        return series.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(dtype)
    if series.dtype.is_integer():
        if series.len() and (series.abs().max() or 0) >= _MAX_EPOCH_MS:  # type: ignore[operator]
            row = _first_row(frame, pl.col(name).abs() >= _MAX_EPOCH_MS)
            msg = (
                f"{what}: {name!r} value {series[row]} at row {row} is not epoch milliseconds "
                "(microseconds?); convert the column to Datetime('us', 'UTC') before writing"
            )
            raise DataValidationError(msg)
        return series.cast(pl.Int64).cast(pl.Datetime("ms", "UTC")).cast(dtype)
    msg = (
        f"{what}: column {name!r} has type {series.dtype}; it must be a Datetime or integer epoch "
        "milliseconds (parse strings with pl.col(...).str.to_datetime(time_zone='UTC'))"
    )
    raise DataValidationError(msg)


def _strictly_increasing(series: pl.Series) -> bool:
    # O(n) without hashing: sorted input (the usual case) proves uniqueness cheaply
    physical = series.to_physical()
    return series.len() < 2 or bool((physical.slice(1) > physical.slice(0, series.len() - 1)).all())


def split_years(frame: pl.DataFrame, time: str) -> dict[int, pl.DataFrame]:
    """Return {year: rows} in ascending years; zero-copy slices when ``time`` is sorted."""
    if frame.height == 0:
        return {}
    times = frame.get_column(time)
    if times.null_count() or not times.is_sorted():
        years = times.dt.year()
        return {y: frame.filter(years == y) for y in sorted(years.unique().to_list())}
    # sorted: cut at each 1 January by binary search instead of computing a year per row
    first, last = times[0].year, times[-1].year
    starts = pl.Series([datetime(y, 1, 1, tzinfo=UTC) for y in range(first + 1, last + 1)])
    cuts = times.search_sorted(starts.cast(times.dtype), "left").to_list()
    bounds = [0, *cuts, frame.height]
    return {
        first + i: frame.slice(start, end - start)
        for i, (start, end) in enumerate(itertools.pairwise(bounds))
        if end > start
    }


def _strictly_after(later: pl.DataFrame, earlier: pl.DataFrame, key: str) -> bool:
    pair = pl.concat(
        [earlier.select(pl.col(key).max().alias("k")), later.select(pl.col(key).min().alias("k"))]
    )
    return bool(pair.select(pl.col("k").is_sorted() & pl.col("k").is_unique().all()).item())


def merge(existing: pl.DataFrame | None, incoming: pl.DataFrame, kind: Kind) -> pl.DataFrame:
    """Union stored and incoming rows, the incoming row winning on a key clash, sorted by key."""
    if existing is None:
        merged = incoming
    elif existing.height and _strictly_after(incoming, existing, kind.key):
        # the common sync case: strictly newer rows are appended, no key can clash
        merged = pl.concat([existing, incoming], how="diagonal_relaxed")
    else:
        kept = existing.join(incoming.select(kind.key), on=kind.key, how="anti")
        merged = pl.concat([kept, incoming], how="diagonal_relaxed")
    order = [c for c in kind.schema if c in merged.columns]
    merged = merged.select(order)
    # a sort of sorted data still costs a pass with a copy; checking is far cheaper
    key = merged.get_column(kind.key)
    if key.null_count() == 0 and key.is_sorted():
        return merged.set_sorted(kind.key)
    return merged.sort(kind.key)
