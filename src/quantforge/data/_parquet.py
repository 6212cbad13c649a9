"""How catalog partitions are encoded in Parquet, and how they are read back fast (pyarrow).

Writer layout (`partition_bytes`), chosen by measurement (docs/benchmarks.md, "Catalog layout"):

* zstd at level -1 (zstd's fast mode): on the 2025 BTCUSDT 1m partition the price columns
  decode ~2.3x faster than at level 1 for ~20 % more bytes in those columns (the file grows
  8 %); levels 3-9 shrink it < 1 % more at up to 2.5x the write time;
* no dictionary pages (prices are high-cardinality floats);
* ``BYTE_STREAM_SPLIT`` for float columns: the 8 bytes of each value go to 8 streams, so zstd
  sees near-constant streams (sign, exponent, high mantissa) it compresses to almost nothing and
  noise streams it stores raw — both decode far faster than interleaved doubles, and the write
  is faster too;
* ``DELTA_BINARY_PACKED`` for integer and timestamp columns: a regular time grid packs to a few
  bits per row, trade ids and counts to a few bits each;
* row groups of `ROW_GROUP_SIZE` rows with min/max statistics, so a short time range skips most
  of a year.

The reader (`read_partitions`) depends on none of these options: it reads any Parquet file,
including partitions written by older quantforge versions (Polars' writer, plain encodings), and
prunes row groups by the statistics of the time column when they are present.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

#: rows per Parquet row group: ~45 days of 1m bars, so a short time range skips most of a year
ROW_GROUP_SIZE: Final = 65_536
#: zstd level of catalog partitions (see the module docstring for why -1)
ZSTD_LEVEL: Final = -1
#: uncompressed bytes per data page (pyarrow's default, stated so the layout is explicit)
DATA_PAGE_SIZE: Final = 1 << 20

Source = str | io.BytesIO
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS: Final = {
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
    "us": timedelta(microseconds=1),
}


def partition_bytes(frame: pl.DataFrame) -> bytes:
    """Serialise one catalog partition to Parquet bytes in the catalog layout.

    The output depends only on the frame's schema and values (not on how its memory is
    chunked), so writing equal content twice gives byte-identical files.

    Parameters
    ----------
    frame
        The partition's rows in the canonical schema, sorted by key.

    Returns
    -------
    bytes
        A complete Parquet file.

    Examples
    --------
    >>> frame = pl.DataFrame({"x": [1.5, 2.5]})
    >>> partition_bytes(frame)[:4]
    b'PAR1'
    """
    # one chunk per column: pyarrow's page boundaries follow chunk boundaries otherwise
    table = frame.rechunk().to_arrow()
    encodings: dict[str, str] = {}
    for field in table.schema:
        if pa.types.is_floating(field.type):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
        elif pa.types.is_integer(field.type) or pa.types.is_timestamp(field.type):
            encodings[field.name] = "DELTA_BINARY_PACKED"
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_SIZE,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=False,
        column_encoding=encodings or None,
        data_page_size=DATA_PAGE_SIZE,
        write_statistics=True,
    )
    return bytes(sink.getvalue())


def read_partitions(
    sources: Sequence[Source],
    time: str,
    lo: datetime | None,
    hi: datetime | None,
    *,
    sorted_by_time: bool,
) -> pl.DataFrame:
    """Read catalog partition files, keeping rows with ``lo <= time < hi``.

    Parameters
    ----------
    sources
        Local paths or in-memory files (objects fetched from remote storage), in key order.
    time
        The time column; row groups whose statistics lie outside the range are not read.
    lo, hi
        Inclusive lower and exclusive upper bound (aware UTC datetimes), ``None`` for open.
    sorted_by_time
        The files are sorted by ``time`` and follow each other in time (bars): the range is
        cut by binary search instead of a filter. Verified, falling back to a filter if not.

    Returns
    -------
    polars.DataFrame
        The union of the files' columns in first-seen order; a column a file lacks is null
        in its rows. Sorted by ``time`` when ``sorted_by_time``.

    Examples
    --------
    >>> frame = pl.DataFrame({"t": [1, 2, 3]})
    >>> read_partitions([io.BytesIO(partition_bytes(frame))], "t", None, None,
    ...                 sorted_by_time=True).height
    3
    """
    frames: list[pl.DataFrame] = []
    for source in sources:
        if isinstance(source, io.BytesIO):
            source.seek(0)
        # no memory map (the decoded frame would keep the file mapped, pinning a file a later
        # write replaces); no pre-buffering either: reading column chunks on demand is cheaper
        # for local files (-8 % CPU measured) and the remote ones are already in memory
        with pq.ParquetFile(source, pre_buffer=False) as parquet:
            groups = _row_groups(parquet, time, lo, hi)
            if groups is None:
                table = parquet.read(use_threads=True)
            elif groups:
                table = parquet.read_row_groups(groups, use_threads=True)
            else:
                table = parquet.schema_arrow.empty_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame)
    if len(frames) == 1:
        out = frames[0]
    elif all(f.schema == frames[0].schema for f in frames):
        out = pl.concat(frames)
    else:
        out = pl.concat(frames, how="diagonal_relaxed")
    if lo is None and hi is None:
        return out.set_sorted(time) if sorted_by_time and _is_sorted(out, time) else out
    if sorted_by_time and _is_sorted(out, time):
        physical = out.get_column(time).to_physical()
        start = 0 if lo is None else int(physical.search_sorted(_epoch(lo, out, time), "left"))
        end = (
            out.height if hi is None else int(physical.search_sorted(_epoch(hi, out, time), "left"))
        )
        return out.slice(start, max(end - start, 0)).set_sorted(time)
    column = pl.col(time)
    if lo is not None:
        out = out.filter(column >= pl.lit(lo).cast(out.schema[time]))
    if hi is not None:
        out = out.filter(column < pl.lit(hi).cast(out.schema[time]))
    return out


def _is_sorted(frame: pl.DataFrame, time: str) -> bool:
    series = frame.get_column(time)
    return series.null_count() == 0 and series.is_sorted()


def _epoch(value: datetime, frame: pl.DataFrame, time: str) -> int:
    """Return ``value`` as an integer in the physical unit of the frame's time column."""
    dtype = frame.schema[time]
    return int(pl.select(pl.lit(value).cast(dtype).to_physical()).item())


