"""Import files into the catalog: parse → check → quarantine → write.

Every file of a batch is parsed and checked before anything is written, so one malformed file
leaves the catalog exactly as it was. Rows that break an invariant are never dropped silently:
they go to a quarantine Parquet file (with a ``reason`` column) under
``{catalog}/_quarantine/exchange=…/symbol=…/interval=…/`` unless another folder is given, and the
report says how many and where.

Binance dump files (``.zip``, names like ``BTCUSDT-1m-2024-12-31.csv``, or header-less numeric
CSVs) go through `quantforge.data.sources.binance_dumps`; anything else (any CSV with a header, or
Parquet) through `quantforge.data.sources.csv` with an optional column mapping.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import fsspec
import polars as pl

from quantforge.data.schema import AGG_TRADES_KIND, BAR_TIME, TRADES_KIND, normalize_interval
from quantforge.data.sources.binance_dumps import KLINES_KIND, read_binance_dump
from quantforge.data.sources.csv import read_table
from quantforge.data.validate import (
    CheckReport,
    check_bars,
    split_quarantine,
    split_trade_quarantine,
)
from quantforge.errors import CatalogError, ConfigError, DataFormatError

if TYPE_CHECKING:
    from quantforge.data.catalog import Catalog, WriteReport

log = logging.getLogger(__name__)

__all__ = [
    "QUARANTINE_FOLDER",
    "FileImport",
    "ImportReport",
    "import_files",
    "read_bar_file",
    "read_trade_file",
    "write_quarantine",
]

#: folder under the catalog root that holds quarantined rows
QUARANTINE_FOLDER: Final = "_quarantine"
_DUMP_NAME: Final = re.compile(
    r"^[A-Z0-9_]+-(?:aggTrades|trades|\d+(?:s|m|h|d|w|mo|M))-\d{4}-\d{2}"
)


@dataclass(frozen=True, slots=True)
class FileImport:
    """What was read from one file."""

    path: str
    rows: int
    source: str  # "binance-dump" or "table"
    time_unit: str | None = None
    checksum_verified: bool | None = None
    close_time_mismatches: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of `import_files`.

    ``rows_clean`` rows were handed to the catalog (``write`` has its report), ``quarantined``
    rows went to ``quarantine_path``. ``check`` is the bar check of the whole batch (None for
    trades).
    """

    symbol: str
    interval: str
    exchange: str
    files: tuple[FileImport, ...]
    rows_read: int
    rows_clean: int
    quarantined: int
    quarantine_path: str | None
    check: CheckReport | None
    write: WriteReport | None
    trade_id_gaps: int = 0


def read_bar_file(
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    tz: str | None = None,
    verify_checksum: bool = True,
    interval: str | None = None,
) -> tuple[pl.DataFrame, FileImport]:
    """Read bars from a Binance dump or any CSV/Parquet file (see the module docstring).

    Parameters
    ----------
    path
        The file.
    mapping, tz
        Column mapping and wall-time zone for non-Binance files (`read_table`).
    verify_checksum
        Check a sibling ``.CHECKSUM`` of Binance dumps.
    interval
        When given, a Binance dump whose file name says another interval is rejected.

    Returns
    -------
    tuple
        ``(bars, FileImport)``.

    Raises
    ------
    DataFormatError
        The file is malformed, or its interval contradicts ``interval``.

    Examples
    --------
    >>> bars, info = read_bar_file("BTCUSDT-1m-2024-12-31.zip")  # doctest: +SKIP
    """
    p = Path(path)
    if mapping is None and _looks_like_dump(p):
        dump = read_binance_dump(p, kind=KLINES_KIND, verify_checksum=verify_checksum)
        wanted = normalize_interval(interval) if interval is not None else None
        if wanted is not None and dump.interval is not None and wanted != dump.interval:
            msg = (
                f"{p}: holds {dump.interval} klines but the import is for {wanted}; "
                f"pass --interval {dump.interval}"
            )
            raise DataFormatError(msg)
        info = FileImport(
            path=str(p),
            rows=dump.frame.height,
            source="binance-dump",
            time_unit=dump.time_unit,
            checksum_verified=dump.checksum_verified,
            close_time_mismatches=dump.close_time_mismatches,
        )
        return dump.frame, info
    frame = read_table(p, kind="bars", mapping=mapping, tz=tz)
    return frame, FileImport(path=str(p), rows=frame.height, source="table")


def read_trade_file(
    path: str | os.PathLike[str],
    *,
    kind: str = TRADES_KIND,
    mapping: Mapping[str, str] | None = None,
    tz: str | None = None,
    verify_checksum: bool = True,
) -> tuple[pl.DataFrame, FileImport]:
    """Read trades (or aggTrades) from a Binance dump or any CSV/Parquet file.

    Returns
    -------
    tuple
        ``(trades, FileImport)``.

    Raises
    ------
    DataFormatError
        The file is malformed.

    Examples
    --------
    >>> trades, info = read_trade_file("BTCUSDT-trades-2024-08-09.zip")  # doctest: +SKIP
    """
    p = Path(path)
    if mapping is None and _looks_like_dump(p):
        dump = read_binance_dump(p, kind=kind, verify_checksum=verify_checksum)
        info = FileImport(
            path=str(p),
            rows=dump.frame.height,
            source="binance-dump",
            time_unit=dump.time_unit,
            checksum_verified=dump.checksum_verified,
        )
        return dump.frame, info
    frame = read_table(p, kind="trades", mapping=mapping, tz=tz)
    return frame, FileImport(path=str(p), rows=frame.height, source="table")


