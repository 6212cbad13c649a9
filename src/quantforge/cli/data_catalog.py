"""CLI commands ``quantforge data list`` and ``quantforge data sync`` (catalog wiring only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from quantforge.cli._app import CatalogOption, console, data_app, err_console
from quantforge.defaults import DEFAULT_BINANCE_BASE_URL, DEFAULT_CATALOG
from quantforge.errors import ConfigError

if TYPE_CHECKING:
    from quantforge.data.catalog import Catalog
    from quantforge.data.sync import SyncResult

__all__ = ["list_datasets", "sync"]


def _fmt_time(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _fmt_span(value: timedelta | None) -> str:
    if value is None:
        return "—"
    if value == timedelta(0):
        return "0"
    days, seconds = value.days, value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else ""]
    parts += [f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return " ".join(p for p in parts if p)


@data_app.command("list")
def list_datasets(catalog: CatalogOption = DEFAULT_CATALOG) -> None:
    """List the datasets in the catalog: range, rows and gaps (computed from the data)."""
    from quantforge.data.catalog import Catalog

    cat = Catalog(catalog)
    infos = cat.datasets()
    if not infos:
        console.print(
            f"catalog {escape(cat.root)} holds no data yet; add some with "
            "`quantforge data import …` or `quantforge data sync …`"
        )
        return
    table = Table(title=f"catalog {escape(cat.root)}", title_justify="left")
    for name in ("exchange", "symbol", "interval", "first (UTC)", "last (UTC)"):
        table.add_column(name)
    for name in ("rows", "missing", "gaps", "largest gap"):
        table.add_column(name, justify="right")
    for info in infos:
        table.add_row(
            info.exchange,
            info.symbol,
            info.interval,
            _fmt_time(info.first),
            _fmt_time(info.last),
            f"{info.rows:,}",
            f"{info.gaps:,}",
            f"{info.gap_runs:,}",
            _fmt_span(info.largest_gap),
        )
    console.print(table)
    console.print(
        "missing = absent slots of the regular grid (absent ids for trades); "
        "gaps = holes they form",
        style="dim",
    )


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        msg = f"invalid --since {value!r}; use an ISO date such as 2024-01-01 (UTC)"
        raise ConfigError(msg) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@data_app.command("sync")
def sync(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML/YAML file with symbols, intervals, since, catalog, base_url, exchange.",
        ),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated, e.g. BTCUSDT,ETHUSDT.")
    ] = None,
    intervals: Annotated[
        str | None, typer.Option("--intervals", help="Comma-separated, e.g. 1m,15m.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Start of empty datasets (UTC ISO date, e.g. 2024-01-01)."),
    ] = None,
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog",
            envvar="QUANTFORGE_CATALOG",
            help=f"Local folder or s3://bucket/prefix (default: config, else ./{DEFAULT_CATALOG}).",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="QUANTFORGE_BINANCE_BASE_URL",
            help="Binance REST base URL (default: config, else api.binance.com).",
        ),
    ] = None,
    exchange: Annotated[
        str | None, typer.Option("--exchange", help="Catalog partition name (binance).")
    ] = None,
) -> None:
    """Fetch the bars that closed since the catalog's last bar (safe to run from cron).

    Options override the config file. Datasets resume after their last bar; empty ones at --since.
    """
    from quantforge.data.catalog import Catalog
    from quantforge.data.sources.binance import BinanceClient
    from quantforge.data.sync import SyncConfig, load_sync_config, sync_klines

    file_config = load_sync_config(config) if config is not None else None
    symbol_list = _split(symbols) or (file_config.symbols if file_config else None)
    interval_list = _split(intervals) or (file_config.intervals if file_config else None)
    if not symbol_list or not interval_list:
        msg = "say what to sync: --symbols BTCUSDT,ETHUSDT --intervals 1m,15m (or --config FILE)"
        raise ConfigError(msg)
    job = SyncConfig(
        symbols=symbol_list,
        intervals=interval_list,
        since=_parse_since(since) or (file_config.since if file_config else None),
        exchange=exchange or (file_config.exchange if file_config else "binance"),
        catalog=catalog or (file_config.catalog if file_config else None) or DEFAULT_CATALOG,
        base_url=base_url
        or (file_config.base_url if file_config else None)
        or DEFAULT_BINANCE_BASE_URL,
    )
    cat = Catalog(job.catalog or DEFAULT_CATALOG)
    with (
        BinanceClient(job.base_url or DEFAULT_BINANCE_BASE_URL) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            console=err_console,
            disable=not err_console.is_terminal,
            transient=True,
        ) as bars_progress,
    ):
        tasks: dict[tuple[str, str], TaskID] = {}

        def progress(symbol: str, interval: str, done: int, total: int) -> None:
            key = (symbol, interval)
            if key not in tasks:
                tasks[key] = bars_progress.add_task(f"{symbol} {interval}", total=total)
            bars_progress.update(tasks[key], completed=done, total=total)

        results = sync_klines(
            cat,
            client,
            job.symbols,
            job.intervals,
            now=datetime.now(UTC),
            since=job.since,
            exchange=job.exchange,
            progress=progress,
        )
    _print_results(cat, results)
    failed = [r for r in results if r.error is not None]
    if failed:
        for result in failed:
            detail = escape(result.error or "")
            err_console.print(
                f"[bold red]error:[/] {result.symbol} {result.interval}: {detail}",
                highlight=False,
            )
        raise typer.Exit(1)


def _print_results(cat: Catalog, results: list[SyncResult]) -> None:
    table = Table(title=f"sync into {escape(cat.root)}", title_justify="left")
    for name in ("symbol", "interval", "from (UTC)", "to (UTC, excl.)"):
        table.add_column(name)
    for name in ("fetched", "added"):
        table.add_column(name, justify="right")
    table.add_column("last bar (UTC)")
    table.add_column("status")
    for r in results:
        if r.error is not None:
            status = "[red]failed[/]"
        elif r.start is None:
            status = "up to date"
        else:
            status = "[green]ok[/]"
        table.add_row(
            r.symbol,
            r.interval,
            _fmt_time(r.start),
            _fmt_time(r.end) if r.start is not None else "—",
            f"{r.rows_fetched:,}",
            f"{r.rows_new:,}",
            _fmt_time(r.last),
            status,
        )
    console.print(table)
    added = sum(r.rows_new for r in results)
    console.print(f"{added:,} new bar(s) in {len(results)} dataset(s)")