def _floor_epoch(value: datetime, unit: str) -> int:
    """Return an aware datetime as an integer count of ``unit`` since the epoch, rounded down."""
    delta = value - _EPOCH
    if unit == "ns":
        return (delta // timedelta(microseconds=1)) * 1000
    return delta // _UNITS[unit]


def _row_groups(
    parquet: pq.ParquetFile, time: str, lo: datetime | None, hi: datetime | None
) -> list[int] | None:
    """Return the row groups that may hold rows in [lo, hi), or None to read all of them."""
    if lo is None and hi is None:
        return None
    schema = parquet.schema_arrow
    index = schema.get_field_index(time)
    field_type = schema.field(index).type if index >= 0 else None
    if field_type is None or not pa.types.is_timestamp(field_type):
        return None
    lo_raw = None if lo is None else _floor_epoch(lo, field_type.unit)
    hi_raw = None if hi is None else _floor_epoch(hi, field_type.unit)
    metadata = parquet.metadata
    keep: list[int] = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            keep.append(group)
            continue
        low, high = stats.min_raw, stats.max_raw
        if not isinstance(low, int) or not isinstance(high, int):
            keep.append(group)
            continue
        # bounds are floored to the column's unit, so this never skips a group holding a match
        if (hi_raw is not None and low > hi_raw) or (lo_raw is not None and high < lo_raw):
            continue
        keep.append(group)
    return None if len(keep) == metadata.num_row_groups else keep
