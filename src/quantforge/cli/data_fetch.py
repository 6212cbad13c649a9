"""CLI command ``quantforge data fetch``: Binance bars or aggregate trades into the catalog.

Wiring only: parse, call `BinanceClient` / `BinancePublicData`, write through `Catalog`, print a
one-line summary. Errors are quantforge errors; `quantforge.cli.main` turns them into a message
and an exit code.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from quantforge.cli._app import (
    BaseUrlOption,
    CatalogOption,
    ExchangeOption,
    console,
    data_app,
    err_console,
)
from quantforge.defaults import DEFAULT_BINANCE_BASE_URL, DEFAULT_BINANCE_DATA_URL, DEFAULT_CATALOG
from quantforge.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    import polars as pl

    from quantforge.data.catalog import WriteReport

__all__ = ["fetch"]

log = logging.getLogger(__name__)

_EXAMPLES = """
Examples:

  quantforge data fetch BTCUSDT --interval 15m --start 2024-01-01 --end 2024-03-01

  quantforge data fetch ETHUSDT --trades --start 2024-05-01 --end 2024-05-02

  quantforge data fetch BTCUSDT -i 1m --start 2024-12-01 --end 2025-01-01 --source dumps
"""


def _parse_time(value: str, flag: str) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = (
            f"invalid {flag} {value!r}; use an ISO date/time such as 2024-01-01 or 2024-01-01T12:30"
        )
        raise ConfigError(msg) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _fmt(value: datetime) -> str:
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return text[:-3] if text.endswith(":00") else text


@contextmanager
def _progress(unit: str | None) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a callback (description, done, total) that drives one rich progress bar per task.

    ``unit`` "bytes" shows a download size, another word a row count, None only the percentage.
    """
    columns: list[ProgressColumn] = [
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    ]
    if unit == "bytes":
        columns.insert(3, DownloadColumn())
    elif unit is not None:
        columns.insert(3, TextColumn("{task.completed:,.0f} " + unit))
    with Progress(
        *columns, console=err_console, disable=not err_console.is_terminal, transient=True
    ) as bar:
        tasks: dict[str, int] = {}

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total or None)
            bar.update(tasks[description], completed=done, total=total or None)  # type: ignore[arg-type]

        yield update


def _fetch_rest(
    base_url: str,
    symbol: str,
    interval: str | None,
    start: datetime,
    end: datetime,
) -> pl.DataFrame:
    from quantforge.data.schema import AGG_TRADES_KIND
    from quantforge.data.sources.binance import BinanceClient

    what = interval or AGG_TRADES_KIND
    with BinanceClient(base_url) as client, _progress("bars" if interval else None) as update:

        def progress(done: int, total: int) -> None:
            update(f"{symbol} {what}", done, total)

        if interval is not None:
            return client.fetch_klines(symbol, interval, start, end, progress=progress)
        return client.fetch_agg_trades(symbol, start, end, progress=progress)


def _fetch_dumps(
    data_url: str,
    symbol: str,
    interval: str | None,
    start: datetime,
    end: datetime,
    keep: str | None,
) -> pl.DataFrame:
    import polars as pl

    from quantforge.data.schema import AGG_TRADES_KIND
    from quantforge.data.sources.binance_public import BinancePublicData, plan_dumps

    kind = "klines" if interval is not None else AGG_TRADES_KIND
    specs = plan_dumps(symbol, kind, start.date(), _day_after(end), interval=interval)
    with (
        tempfile.TemporaryDirectory(prefix="quantforge-dumps-") as scratch,
        BinancePublicData(data_url) as client,
        _progress("bytes") as update,
    ):
        dumps = client.download_range(specs, keep or scratch, progress=update)
        frames = [dump.frame for dump in dumps]
    if not frames:
        msg = (
            f"no {kind} dumps for {symbol} between {_fmt(start)} and {_fmt(end)} are published; "
            "check the symbol and dates, or use --source rest"
        )
        raise NotFoundError(msg)
    return pl.concat(frames, how="diagonal_relaxed")


def _day_after(moment: datetime) -> date:
    """Return the day after the one holding the last instant before ``moment`` (exclusive)."""
    return (moment - timedelta(microseconds=1)).date() + timedelta(days=1)


