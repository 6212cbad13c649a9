"""CLI command: ``quantforge demo`` — the main job, on real data whenever it can be had.

Where the bars come from, in order:

1. the catalog (``--catalog``, default ``./catalog``) when it already holds Binance spot BTCUSDT
   15m bars for the demo's year;
2. the real data folder (``$QUANTFORGE_SHARED_DATA``, else ``../shared/data`` beside the checkout
   or the working folder): ``BTCUSDT-15m.parquet`` is imported into the catalog through the
   regular importer (parsed, checked, bad rows quarantined);
3. Binance's public REST API when online (one short try; the download is checked and stored);
4. otherwise a seeded synthetic random walk — said loudly on the console and carried in the
   experiment name, the results folder and every output file name (``SYNTHETIC``), so its numbers
   are never taken for real ones.

It then runs the shipped experiment (``quantforge/examples/naive_vs_regime_btc_15m.yaml``: plain
vs regime-filtered MA cross, 8 × 8 grid each, 128 runs) into ``--results`` (default
``./results``; store ``sqlite:///<results>/results.db``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from quantforge.cli._app import app, console
from quantforge.errors import DataError, QuantforgeError

if TYPE_CHECKING:
    import polars as pl

    from quantforge.config import Settings
    from quantforge.data.catalog import Catalog
    from quantforge.experiment.config import ExperimentConfig

log = logging.getLogger(__name__)

__all__ = ["app", "demo", "demo_config", "find_shared_file", "synthetic_bars"]

DEMO_FILE: Final = "naive_vs_regime_btc_15m.yaml"
SHARED_FILE: Final = "BTCUSDT-15m.parquet"
SYNTHETIC: Final = "SYNTHETIC"
#: share of the year's bar slots that must be present for catalog data to count as complete
_COVERAGE: Final = 0.95


def demo_config(
    catalog: str, results: str | Path, *, synthetic: bool = False, days: int | None = None
) -> ExperimentConfig:
    """Return the shipped demo experiment with the catalog and results folder filled in.

    ``days`` keeps only the first ``days`` days of the demo year (a quick check; the experiment
    name says so).
    """
    import yaml

    from quantforge.experiment.config import parse_experiment
    from quantforge.strategies.registry import parameter_names

    text = resources.files("quantforge.examples").joinpath(DEMO_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    document["data"]["catalog"] = catalog
    document.setdefault("outputs", {})["results_dir"] = str(Path(results).absolute())
    if days is not None:
        start = dt.date.fromisoformat(str(document["data"]["start"]))
        document["data"]["end"] = (start + dt.timedelta(days=days)).isoformat()
        document["name"] = f"{document['name']}-first-{days}d"
    if synthetic:
        document["name"] = f"{document['name']}-{SYNTHETIC}"
        document["description"] = (
            f"{SYNTHETIC} DATA (seeded random walk, not market prices). "
            + str(document.get("description", ""))
        )
    return parse_experiment(
        document, source=f"quantforge/examples/{DEMO_FILE}", strategy_parameters=parameter_names
    )


def find_shared_file(settings: Settings) -> Path | None:
    """Return the real BTCUSDT 15m file of the shared data folder, or None."""
    candidates: list[Path] = []
    if settings.shared_data is not None:
        candidates.append(Path(settings.shared_data))
    else:
        repo = Path(__file__).resolve().parents[3]
        candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for folder in candidates:
        path = folder / SHARED_FILE
        if path.is_file():
            return path
    return None


def synthetic_bars(
    start: dt.datetime, end: dt.datetime, interval: str, seed: int = 7
) -> pl.DataFrame:
    """Return a seeded random walk of OHLCV bars in ``[start, end)`` (NOT market data)."""
    import numpy as np
    import polars as pl

    from quantforge.data.schema import interval_ms

    step = interval_ms(interval)
    first = int(start.timestamp() * 1000)
    n = (int(end.timestamp() * 1000) - first) // step
    rng = np.random.default_rng(seed)
    # regime-switching volatility so that trend and activity filters have something to find
    vol = np.where(np.sin(np.arange(n) / 2000.0) > 0, 0.004, 0.0025)
    returns = rng.normal(0.00002, 1.0, n) * vol
    close = 40_000.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([40_000.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 1.0, n)) * vol * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.gamma(2.0, 50.0, n)
    return pl.DataFrame(
        {
            "open_time": pl.Series(first + np.arange(n, dtype=np.int64) * step).cast(
                pl.Datetime("ms", "UTC")
            ),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


def _expected_bars(config: ExperimentConfig) -> int:
    from quantforge.data.schema import interval_ms

    span = config.data.end - config.data.start
    return int(span.total_seconds() * 1000) // interval_ms(config.data.interval)


def _catalog_bars(catalog: Catalog, config: ExperimentConfig) -> pl.DataFrame | None:
    data = config.data
    try:
        bars = catalog.read_bars(
            data.symbols[0], data.interval, exchange=data.exchange, start=data.start, end=data.end
        )
    except QuantforgeError:
        return None
    return bars if bars.height >= _COVERAGE * _expected_bars(config) else None


def _import_shared(path: Path, catalog: Catalog, config: ExperimentConfig) -> str:
    import polars as pl

    from quantforge.data.ingest import import_files

    data = config.data
    start_ms = int(data.start.timestamp() * 1000)
    end_ms = int(data.end.timestamp() * 1000)
    frame = pl.read_parquet(path)
    time = frame["open_time"]
    if isinstance(time.dtype, pl.Datetime):
        frame = frame.filter((pl.col("open_time") >= data.start) & (pl.col("open_time") < data.end))
    else:
        frame = frame.filter((pl.col("open_time") >= start_ms) & (pl.col("open_time") < end_ms))
    if frame.height == 0:
        raise DataError(f"{path} holds no bars in [{data.start:%Y-%m-%d}, {data.end:%Y-%m-%d})")
    with tempfile.TemporaryDirectory() as tmp:
        # the slice goes through the regular importer: parsed, checked, bad rows quarantined
        piece = Path(tmp) / f"{data.symbols[0]}-{data.interval}-demo-slice.parquet"
        frame.write_parquet(piece)
        report = import_files(
            [piece], catalog, data.symbols[0], data.interval, exchange=data.exchange
        )
    check = report.check
    detail = f"{report.rows_clean} bars imported, {report.quarantined} quarantined"
    if check is not None:
        detail += f", {check.missing_slots} missing slots, {check.outliers} outliers flagged"
    return detail


def _download(catalog: Catalog, config: ExperimentConfig, settings: Settings) -> str:
    from quantforge.data.sources.binance import BinanceClient
    from quantforge.data.validate import check_bars

    data = config.data
    with BinanceClient(settings.binance_base_url, timeout_s=5.0, max_retries=1) as client:
        bars = client.fetch_klines(data.symbols[0], data.interval, data.start, data.end)
    report = check_bars(bars, data.interval)
    if report.quarantinable:
        raise DataError(f"downloaded bars fail the checks: {report.issues()[:3]}")
    catalog.write_bars(bars, symbol=data.symbols[0], interval=data.interval)
    return f"{bars.height} bars downloaded from {settings.binance_base_url} and checked"


@app.command("demo")
def demo(
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", envvar="QUANTFORGE_CATALOG", help="Catalog (default ./catalog)."),
    ] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="Results folder (default ./results).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes (default: all cores).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never try to download from Binance.")
    ] = False,
    days: Annotated[
        int | None,
        typer.Option("--days", min=7, hidden=True, help="Only the first N days (quick check)."),
    ] = None,
) -> None:
    """Run the main job: naive vs regime-filtered MA cross on a year of BTCUSDT 15m bars."""
    import httpx

    from quantforge.cli.results import open_store
    from quantforge.cli.run import execute, print_outcome
    from quantforge.config import Settings
    from quantforge.data.catalog import Catalog

    settings = Settings()
    where = catalog or settings.catalog
    out = results or settings.results_dir
    config = demo_config(where, out, days=days)
    data = config.data
    cat = Catalog(where)
    bars: dict[str, pl.DataFrame] | None = None
    source: str | None = None
    if _catalog_bars(cat, config) is not None:
        source = f"the catalog {cat.root}"
    if source is None:
        shared = find_shared_file(settings)
        if shared is not None:
            console.print(f"importing {shared} ({data.start:%Y-%m-%d} … {data.end:%Y-%m-%d}) …")
            detail = _import_shared(shared, cat, config)
            source = f"{shared}, imported into {cat.root} ({detail})"
    if source is None and not offline and not os.environ.get("QUANTFORGE_OFFLINE"):
        console.print(f"no local data; trying Binance ({settings.binance_base_url}) …")
        try:
            source = _download(cat, config, settings)
        except (QuantforgeError, httpx.HTTPError, OSError) as e:
            console.print(f"[yellow]Binance not reachable:[/] {e}")
    if source is not None and _catalog_bars(cat, config) is None:
        raise DataError(
            f"{source}: the catalog still lacks {data.symbols[0]} {data.interval} bars for the "
            "demo year after the import; check it with `quantforge data check`"
        )
    tag = ""
    if source is None:
        console.print(
            "[bold red]NO MARKET DATA AVAILABLE OFFLINE.[/] Running on a [bold red]SYNTHETIC[/] "
            "seeded random walk instead — these numbers say nothing about real markets. "
            f"Put {SHARED_FILE} in $QUANTFORGE_SHARED_DATA or go online for real data."
        )
        out = Path(out) / SYNTHETIC  # its own store and folders: every path says SYNTHETIC
        config = demo_config(where, out, synthetic=True, days=days)
        bars = {data.symbols[0]: synthetic_bars(data.start, data.end, data.interval)}
        tag = SYNTHETIC
        source = f"{SYNTHETIC} random walk (seed 7), not market data"
    else:
        console.print(
            f"[bold green]REAL DATA:[/] Binance spot {data.symbols[0]} {data.interval}, "
            f"{data.start:%Y-%m-%d} … {data.end:%Y-%m-%d}, from {source}"
        )
    with open_store(config.store_url(), out) as store:
        outcome = execute(config, store=store, workers=workers, catalog=where, bars=bars, tag=tag)
        print_outcome(outcome, store, config)
    console.print(f"data: {source}")
    console.print(f"store: {config.store_url()}")
    if tag:
        console.print(f"[bold red]{SYNTHETIC} DATA[/] — every output file is labelled {SYNTHETIC}")
