"""CLI commands ``quantforge data import|check|resample|bars`` (wiring over `quantforge.data`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantforge.cli._app import CatalogOption, ExchangeOption, IntervalOption, console, data_app
from quantforge.defaults import DEFAULT_CATALOG
from quantforge.errors import ConfigError

if TYPE_CHECKING:
    from quantforge.data.ingest import ImportReport
    from quantforge.data.validate import CheckReport

__all__ = ["bars_command", "check_command", "import_command", "resample_command"]


def _fmt(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            msg = f"--map expects old=new (e.g. --map timestamp=open_time), got {item!r}"
            raise ConfigError(msg)
        mapping[old.strip()] = new.strip()
    return mapping


def _check_table(report: CheckReport, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column("detail")
    for name, count, detail in report.issues():
        style = "green" if count == 0 else "dim" if name == "zero-volume bars" else "yellow"
        table.add_row(name, f"[{style}]{count:,}[/]", escape(detail))
    return table


def _print_import(report: ImportReport) -> None:
    table = Table(title="files read", title_justify="left")
    for name in ("file", "source", "rows", "time unit", "checksum", "close-time mismatches"):
        table.add_column(name)
    for f in report.files:
        checksum = {True: "ok", None: "—", False: "bad"}[f.checksum_verified]
        table.add_row(
            escape(Path(f.path).name),
            f.source,
            f"{f.rows:,}",
            f.time_unit or "—",
            checksum,
            f"{f.close_time_mismatches:,}",
        )
    console.print(table)
    if report.check is not None:
        console.print(_check_table(report.check, "checks (whole batch)"))
    if report.trade_id_gaps:
        console.print(f"[yellow]{report.trade_id_gaps:,} trade id(s) missing between rows[/]")
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} row(s) quarantined[/] → "
            f"{escape(report.quarantine_path or '')}"
        )
    write = report.write
    new = write.rows_new if write is not None else 0
    total = write.rows_total if write is not None else 0
    console.print(
        f"[bold]{report.symbol} {report.interval}[/] ({report.exchange}): "
        f"{report.rows_read:,} read, {report.rows_clean:,} written ({new:,} new), "
        f"{total:,} in the dataset"
    )


@data_app.command("import")
def import_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files: Binance dump .zip/.csv, any CSV or Parquet.")
    ],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Dataset symbol, e.g. BTCUSDT.")],
    interval: Annotated[
        str | None, typer.Option("--interval", "-i", help="Bar interval (not for trades).")
    ] = None,
    exchange: ExchangeOption = "binance",
    catalog: CatalogOption = DEFAULT_CATALOG,
    trades: Annotated[bool, typer.Option("--trades", help="The files hold trades.")] = False,
    agg_trades: Annotated[
        bool, typer.Option("--agg-trades", help="The files hold aggregate trades.")
    ] = False,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a column: old=new (repeatable), for non-Binance files."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Zone of naive timestamps, e.g. America/New_York (default UTC)."),
    ] = None,
    no_checksum: Annotated[
        bool, typer.Option("--no-checksum", help="Skip the sibling .CHECKSUM verification.")
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            "--quarantine", help="Folder for quarantined rows (default CATALOG/_quarantine)."
        ),
    ] = None,
) -> None:
    """Import files into the catalog: parse, check, quarantine bad rows, write.

    Every file is parsed and checked before anything is written (a bad file changes nothing).

    Rows that break an invariant go to a quarantine Parquet file with a reason column.

    Example: quantforge data import BTCUSDT-1m-2024-12-*.zip --symbol BTCUSDT --interval 1m
    """
    from quantforge.data.catalog import Catalog
    from quantforge.data.ingest import import_files
    from quantforge.data.schema import AGG_TRADES_KIND, TRADES_KIND, normalize_interval

    if trades and agg_trades:
        msg = "give at most one of --trades and --agg-trades"
        raise ConfigError(msg)
    if trades or agg_trades:
        kind = TRADES_KIND if trades else AGG_TRADES_KIND
    elif interval is None:
        msg = "--interval is required for bars (e.g. --interval 1m); use --trades for trades"
        raise ConfigError(msg)
    else:
        kind = normalize_interval(interval)
    report = import_files(
        [str(p) for p in paths],
        Catalog(catalog),
        symbol,
        kind,
        exchange=exchange,
        mapping=_parse_mapping(mapping),
        tz=tz,
        verify_checksum=not no_checksum,
        quarantine_dir=str(quarantine) if quarantine is not None else None,
    )
    _print_import(report)


@data_app.command("check")
def check_command(
    symbol: Annotated[str, typer.Argument(help="Dataset symbol, e.g. BTCUSDT.")],
    interval: IntervalOption,
    exchange: ExchangeOption = "binance",
    catalog: CatalogOption = DEFAULT_CATALOG,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with code 1 when anything is found.")
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Write rows that break invariants to this Parquet file."),
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First bar (UTC, ISO).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End, exclusive (UTC, ISO).")] = None,
) -> None:
    """Check stored bars: duplicates, grid, gaps, OHLC invariants, NaN, outliers.

    With --strict the exit code is 1 when anything is found (zero-volume bars do not count).

    Example: quantforge data check BTCUSDT --interval 15m --strict
    """
    from quantforge.data.catalog import Catalog
    from quantforge.data.ingest import write_quarantine
    from quantforge.data.schema import normalize_interval
    from quantforge.data.validate import check_bars, split_quarantine

    cat = Catalog(catalog)
    iv = normalize_interval(interval)
    bars = cat.read_bars(symbol, iv, exchange=exchange, start=start, end=end)
    report = check_bars(bars, iv)
    title = (
        f"{symbol} {iv} ({exchange}): {report.rows:,} bars, "
        f"{_fmt(report.first)} → {_fmt(report.last)} UTC"
    )
    console.print(_check_table(report, title))
    for gap in report.top_gaps:
        console.print(f"  gap: {gap.missing:,} bar(s) missing from {_fmt(gap.start)} UTC")
    if quarantine is not None:
        if report.quarantinable:
            _clean, bad = split_quarantine(bars, report)
            written = write_quarantine(bad, quarantine)
            console.print(f"[yellow]{bad.height:,} row(s) written to {escape(written)}[/]")
        else:
            console.print("no rows break an invariant; no quarantine file written")
    if report.ok:
        console.print("[green]no problems found[/]")
    elif strict:
        raise typer.Exit(code=1)


@data_app.command("resample")
def resample_command(
    symbol: Annotated[str, typer.Argument(help="Dataset symbol, e.g. BTCUSDT.")],
    source: Annotated[str, typer.Option("--from", help="Stored interval to read, e.g. 1m.")],
    target: Annotated[str, typer.Option("--to", help="Interval to build, e.g. 1h, 1d, 1w, 1M.")],
    exchange: ExchangeOption = "binance",
    catalog: CatalogOption = DEFAULT_CATALOG,
    drop_incomplete: Annotated[
        bool,
        typer.Option(
            "--drop-incomplete",
            help="Do not write bars built from fewer source bars than they should hold.",
        ),
    ] = False,
) -> None:
    """Resample stored bars to a coarser interval and write them into the catalog.

    Incomplete bars (ends of the data, gaps) are written and counted, unless --drop-incomplete.

    Example: quantforge data resample BTCUSDT --from 1m --to 1h --drop-incomplete
    """
    from quantforge.data.catalog import Catalog
    from quantforge.data.resample import resample_bars
    from quantforge.data.schema import normalize_interval

    cat = Catalog(catalog)
    src, dst = normalize_interval(source), normalize_interval(target)
    bars = cat.read_bars(symbol, src, exchange=exchange)
    out = resample_bars(bars, src, dst, drop_incomplete=drop_incomplete)
    incomplete = out.height - int(out["complete"].sum())
    write = cat.write_bars(
        out.drop("source_bars", "complete"), symbol=symbol, interval=dst, exchange=exchange
    )
    console.print(
        f"[bold]{symbol} {src} → {dst}[/]: {bars.height:,} bars in, {out.height:,} out "
        f"({write.rows_new:,} new, {write.rows_total:,} in the dataset)"
    )
    if incomplete:
        console.print(
            f"[yellow]{incomplete:,} bar(s) are incomplete[/] (ends of the data or gaps); "
            "rerun with --drop-incomplete to leave them out"
        )


@data_app.command("bars")
def bars_command(
    symbol: Annotated[str, typer.Argument(help="Dataset symbol whose trades are stored.")],
    kind: Annotated[str, typer.Option("--kind", help="tick, volume or dollar.")],
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Amount per bar: trades, base quantity or quote value."),
    ] = None,
    per_day: Annotated[
        float | None,
        typer.Option("--per-day", help="Derive the threshold from a target bar count per day."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the bars to a .parquet or .csv file.")
    ] = None,
    agg_trades: Annotated[
        bool, typer.Option("--agg-trades", help="Use stored aggTrades instead of trades.")
    ] = False,
    exchange: ExchangeOption = "binance",
    catalog: CatalogOption = DEFAULT_CATALOG,
    start: Annotated[str | None, typer.Option("--start", help="First trade (UTC, ISO).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End, exclusive (UTC, ISO).")] = None,
) -> None:
    """Build tick, volume or dollar bars from stored trades.

    A bar closes at the first trade that takes its total to the threshold (the whole trade).

    Example: quantforge data bars BTCUSDT --kind dollar --per-day 50 --out btc-dollar.parquet
    """
    import polars as pl

    from quantforge.bars import BAR_KINDS, trade_bars
    from quantforge.data.catalog import Catalog
    from quantforge.data.schema import AGG_TRADES_KIND, TRADES_KIND

    if kind not in BAR_KINDS:
        msg = f"--kind must be one of {', '.join(BAR_KINDS)}, got {kind!r}"
        raise ConfigError(msg)
    cat = Catalog(catalog)
    trades = cat.read_trades(
        symbol,
        kind=AGG_TRADES_KIND if agg_trades else TRADES_KIND,
        exchange=exchange,
        start=start,
        end=end,
    )
    bars = trade_bars(trades, kind, threshold, per_day=per_day)
    if out is not None:
        if out.suffix.lower() == ".csv":
            bars.write_csv(out)
        else:
            bars.write_parquet(out, compression="zstd")
        console.print(
            f"{bars.height:,} {kind} bars from {trades.height:,} trades → {escape(str(out))}"
        )
        return
    table = Table(title=f"{symbol} {kind} bars ({bars.height:,} from {trades.height:,} trades)")
    show = bars.head(10)
    for name in ("open_time", "close", "volume", "dollar_value", "trades", "complete"):
        table.add_column(name, justify="right")
    for row in show.select(
        pl.col("open_time").dt.strftime("%Y-%m-%d %H:%M:%S"),
        "close",
        "volume",
        "dollar_value",
        "trades",
        "complete",
    ).iter_rows():
        table.add_row(*(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
    if bars.height > show.height:
        console.print(f"… {bars.height - show.height:,} more; use --out FILE to save them all")