@data_app.command("fetch", epilog=_EXAMPLES)
def fetch(
    symbol: Annotated[str, typer.Argument(help="Binance symbol, e.g. BTCUSDT (no slash).")],
    start: Annotated[
        str,
        typer.Option("--start", help="First open/trade time, UTC, inclusive: 2024-01-01[T12:30]."),
    ],
    end: Annotated[
        str | None,
        typer.Option("--end", help="End time, UTC, exclusive (default: now)."),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option("--interval", "-i", help="Bar interval: 1s 1m 3m 5m 15m 30m 1h … 1d 1w 1M."),
    ] = None,
    trades: Annotated[
        bool, typer.Option("--trades", help="Fetch aggregate trades (aggTrades) instead of bars.")
    ] = False,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="rest (api.binance.com, exact range) or dumps (data.binance.vision zip files, "
            "checksum-verified; fast for long ranges).",
        ),
    ] = "rest",
    exchange: ExchangeOption = "binance",
    catalog: CatalogOption = DEFAULT_CATALOG,
    base_url: BaseUrlOption = DEFAULT_BINANCE_BASE_URL,
    data_url: Annotated[
        str,
        typer.Option(
            "--data-url",
            envvar="QUANTFORGE_BINANCE_DATA_URL",
            help="Base URL of the public dumps (with --source dumps).",
        ),
    ] = DEFAULT_BINANCE_DATA_URL,
    keep_dumps: Annotated[
        str | None,
        typer.Option("--keep-dumps", help="Folder to keep downloaded dump zips in (dumps only)."),
    ] = None,
) -> None:
    """Download Binance spot bars (--interval) or aggregate trades (--trades) into the catalog.

    Only closed bars are stored; rows already in the catalog are replaced, so re-running a
    range is safe. Prints one summary line: rows fetched, new rows and the time range.
    """
    import polars as pl

    from quantforge.data.catalog import Catalog
    from quantforge.data.schema import AGG_TRADES_KIND, BAR_TIME, TRADE_TIME, normalize_interval

    if (interval is None) == (not trades):
        msg = "say what to fetch: --interval 15m for bars, or --trades for aggregate trades"
        raise ConfigError(msg)
    if source not in ("rest", "dumps"):
        msg = f"unknown --source {source!r}; use rest or dumps"
        raise ConfigError(msg)
    symbol = symbol.strip().upper()
    iv = normalize_interval(interval) if interval is not None else None
    start_at = _parse_time(start, "--start")
    end_at = _parse_time(end, "--end") if end is not None else datetime.now(UTC)
    if end_at <= start_at:
        msg = f"--end ({_fmt(end_at)}) must be after --start ({_fmt(start_at)})"
        raise ConfigError(msg)
    cat = Catalog(catalog)  # fail on a bad catalog before downloading anything

    if source == "rest":
        frame = _fetch_rest(base_url, symbol, iv, start_at, end_at)
    else:
        frame = _fetch_dumps(data_url, symbol, iv, start_at, end_at, keep_dumps)
    time_col = BAR_TIME if iv is not None else TRADE_TIME
    frame = frame.filter((pl.col(time_col) >= start_at) & (pl.col(time_col) < end_at))

    what = iv if iv is not None else AGG_TRADES_KIND
    noun = "bars" if iv is not None else "trades"
    if frame.height == 0:
        console.print(
            f"{escape(symbol)} {what}: no closed {noun} between {_fmt(start_at)} and "
            f"{_fmt(end_at)} UTC; nothing written",
            highlight=False,
        )
        return
    report: WriteReport
    if iv is not None:
        report = cat.write_bars(frame, symbol=symbol, interval=iv, exchange=exchange)
    else:
        report = cat.write_trades(frame, symbol=symbol, kind=AGG_TRADES_KIND, exchange=exchange)
    first, last = frame[time_col].min(), frame[time_col].max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    console.print(
        f"{escape(symbol)} {what}: fetched {frame.height:,} {noun} ({report.rows_new:,} new, "
        f"{report.rows_total:,} in catalog) {_fmt(first)} → {_fmt(last)} UTC into "
        f"{escape(cat.root)}",
        highlight=False,
        soft_wrap=True,
    )
