"""The Typer application objects and options shared by every command module.

Command modules (``cli/data_*.py`` …) import `app` / `data_app` from here and register their
commands on them; `quantforge.cli` imports those modules so the commands exist.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from quantforge import __version__
from quantforge.defaults import DEFAULT_BINANCE_BASE_URL, DEFAULT_CATALOG
from quantforge.logs import configure_logging

#: human-facing output (tables, summaries); diagnostics go through `logging` to stderr.
console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="quantforge",
    help="Research and backtest trading strategies fast and honestly (crypto first, equities too).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
data_app = typer.Typer(
    help=(
        "Download, import, check, resample and list market data in the Parquet catalog.\n\n"
        "The catalog is --catalog, else $QUANTFORGE_CATALOG, else ./" + DEFAULT_CATALOG + "."
    ),
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

CatalogOption = Annotated[
    str,
    typer.Option(
        "--catalog",
        envvar="QUANTFORGE_CATALOG",
        help="Catalog location: a local folder or an s3://bucket/prefix URL.",
        show_default=True,
    ),
]
BaseUrlOption = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="QUANTFORGE_BINANCE_BASE_URL",
        help="Binance REST base URL (a test server, Binance US or the testnet).",
    ),
]
ExchangeOption = Annotated[
    str, typer.Option("--exchange", help="Exchange name used as the catalog partition.")
]
IntervalOption = Annotated[
    str, typer.Option("--interval", "-i", help="Bar interval, e.g. 1m, 15m, 1h, 1d.")
]

DEFAULT_BASE_URL = DEFAULT_BINANCE_BASE_URL


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"quantforge {__version__}")
        raise typer.Exit


@app.callback()
def root(
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = "WARNING",
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Write log records as one JSON object per line.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors (and DEBUG logs).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Quantforge: data, backtests, sweeps and reports from one command."""
    configure_logging("DEBUG" if debug else log_level, json_output=log_json)
