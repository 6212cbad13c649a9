"""Read Binance public-data dump files (data.binance.vision): klines, trades and aggTrades.

Files are the monthly/daily ``.zip`` archives (one CSV inside) or the bare CSV, spot or USD-M
futures. The layout is taken by *position* (binance-formats.md §7): spot files have no header,
newer futures files have one whose names differ from the documentation, so the first line is
sniffed (digit → data, anything else → header) and column names are never trusted.

Timestamps: spot dumps switched from milliseconds to microseconds on 2025-01-01; futures stayed in
milliseconds. The unit is detected per file from the values (≥ 10^14 → µs), must be the same in
every row and every time column, and must agree with what the date in the file name implies —
otherwise the file is rejected rather than guessed at.

Output frames follow `quantforge.data.schema`: bars with ``open_time`` as ``Datetime("ms", "UTC")``
(close time and the unused last column dropped after checking), trades with ``time`` as
``Datetime("us", "UTC")``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from quantforge.data.schema import (
    AGG_TRADES_KIND,
    BAR_TIME_DTYPE,
    TRADE_TIME_DTYPE,
    TRADES_KIND,
    interval_ms,
    normalize_interval,
)
from quantforge.errors import ChecksumError, ConfigError, DataFormatError

log = logging.getLogger(__name__)

__all__ = [
    "DUMP_KINDS",
    "KLINES_KIND",
    "DumpFile",
    "read_binance_dump",
]

KLINES_KIND: Final = "klines"
DUMP_KINDS: Final = (KLINES_KIND, TRADES_KIND, AGG_TRADES_KIND)

#: a timestamp at or above this is in microseconds (ms epochs stay below it until year 5138)
US_THRESHOLD: Final = 10**14
#: first day whose spot dumps carry microseconds
SPOT_US_SINCE: Final = dt.date(2025, 1, 1)

_I64 = pl.Int64()
_F64 = pl.Float64()
_BOOL = pl.Boolean()

# (column name, dtype) by position. "_close_time"/"_ignore" are checked then dropped.
_KLINE_LAYOUT: Final = (
    ("open_time", _I64),
    ("open", _F64),
    ("high", _F64),
    ("low", _F64),
    ("close", _F64),
    ("volume", _F64),
    ("_close_time", _I64),
    ("quote_volume", _F64),
    ("trades", _I64),
    ("taker_buy_base", _F64),
    ("taker_buy_quote", _F64),
    ("_ignore", _F64),
)
_TRADES_SPOT: Final = (
    ("trade_id", _I64),
    ("price", _F64),
    ("qty", _F64),
    ("quote_qty", _F64),
    ("time", _I64),
    ("is_buyer_maker", _BOOL),
    ("is_best_match", _BOOL),
)
_AGG_SPOT: Final = (
    ("trade_id", _I64),
    ("price", _F64),
    ("qty", _F64),
    ("first_trade_id", _I64),
    ("last_trade_id", _I64),
    ("time", _I64),
    ("is_buyer_maker", _BOOL),
    ("is_best_match", _BOOL),
)
# USD-M futures drop the best-match column (last position) for trades and aggTrades
_LAYOUTS: Final[dict[tuple[str, int], tuple[tuple[str, pl.DataType], ...]]] = {
    (KLINES_KIND, 12): _KLINE_LAYOUT,
    (TRADES_KIND, 7): _TRADES_SPOT,
    (TRADES_KIND, 6): _TRADES_SPOT[:6],
    (AGG_TRADES_KIND, 8): _AGG_SPOT,
    (AGG_TRADES_KIND, 7): _AGG_SPOT[:7],
}
_TIME_COLUMNS: Final = {
    KLINES_KIND: ("open_time", "_close_time"),
    TRADES_KIND: ("time",),
    AGG_TRADES_KIND: ("time",),
}

# SYMBOL-<interval|trades|aggTrades>-YYYY-MM[-DD]
_NAME_RE: Final = re.compile(
    r"^(?P<symbol>[A-Z0-9_]+)-(?P<what>aggTrades|trades|\d+(?:s|m|h|d|w|mo|M))-"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?)"
)

_HEAD_BYTES: Final = 1 << 16

_FIX_HINT: Final = (
    "the file is damaged or not a Binance dump; re-download it from data.binance.vision "
    "(and check its .CHECKSUM)"
)


@dataclass(frozen=True, slots=True)
class DumpFile:
    """One parsed Binance dump file.

    Attributes
    ----------
    path
        The file that was read.
    kind
        ``"klines"``, ``"trades"`` or ``"aggTrades"``.
    frame
        Bars or trades in the canonical schema (`quantforge.data.schema`).
    time_unit
        Unit of the timestamps in the file: ``"ms"`` or ``"us"``.
    had_header
        Whether the CSV started with a header row (newer futures dumps).
    checksum_verified
        True when a sibling ``.CHECKSUM`` matched, None when there was none (or checking was off).
    interval
        Kline interval (from the file name, else the spacing of the data); None for trades.
    close_time_mismatches
        Klines whose close time is not ``open_time + interval - 1 ms`` (halt-truncated bars).
    market
        ``"spot"`` or ``"futures"`` as inferred from the header, column count and path.
    """

    path: str
    kind: str
    frame: pl.DataFrame
    time_unit: str
    had_header: bool
    checksum_verified: bool | None
    interval: str | None = None
    close_time_mismatches: int = 0
    market: str = "spot"


def read_binance_dump(
    path: str | os.PathLike[str], *, kind: str | None = None, verify_checksum: bool = True
) -> DumpFile:
    """Read one Binance public-data dump (``.zip`` or ``.csv``) into the canonical schema.

    Parameters
    ----------
    path
        A ``.zip`` holding one CSV, or a CSV file (daily or monthly; spot or USD-M futures).
    kind
        ``"klines"``, ``"trades"`` or ``"aggTrades"``; None infers it from the file name
        (``BTCUSDT-1m-2024-12-31``, ``BTCUSDT-trades-2024-12``) and then the column count.
    verify_checksum
        Check ``<file>.CHECKSUM`` (SHA-256, as published by Binance) when it sits beside the file.

    Returns
    -------
    DumpFile
        The parsed frame plus what was detected (unit, header, checksum, close-time mismatches).

    Raises
    ------
    ChecksumError
        The sibling ``.CHECKSUM`` names a different SHA-256 than the file has.
    DataFormatError
        The file is empty, truncated, has the wrong number of columns, text in a numeric column,
        mixed or implausible timestamp units; the message names the file, line and field.

    Examples
    --------
    >>> dump = read_binance_dump("BTCUSDT-1m-2025-01-01.zip")  # doctest: +SKIP
    >>> dump.time_unit, dump.frame.height  # doctest: +SKIP
    ('us', 1440)
    """
    p = Path(path)
    name = p.name
    if kind is not None and kind not in DUMP_KINDS:
        msg = f"unknown dump kind {kind!r}; use one of {', '.join(DUMP_KINDS)}"
        raise ConfigError(msg)
    if not p.is_file():
        msg = f"{p}: no such file; check the path"
        raise DataFormatError(msg)
    checksum_verified = _verify_checksum(p) if verify_checksum else None
    with p.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    source: bytes | Path
    if p.suffix.lower() == ".zip" or head[:2] == b"PK":
        source, csv_name = _csv_bytes(p, p.read_bytes())
        head = source[:_HEAD_BYTES]
    else:  # plain CSV: let polars read (mmap) the file itself, no copy through Python
        source, csv_name = p, p.name

    first_line, first_end = _first_line(head)
    if not first_line.strip():
        msg = f"{_where(csv_name, p)}: the file is empty (no rows); {_FIX_HINT}"
        raise DataFormatError(msg)
    had_header = not first_line.lstrip()[:1].isdigit()
    data_line = _first_line(head[first_end:])[0] if had_header else first_line
    if not data_line.strip():
        msg = f"{_where(csv_name, p)}: the file has a header but no data rows; {_FIX_HINT}"
        raise DataFormatError(msg)
    n_fields = len(data_line.split(","))
    meta = _NAME_RE.match(Path(csv_name).name) or _NAME_RE.match(name)
    kind = kind or _infer_kind(meta, n_fields, p)
    layout = _LAYOUTS.get((kind, n_fields))
    if layout is None:
        expected = sorted(n for (k, n) in _LAYOUTS if k == kind)
        msg = (
            f"{_where(csv_name, p)} line {2 if had_header else 1}: {n_fields} columns, but a "
            f"Binance {kind} dump has {' or '.join(map(str, expected))}; pass the right kind= "
            f"or {_FIX_HINT}"
        )
        raise DataFormatError(msg)
    market = _infer_market(kind, n_fields, had_header, p)

    frame = _parse(source, layout, had_header, csv_name, p)
    if frame.height == 0:
        msg = f"{_where(csv_name, p)}: the file has a header but no data rows; {_FIX_HINT}"
        raise DataFormatError(msg)

    file_date = _file_date(meta)
    unit = _detect_unit(frame, kind, had_header, csv_name, p)
    _check_unit_against_date(unit, file_date, market, csv_name, p)
    _check_rows_in_period(frame, kind, unit, file_date, had_header, csv_name, p)
    log.info(
        "read %s: kind=%s market=%s rows=%d header=%s time unit=%s",
        p,
        kind,
        market,
        frame.height,
        had_header,
        unit,
        extra={"file": str(p), "time_unit": unit, "rows": frame.height},
    )

    interval: str | None = None
    mismatches = 0
    if kind == KLINES_KIND:
        interval = _kline_interval(meta, frame, unit)
        out, mismatches = _finish_klines(frame, unit, interval, had_header, p)
    else:
        out = _finish_trades(frame, unit)
    return DumpFile(
        path=str(p),
        kind=kind,
        frame=out,
        time_unit=unit,
        had_header=had_header,
        checksum_verified=checksum_verified,
        interval=interval,
        close_time_mismatches=mismatches,
        market=market,
    )


# --------------------------------------------------------------------------- file access


def _where(csv_name: str, p: Path) -> str:
    return str(p) if Path(csv_name).name == p.name else f"{p} ({csv_name})"


def _verify_checksum(p: Path) -> bool | None:
    sidecar = p.with_name(p.name + ".CHECKSUM")
    if not sidecar.is_file():
        log.debug("no %s beside %s; checksum not verified", sidecar.name, p)
        return None
    text = sidecar.read_text(encoding="utf-8", errors="replace").split()
    published = text[0].lower() if text else ""
    with p.open("rb") as handle:
        actual = hashlib.file_digest(handle, "sha256").hexdigest()
    if published != actual:
        msg = (
            f"{p}: SHA-256 is {actual} but {sidecar.name} says {published or '(empty)'}; the "
            "download is corrupt or was replaced — delete both files and download them again"
        )
        raise ChecksumError(msg)
    return True


def _csv_bytes(p: Path, raw: bytes) -> tuple[bytes, str]:
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        if p.suffix.lower() == ".zip" or raw[:2] == b"PK":
            msg = f"{p}: not a readable zip archive (truncated or corrupt); {_FIX_HINT}"
            raise DataFormatError(msg)
        return raw, p.name
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            csvs = [i for i in members if i.filename.lower().endswith(".csv")] or members
            if len(csvs) != 1:
                names = ", ".join(i.filename for i in members) or "nothing"
                msg = f"{p}: expected one CSV inside the zip, found {names}; {_FIX_HINT}"
                raise DataFormatError(msg)
            return zf.read(csvs[0]), csvs[0].filename
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        msg = f"{p}: the zip archive is truncated or corrupt ({exc}); {_FIX_HINT}"
        raise DataFormatError(msg) from exc


def _first_line(data: bytes) -> tuple[str, int]:
    end = data.find(b"\n")
    end = len(data) if end < 0 else end + 1
    return data[:end].decode("utf-8", errors="replace").strip("\r\n\ufeff"), end


def _infer_kind(meta: re.Match[str] | None, n_fields: int, p: Path) -> str:
    if meta is not None:
        what = meta.group("what")
        return what if what in (TRADES_KIND, AGG_TRADES_KIND) else KLINES_KIND
    if n_fields == 12:
        return KLINES_KIND
    if n_fields == 8:
        return AGG_TRADES_KIND
    msg = (
        f"{p}: cannot tell whether this is a trades or aggTrades dump ({n_fields} columns, file "
        "name not in Binance form SYMBOL-trades-DATE); pass kind='trades' or kind='aggTrades'"
    )
    raise DataFormatError(msg)


def _infer_market(kind: str, n_fields: int, had_header: bool, p: Path) -> str:
    parts = {part.lower() for part in p.parts}
    if "futures" in parts or "um" in parts or had_header:
        return "futures"
    if kind == TRADES_KIND and n_fields == 6:
        return "futures"
    if kind == AGG_TRADES_KIND and n_fields == 7:
        return "futures"
    return "spot"


def _file_date(meta: re.Match[str] | None) -> tuple[dt.date, dt.date] | None:
    """Return the [first, last] day the file name covers (daily or monthly), if it has one."""
    if meta is None:
        return None
    parts = [int(x) for x in meta.group("date").split("-")]
    try:
        if len(parts) == 3:
            day = dt.date(parts[0], parts[1], parts[2])
            return day, day
        first = dt.date(parts[0], parts[1], 1)
    except ValueError:
        return None
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


# --------------------------------------------------------------------------- parsing


def _parse(
    source: bytes | Path,
    layout: tuple[tuple[str, pl.DataType], ...],
    had_header: bool,
    csv_name: str,
    p: Path,
) -> pl.DataFrame:
    schema = dict(layout)
    try:
        frame = pl.read_csv(
            source,
            has_header=False,
            skip_rows=1 if had_header else 0,
            schema=schema,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        data = source.read_bytes() if isinstance(source, Path) else source
        raise _diagnose(data, layout, had_header, csv_name, p, str(exc)) from exc
    # every field is required: an empty last field is how a file cut after a comma looks
    if sum(frame.null_count().row(0)):
        data = source.read_bytes() if isinstance(source, Path) else source
        raise _diagnose(data, layout, had_header, csv_name, p, "empty field")
    return frame


def _diagnose(
    data: bytes,
    layout: tuple[tuple[str, pl.DataType], ...],
    had_header: bool,
    csv_name: str,
    p: Path,
    detail: str,
) -> DataFormatError:
    """Find the first bad line/field in plain Python (only on the error path)."""
    where = _where(csv_name, p)
    text = data.decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if lineno == 1 and had_header:
            continue
        if not line.strip():
            if lineno == 1:
                continue
            msg = f"{where} line {lineno}: empty line inside the data; {_FIX_HINT}"
            return DataFormatError(msg)
        fields = line.split(",")
        if len(fields) != len(layout):
            msg = (
                f"{where} line {lineno}: {len(fields)} fields, expected {len(layout)} "
                f"(the file is truncated or mixes layouts); {_FIX_HINT}"
            )
            return DataFormatError(msg)
        for pos, ((col, dtype), value) in enumerate(zip(layout, fields, strict=True), start=1):
            if not _value_ok(value.strip(), dtype):
                what = "integer" if dtype == _I64 else "number" if dtype == _F64 else "true/false"
                msg = (
                    f"{where} line {lineno}, field {col.lstrip('_')!r} (column {pos}): "
                    f"{value.strip()!r} is not a valid {what}; {_FIX_HINT}"
                )
                return DataFormatError(msg)
    msg = f"{where}: could not be parsed as a Binance dump ({detail.splitlines()[0]}); {_FIX_HINT}"
    return DataFormatError(msg)


def _value_ok(value: str, dtype: pl.DataType) -> bool:
    if dtype == _BOOL:
        return value.lower() in ("true", "false")
    try:
        if dtype == _I64:
            int(value)
        else:
            float(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- timestamps


def _detect_unit(frame: pl.DataFrame, kind: str, had_header: bool, csv_name: str, p: Path) -> str:
    columns = _TIME_COLUMNS[kind]
    first_unit: str | None = None
    for col in columns:
        is_us = frame[col] >= US_THRESHOLD
        n_us = int(is_us.sum())
        unit = "us" if n_us == frame.height else "ms" if n_us == 0 else None
        if unit is None or (first_unit is not None and unit != first_unit):
            # report the first row in the minority unit (the majority is taken as the file's)
            ref_us = 2 * n_us > frame.height if unit is None else first_unit == "us"
            bad = int(is_us.ne(ref_us).arg_max() or 0) if unit is None else 0
            lineno = bad + 1 + (1 if had_header else 0)
            value = frame[col][bad]
            msg = (
                f"{_where(csv_name, p)} line {lineno}, field {col.lstrip('_')!r}: timestamp "
                f"{value} is in {'µs' if value >= US_THRESHOLD else 'ms'} but the file's other "
                f"timestamps are in {'µs' if ref_us else 'ms'}; a dump must use one unit — "
                f"{_FIX_HINT}"
            )
            raise DataFormatError(msg)
        first_unit = unit
    assert first_unit is not None
    return first_unit


def _check_unit_against_date(
    unit: str, days: tuple[dt.date, dt.date] | None, market: str, csv_name: str, p: Path
) -> None:
    if days is None:
        return
    first, last = days
    expected: str | None
    if last < SPOT_US_SINCE:
        expected = "ms"  # nobody published µs before 2025
    elif market == "spot" and first >= SPOT_US_SINCE:
        expected = "us"
    elif market == "futures":
        expected = "ms"
    else:
        expected = None  # a spot file spanning the switch cannot exist; don't judge
    if expected is not None and unit != expected:
        msg = (
            f"{_where(csv_name, p)} line 1: timestamps are in {'µs' if unit == 'us' else 'ms'} "
            f"but a {market} dump dated {first.isoformat()} uses "
            f"{'µs' if expected == 'us' else 'ms'} (spot switched to µs on 2025-01-01, futures "
            "stayed in ms); the file was altered or misnamed — re-download it"
        )
        raise DataFormatError(msg)


def _check_rows_in_period(
    frame: pl.DataFrame,
    kind: str,
    unit: str,
    days: tuple[dt.date, dt.date] | None,
    had_header: bool,
    csv_name: str,
    p: Path,
) -> None:
    """Reject a file whose rows lie outside the day/month its name gives (misnamed or altered)."""
    if days is None:
        return
    per_day = 86_400_000 * (1000 if unit == "us" else 1)
    epoch = dt.date(1970, 1, 1)
    lo = (days[0] - epoch).days * per_day
    hi = ((days[1] - epoch).days + 1) * per_day
    col = _TIME_COLUMNS[kind][0]
    outside = (frame[col] < lo) | (frame[col] >= hi)
    if outside.any():
        row = int(outside.arg_max() or 0)
        value = frame[col][row]
        when = dt.datetime.fromtimestamp(value / (per_day / 86_400), tz=dt.UTC)
        period = days[0].isoformat() if days[0] == days[1] else f"{days[0]} … {days[1]}"
        msg = (
            f"{_where(csv_name, p)} line {row + 1 + (1 if had_header else 0)}, field "
            f"{col!r}: {value} is {when.isoformat()}, outside the period the file name gives "
            f"({period}); the file is misnamed or altered — re-download it"
        )
        raise DataFormatError(msg)


def _kline_interval(meta: re.Match[str] | None, frame: pl.DataFrame, unit: str) -> str | None:
    if meta is not None:
        try:
            return normalize_interval(meta.group("what"))
        except ConfigError:
            return None
    if frame.height < 2:
        return None
    step = frame["open_time"].diff().drop_nulls().min()
    if not isinstance(step, int) or step <= 0:
        return None
    step_ms = step // (1000 if unit == "us" else 1)
    for iv in ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"):
        if interval_ms(iv) == step_ms:
            return iv
    return None


def _finish_klines(
    frame: pl.DataFrame, unit: str, interval: str | None, had_header: bool, p: Path
) -> tuple[pl.DataFrame, int]:
    div = 1000 if unit == "us" else 1
    mismatches = 0
    if interval is not None and interval != "1M":
        expected_close = pl.col("open_time") // div + (interval_ms(interval) - 1)
        bad = frame.select(
            (pl.col("_close_time") // div).ne(expected_close).alias("bad"),
            pl.col("open_time"),
        )
        mismatches = int(bad["bad"].sum())
        if mismatches:
            first = bad.filter(pl.col("bad"))["open_time"][0] // div
            log.info(
                "%s: %d bar(s) have close time != open_time + %s - 1 ms (halt-truncated bars, "
                "kept), first at %s",
                p,
                mismatches,
                interval,
                dt.datetime.fromtimestamp(first / 1000, tz=dt.UTC).isoformat(),
                extra={"file": str(p), "close_time_mismatches": mismatches},
            )
    out = frame.select(
        (pl.col("open_time") // div).cast(pl.Datetime("ms", "UTC")).alias("open_time"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "trades",
        "taker_buy_base",
        "taker_buy_quote",
    )
    assert out.schema["open_time"] == BAR_TIME_DTYPE
    return out, mismatches


def _finish_trades(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    mult = 1 if unit == "us" else 1000
    cols = [c for c in frame.columns if c != "time"]
    out = frame.select(
        (pl.col("time") * mult).cast(TRADE_TIME_DTYPE).alias("time"),
        *cols,
    )
    order = [
        "time",
        "trade_id",
        "price",
        "qty",
        "quote_qty",
        "is_buyer_maker",
        "is_best_match",
        "first_trade_id",
        "last_trade_id",
    ]
    return out.select([c for c in order if c in out.columns])
