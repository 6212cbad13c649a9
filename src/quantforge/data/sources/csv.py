"""Import bars or trades from any CSV or Parquet file, with a column mapping.

Column names are matched in three steps: the explicit ``mapping`` (source name → canonical name,
e.g. ``{"timestamp": "open_time", "Open": "open"}``), then the canonical name itself
(case-insensitive), then a short list of common aliases (``timestamp``, ``date``, ``vol``, ...).
A required column that is still missing is an error listing what the file has and the closest
names.

Timestamps may be epoch numbers — seconds, milliseconds, microseconds or nanoseconds, detected by
magnitude (< 10^11 s, < 10^14 ms, < 10^17 µs, else ns; a column mixing magnitudes is rejected) —
ISO-8601 strings, or Datetime/Date columns. Values without a UTC offset are wall times in ``tz``
(default UTC) and are converted to UTC; DST-ambiguous or non-existent wall times are errors.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from quantforge.data.schema import (
    BAR_SCHEMA,
    BAR_TIME,
    REQUIRED_BAR_COLUMNS,
    REQUIRED_TRADE_COLUMNS,
    TRADE_SCHEMA,
    TRADE_TIME,
)
from quantforge.errors import ConfigError, DataFormatError

log = logging.getLogger(__name__)

__all__ = ["TABLE_KINDS", "parse_timestamps", "read_table"]

#: what a table holds: bars (klines) or trades
TABLE_KINDS: Final = ("bars", "trades")

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "open_time": ("timestamp", "time", "date", "datetime", "open time", "opentime", "ts", "t"),
    "open": ("o",),
    "high": ("h",),
    "low": ("l",),
    "close": ("c", "price_close"),
    "volume": ("vol", "v", "base_volume"),
    "quote_volume": ("quote_asset_volume", "quote volume", "amount", "turnover"),
    "trades": ("count", "number_of_trades", "num_trades", "n_trades", "trade_count"),
    "taker_buy_base": ("taker_buy_volume", "taker_buy_base_asset_volume"),
    "taker_buy_quote": ("taker_buy_quote_volume", "taker_buy_quote_asset_volume"),
    "time": ("timestamp", "trade_time", "datetime", "date", "ts"),
    "trade_id": ("id", "tradeid", "agg_trade_id"),
    "price": ("p",),
    "qty": ("quantity", "size", "amount", "q", "base_qty"),
    "quote_qty": ("quoteqty", "quote_quantity", "notional"),
    "is_buyer_maker": ("isbuyermaker", "buyer_maker", "m"),
    "is_best_match": ("isbestmatch",),
}
# epoch magnitude bounds: below 1e11 seconds, 1e14 ms, 1e17 µs, else ns
_BOUNDS: Final = ((10**11, "s", 1_000_000), (10**14, "ms", 1_000), (10**17, "us", 1))


def read_table(
    path: str | os.PathLike[str],
    *,
    kind: str = "bars",
    mapping: Mapping[str, str] | None = None,
    tz: str | None = None,
) -> pl.DataFrame:
    """Read a CSV (optionally ``.gz``) or Parquet file of bars or trades into the canonical schema.

    Parameters
    ----------
    path
        ``.csv``, ``.csv.gz``, ``.txt``, ``.tsv`` or ``.parquet`` file.
    kind
        ``"bars"`` or ``"trades"``.
    mapping
        Source column name → canonical name (`quantforge.data.schema`), e.g.
        ``{"timestamp": "open_time", "Volume BTC": "volume"}``.
    tz
        Time zone of naive wall-clock timestamps (e.g. ``"America/New_York"``); default UTC.

    Returns
    -------
    polars.DataFrame
        Canonical columns only (others are dropped and logged), time as UTC Datetime
        (``ms`` for bars, ``us`` for trades).

    Raises
    ------
    DataFormatError
        Missing required columns (with close matches), unparseable values (row and column named),
        mixed epoch units, ambiguous wall times.
    ConfigError
        Unknown kind, or a mapping that names a column the file lacks.

    Examples
    --------
    >>> bars = read_table("spy.csv", mapping={"Date": "open_time"}, tz="America/New_York")
    ... # doctest: +SKIP
    """
    if kind not in TABLE_KINDS:
        msg = f"unknown table kind {kind!r}; use one of {', '.join(TABLE_KINDS)}"
        raise ConfigError(msg)
    p = Path(path)
    raw = _read_any(p)
    schema = BAR_SCHEMA if kind == "bars" else TRADE_SCHEMA
    required = REQUIRED_BAR_COLUMNS if kind == "bars" else REQUIRED_TRADE_COLUMNS
    time_col = BAR_TIME if kind == "bars" else TRADE_TIME
    header_lines = 0 if p.suffix.lower() in (".parquet", ".pq") else 1

    renames = _resolve_columns(raw.columns, schema, mapping, p)
    frame = raw.rename(renames)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        hints = []
        # suggest only columns that are not already used for something else
        unused = [c for c in raw.columns if renames.get(c, c) not in schema]
        for col in missing:
            close = difflib.get_close_matches(col, unused, n=3, cutoff=0.5)
            hints.append(
                f"{col!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
            )
        msg = (
            f"{p}: required column(s) {', '.join(hints)} not found; the file has "
            f"{', '.join(map(repr, raw.columns))}; map them, e.g. "
            f"--map {(unused or raw.columns)[0]}={missing[0]}"
        )
        raise DataFormatError(msg)
    dropped = [c for c in frame.columns if c not in schema]
    if dropped:
        log.info("%s: ignoring column(s) %s", p, ", ".join(dropped))

    out: list[pl.Series] = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        if name == time_col:
            unit = "ms" if kind == "bars" else "us"
            out.append(
                parse_timestamps(series, unit=unit, tz=tz, where=str(p), header_lines=header_lines)
            )
        else:
            out.append(_cast(series, dtype, p, header_lines))
    return pl.DataFrame(out)


def parse_timestamps(
    series: pl.Series,
    *,
    unit: str = "ms",
    tz: str | None = None,
    where: str = "data",
    header_lines: int = 0,
) -> pl.Series:
    """Parse epoch numbers, ISO strings or Datetime values into ``Datetime(unit, "UTC")``.

    Parameters
    ----------
    series
        The raw time column.
    unit
        Output precision, ``"ms"`` or ``"us"``.
    tz
        Zone of naive wall times (default UTC).
    where
        File name for error messages.
    header_lines
        Lines before the first data row (to report 1-based file line numbers).

    Returns
    -------
    polars.Series
        Same name, UTC Datetime.

    Raises
    ------
    DataFormatError
        Nulls, mixed epoch magnitudes, unparseable strings, ambiguous/non-existent wall times.

    Examples
    --------
    >>> parse_timestamps(pl.Series("t", [1_700_000_000])).dt.year()[0]
    2023
    """
    name = series.name
    zone = tz or "UTC"
    out_dtype = pl.Datetime(unit, "UTC")  # type: ignore[arg-type]
    if series.null_count():
        row = int(series.is_null().arg_max() or 0)
        msg = f"{where} line {row + 1 + header_lines}, field {name!r}: empty timestamp"
        raise DataFormatError(msg)
    dtype = series.dtype
    if dtype == pl.String:
        stripped = series.str.strip_chars()
        if bool(stripped.str.contains(r"^-?\d+(\.\d+)?$").all()):
            return parse_timestamps(
                stripped.cast(pl.Float64).rename(name) if stripped.str.contains(r"\.").any()
                else stripped.cast(pl.Int64).rename(name),
                unit=unit, tz=tz, where=where, header_lines=header_lines,
            )  # fmt: skip
        parsed = stripped.str.to_datetime(time_unit="us", strict=False, ambiguous="raise")
        if parsed.null_count():
            row = int(parsed.is_null().arg_max() or 0)
            msg = (
                f"{where} line {row + 1 + header_lines}, field {name!r}: cannot parse "
                f"{series[row]!r} as a date/time; use ISO 8601 (2024-01-31T13:45:00[+00:00]) "
                "or epoch numbers"
            )
            raise DataFormatError(msg)
        return _localise(parsed.rename(name), zone, where).cast(out_dtype)
    if isinstance(dtype, pl.Datetime):
        return _localise(series, zone, where).cast(out_dtype)
    if dtype == pl.Date:
        return _localise(series.cast(pl.Datetime("us")), zone, where).cast(out_dtype)
    if dtype.is_numeric():
        magnitude = np.abs(series.cast(pl.Float64).to_numpy())
        names = ["s", "ms", "us", "ns"]
        cls = np.searchsorted(np.array([b for b, _u, _f in _BOUNDS], dtype=np.float64), magnitude,
                              side="right")  # fmt: skip
        counts = np.bincount(cls, minlength=4)
        major = int(counts.argmax())
        if counts[major] != cls.size:
            row = int(np.flatnonzero(cls != major)[0])
            msg = (
                f"{where} line {row + 1 + header_lines}, field {name!r}: epoch value "
                f"{series[row]} looks like {names[int(cls[row])]} but the column is mostly "
                f"{names[major]} (different unit); a column must use one unit — split or "
                "convert the file"
            )
            raise DataFormatError(msg)
        epoch_unit = names[major]
        to_ns = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[epoch_unit]
        log.info("%s: %r holds epoch %s (detected by magnitude)", where, name, epoch_unit)
        out_ns = 1_000_000 if unit == "ms" else 1_000
        if series.dtype.is_float():  # round in the output unit: floats cannot hold ns at 1e18
            ticks = (series * (to_ns / out_ns)).round(0).cast(pl.Int64)
        elif to_ns >= out_ns:
            ticks = series.cast(pl.Int64) * (to_ns // out_ns)
        else:
            ticks = series.cast(pl.Int64) // (out_ns // to_ns)
        return ticks.cast(out_dtype).rename(name)
    msg = f"{where}: time column {name!r} has unsupported type {dtype}; use epoch numbers or ISO"
    raise DataFormatError(msg)


def _localise(series: pl.Series, zone: str, where: str) -> pl.Series:
    assert isinstance(series.dtype, pl.Datetime)
    if series.dtype.time_zone is not None:
        return series.dt.convert_time_zone("UTC")
    try:
        local = series.dt.replace_time_zone(zone, ambiguous="raise", non_existent="raise")
    except pl.exceptions.PolarsError as exc:
        msg = (
            f"{where}: wall times in {series.name!r} cannot be placed in {zone} ({exc}); "
            "DST-ambiguous or non-existent times need explicit UTC offsets"
        )
        raise DataFormatError(msg) from exc
    return local.dt.convert_time_zone("UTC")


def _read_any(p: Path) -> pl.DataFrame:
    if not p.is_file():
        msg = f"{p}: no such file; check the path"
        raise DataFormatError(msg)
    suffixes = [s.lower() for s in p.suffixes]
    try:
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            return pl.read_parquet(p)
        separator = "\t" if ".tsv" in suffixes else ","
        return pl.read_csv(p, separator=separator, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"{p}: cannot read the file ({first}); is it a CSV with a header row or Parquet?"
        raise DataFormatError(msg) from exc


def _resolve_columns(
    columns: list[str],
    schema: Mapping[str, pl.DataType],
    mapping: Mapping[str, str] | None,
    p: Path,
) -> dict[str, str]:
    renames: dict[str, str] = {}
    for src, dst in (mapping or {}).items():
        if src not in columns:
            close = difflib.get_close_matches(src, columns, n=3, cutoff=0.5)
            msg = (
                f"{p}: the mapping names column {src!r}, which the file lacks; it has "
                f"{', '.join(map(repr, columns))}"
                + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
            )
            raise ConfigError(msg)
        if dst not in schema:
            close = difflib.get_close_matches(dst, list(schema), n=3, cutoff=0.5)
            msg = (
                f"mapping target {dst!r} is not a canonical column; use one of "
                f"{', '.join(schema)}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
            raise ConfigError(msg)
        renames[src] = dst
    taken = set(renames.values())
    lower = {c.lower().strip(): c for c in columns if c not in renames}
    for target in schema:
        if target in taken:
            continue
        for candidate in (target, *_ALIASES.get(target, ())):
            found = lower.get(candidate)
            if found is not None and found not in renames:
                renames[found] = target
                taken.add(target)
                break
    return {s: d for s, d in renames.items() if s != d}


def _cast(series: pl.Series, dtype: pl.DataType, p: Path, header_lines: int) -> pl.Series:
    if series.dtype == dtype:
        return series
    source = series
    if dtype == pl.Boolean and series.dtype == pl.String:
        lowered = series.str.strip_chars().str.to_lowercase()
        cast = lowered.replace_strict(
            {"true": True, "false": False, "1": True, "0": False}, default=None,
            return_dtype=pl.Boolean,
        )  # fmt: skip
    else:
        cast = series.cast(dtype, strict=False)
    bad = cast.is_null() & source.is_not_null()
    if bad.any():
        row = int(bad.arg_max() or 0)
        msg = (
            f"{p} line {row + 1 + header_lines}, field {series.name!r}: {source[row]!r} is not a "
            f"valid {dtype}; fix the value or map another column"
        )
        raise DataFormatError(msg)
    return cast