def import_files(
    paths: Sequence[str | os.PathLike[str]],
    catalog: Catalog,
    symbol: str,
    interval: str,
    *,
    exchange: str = "binance",
    mapping: Mapping[str, str] | None = None,
    tz: str | None = None,
    verify_checksum: bool = True,
    quarantine_dir: str | os.PathLike[str] | None = None,
) -> ImportReport:
    """Parse, check and write a batch of files into the catalog.

    Parameters
    ----------
    paths
        Files to import (all of one dataset).
    catalog
        Target `quantforge.data.catalog.Catalog`.
    symbol
        Dataset symbol, e.g. ``"BTCUSDT"``.
    interval
        Bar interval (``"1m"``…), or ``"trades"`` / ``"aggTrades"`` for tick data.
    exchange
        Catalog exchange partition.
    mapping, tz
        For non-Binance files: column mapping and time zone of naive timestamps.
    verify_checksum
        Check sibling ``.CHECKSUM`` files of Binance dumps.
    quarantine_dir
        Where quarantined rows go (default ``{catalog}/_quarantine``).

    Returns
    -------
    ImportReport

    Raises
    ------
    DataFormatError, ChecksumError
        A file is malformed; nothing was written.
    CatalogError
        Writing failed (the catalog keeps its previous content).

    Examples
    --------
    >>> report = import_files(["BTCUSDT-1m-2024-12-31.zip"], Catalog("cat"), "BTCUSDT", "1m")
    ... # doctest: +SKIP
    """
    if not paths:
        msg = "no files to import; give at least one path"
        raise ConfigError(msg)
    tick = interval in (TRADES_KIND, AGG_TRADES_KIND)
    iv = interval if tick else normalize_interval(interval)
    frames: list[pl.DataFrame] = []
    infos: list[FileImport] = []
    for path in paths:  # parse everything first: a bad file must leave the catalog untouched
        if tick:
            frame, info = read_trade_file(
                path, kind=iv, mapping=mapping, tz=tz, verify_checksum=verify_checksum
            )
        else:
            frame, info = read_bar_file(
                path, mapping=mapping, tz=tz, verify_checksum=verify_checksum, interval=iv
            )
        frames.append(frame)
        infos.append(info)
    combined = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    rows_read = combined.height

    report: CheckReport | None = None
    id_gaps = 0
    if tick:
        clean, quarantined = split_trade_quarantine(combined)
        ids = clean["trade_id"]
        if ids.len() > 1:
            id_gaps = int((ids.diff().drop_nulls() - 1).clip(lower_bound=0).sum())
            if id_gaps:
                log.info("%s %s: %d trade id(s) missing between rows", symbol, iv, id_gaps)
    else:
        report = check_bars(combined, iv)
        if report.quarantinable:
            clean, quarantined = split_quarantine(combined, report)
        else:
            clean = combined if combined[BAR_TIME].is_sorted() else combined.sort(BAR_TIME)
            quarantined = combined.clear()

    q_path: str | None = None
    if quarantined.height:
        base = (
            os.fspath(quarantine_dir)
            if quarantine_dir is not None
            else _join(catalog.root, QUARANTINE_FOLDER)
        )
        folder = _join(base, f"exchange={exchange}", f"symbol={symbol}", f"interval={iv}")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        q_path = _join(folder, f"{stamp}-{Path(os.fspath(paths[0])).stem}.parquet")
        write_quarantine(quarantined, q_path)
        log.warning("%s %s: %d row(s) quarantined to %s", symbol, iv, quarantined.height, q_path)

    write: WriteReport | None = None
    if clean.height:
        if tick:
            write = catalog.write_trades(clean, symbol=symbol, kind=iv, exchange=exchange)
        else:
            write = catalog.write_bars(clean, symbol=symbol, interval=iv, exchange=exchange)
    return ImportReport(
        symbol=symbol,
        interval=iv,
        exchange=exchange,
        files=tuple(infos),
        rows_read=rows_read,
        rows_clean=clean.height,
        quarantined=quarantined.height,
        quarantine_path=q_path,
        check=report,
        write=write,
        trade_id_gaps=id_gaps,
    )


def write_quarantine(frame: pl.DataFrame, target: str | os.PathLike[str]) -> str:
    """Write quarantined rows to Parquet atomically (temp file + rename; one PUT on object stores).

    Parameters
    ----------
    frame
        Rows with their ``reason`` column.
    target
        Local path or fsspec URL (``s3://…``).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    CatalogError
        When the file cannot be written.

    Examples
    --------
    >>> write_quarantine(bad_rows, "catalog/_quarantine/BTCUSDT-1m.parquet")  # doctest: +SKIP
    """
    text = os.fspath(target)
    try:
        if "://" in text and not text.startswith("file://"):
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd")
            with fsspec.open(text, "wb") as handle:
                handle.write(buffer.getvalue())
            return text
        path = Path(text.removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
        os.close(fd)
        try:
            frame.write_parquet(temp, compression="zstd")
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        msg = f"cannot write quarantine file {text}: {exc}; nothing was imported"
        raise CatalogError(msg) from exc
    return str(path)


def _join(base: str, *parts: str) -> str:
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).joinpath(*parts))


def _looks_like_dump(p: Path) -> bool:
    if p.suffix.lower() == ".zip" or _DUMP_NAME.match(p.name):
        return True
    if p.suffix.lower() in (".parquet", ".pq") or not p.is_file():
        return False
    try:
        with p.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    if zipfile.is_zipfile(p):
        return True
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    return first[:1].isdigit()  # header-less numeric CSV: the Binance layout
