"""CLI command: ``quantforge validate EXPERIMENT`` (walk-forward, DSR, PBO, Monte Carlo, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantforge.cli._app import app, console
from quantforge.cli.results import StoreOption, format_value, open_store
from quantforge.errors import ConfigError

if TYPE_CHECKING:
    from quantforge.experiment.validation import ValidationReport

__all__ = ["app", "print_validation", "validate_command"]


def _pct(value: float | int | None) -> str:
    return "-" if value is None else f"{float(value) * 100:.2f} %"


def print_validation(report: ValidationReport) -> None:
    """Print the side-by-side table and the overfitting statistics."""
    wf = report.walk_forward
    table = Table(title=f"{report.strategy} {report.symbol}: baseline vs optimised vs OOS")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column("optimised (IS)", justify="right")
    if wf is not None:
        table.add_column("walk-forward OOS", justify="right")
    for key in ("total_return", "sharpe", "max_drawdown", "n_trades"):
        row = [key, format_value(report.baseline.metrics.get(key))]
        row.append(format_value(report.optimised.metrics.get(key)))
        if wf is not None:
            row.append(format_value(wf.oos_metrics.get(key)))
        table.add_row(*row)
    console.print(table)
    stats = Table(title="overfitting")
    stats.add_column("statistic")
    stats.add_column("value", justify="right")
    stats.add_row("trials the search ran", str(report.n_trials))
    stats.add_row("PSR", format_value(report.dsr.psr))
    stats.add_row("deflated Sharpe ratio", format_value(report.dsr.dsr))
    if report.pbo is not None:
        stats.add_row(
            f"PBO ({report.pbo.n_combinations} CSCV splits)", format_value(report.pbo.pbo)
        )
    stats.add_row("minimum backtest length (years)", format_value(report.min_backtest_years))
    stats.add_row("data length (years)", format_value(report.data_years))
    if wf is not None:
        stats.add_row("walk-forward efficiency", format_value(wf.efficiency))
        stats.add_row("consistency", _pct(wf.consistency))
        stats.add_row("flagged windows", ", ".join(map(str, wf.flagged)) or "none")
    for mc in (report.bootstrap, report.shuffle):
        if mc is not None:
            ri, di = mc.return_interval, mc.drawdown_interval
            stats.add_row(
                f"{mc.method} {mc.confidence:.0%} return",
                f"[{_pct(ri.low)}, {_pct(ri.high)}]",
            )
            stats.add_row(
                f"{mc.method} {mc.confidence:.0%} max drawdown",
                f"[{_pct(di.low)}, {_pct(di.high)}]",
            )
    console.print(stats)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


@app.command("validate")
def validate_command(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment file (optimize/walk_forward/validation sections).")
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="optuna (the study) or grid: where optimised params come from."
        ),
    ] = None,
    no_walk_forward: Annotated[
        bool, typer.Option("--no-walk-forward", help="Skip the walk-forward analysis.")
    ] = False,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy to validate.")
    ] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Symbol to validate.")] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", "-x", help="local or ray (with --workers > 1).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Concurrent Optuna trial workers.")
    ] = 1,
    store: StoreOption = None,
    catalog: Annotated[
        str | None, typer.Option("--catalog", help="Catalog to read bars from.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML report path (default <results>/<name>/)."),
    ] = None,
) -> None:
    """Validate the optimised strategy: walk-forward, DSR, PBO, Monte Carlo and an HTML report."""
    from quantforge.config import Settings
    from quantforge.experiment.optimize import choose_target, load_optimize_file
    from quantforge.experiment.runner import build_executor, experiment_dir, load_bars
    from quantforge.experiment.validation import ValidationSpec, run_validation
    from quantforge.experiment.walkforward import WalkForwardSpec
    from quantforge.report.validation import write_validation_html

    loaded = load_optimize_file(experiment)
    config = loaded.config
    try:
        vspec = ValidationSpec.model_validate(loaded.validation or {})
        if source is not None:
            vspec = vspec.model_copy(update={"source": source})
            ValidationSpec.model_validate(vspec.model_dump())
        wf = (
            None
            if no_walk_forward or loaded.walk_forward is None
            else WalkForwardSpec.model_validate(loaded.walk_forward)
        )
    except ValueError as e:
        raise ConfigError(f"{experiment}: {e}") from e
    if catalog is None and config.data.catalog is None:
        catalog = Settings().catalog
    url = store or config.store_url()
    _, chosen = choose_target(config, strategy, symbol)
    frames = load_bars(config, catalog)
    pool = build_executor(config, kind=executor, workers=workers) if workers > 1 else None
    try:
        with (
            open_store(url, config.outputs.results_dir) as db,
            console.status("validating") as status,
        ):
            report = run_validation(
                config,
                bars=frames[chosen],
                storage_url=url,
                store=db,
                optimize=loaded.optimize,
                walk_forward=wf,
                spec=vspec,
                strategy=strategy,
                symbol=chosen,
                executor=pool,
                progress=lambda step: status.update(f"validating: {step}"),
            )
    finally:
        if pool is not None:
            pool.close()
    print_validation(report)
    folder = experiment_dir(config)
    page = output or folder / f"validation-{report.strategy}-{report.symbol}.html"
    write_validation_html(report, page)
    summary = page.with_suffix(".json")
    summary.write_text(json.dumps(report.summary(), indent=1) + "\n")
    console.print(f"report: {page}")
    console.print(f"summary: {summary}")
