"""CLI command: ``quantforge optimize EXPERIMENT`` (Optuna search stored in the results DB)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from quantforge.cli._app import app, console
from quantforge.cli.results import StoreOption, format_value, open_store

if TYPE_CHECKING:
    from quantforge.experiment.optimize import OptimizationResult, OptimizeProgress

__all__ = ["app", "optimize_command", "print_optimization"]


def print_optimization(result: OptimizationResult) -> None:
    """Print the stages of a search and the best parameters."""
    table = Table(title=f"{result.strategy} {result.symbol}: best {result.metric} per stage")
    for column in ("stage", "searched", f"best {result.metric}", "complete", "pruned", "failed"):
        table.add_column(column)
    for stage in result.stages:
        table.add_row(
            escape(stage.name),
            ", ".join(stage.searched),
            format_value(stage.best_value),
            str(stage.n_complete),
            str(stage.n_pruned),
            str(stage.n_failed),
        )
    console.print(table)
    params = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
    console.print(f"best parameters: {escape(params)}")
    console.print(f"studies: {', '.join(result.study_names)}  ({result.elapsed_s:.1f} s)")


@app.command("optimize")
def optimize_command(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment file with an optional optimize: section.")
    ],
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="fast (40 trials), balanced (200), thorough (1000)."),
    ] = None,
    sampler: Annotated[
        str | None, typer.Option("--sampler", help="tpe, cmaes, random or grid.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", "-n", help="Trials per study (all stages).")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy (when the file has several).")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Symbol (when the file has several).")
    ] = None,
    study: Annotated[str | None, typer.Option("--study", help="Study name prefix.")] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", "-x", help="local or ray (with --workers > 1).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Concurrent trial workers (1 = in process).")
    ] = 1,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (with --executor ray).")
    ] = None,
    store: StoreOption = None,
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", help="Catalog to read bars from (default: the file's)."),
    ] = None,
) -> None:
    """Search the experiment's parameter space with Optuna; resumes a stopped study."""
    from quantforge.config import Settings
    from quantforge.experiment.optimize import choose_target, load_optimize_file, run_optimization
    from quantforge.experiment.runner import build_executor, load_bars

    loaded = load_optimize_file(experiment)
    config = loaded.config
    updates = {
        k: v
        for k, v in {
            "profile": profile,
            "sampler": sampler,
            "n_trials": trials,
            "study": study,
        }.items()
        if v is not None
    }
    spec = type(loaded.optimize).model_validate({**loaded.optimize.model_dump(), **updates})
    if catalog is None and config.data.catalog is None:
        catalog = Settings().catalog
    url = store or config.store_url()
    _, chosen = choose_target(config, strategy, symbol)
    frames = load_bars(config, catalog)
    pool = (
        build_executor(config, kind=executor, workers=workers, address=address)
        if workers > 1
        else None
    )
    metric = config.ranking.metric
    with open_store(url, config.outputs.results_dir):  # migrations first, then Optuna's tables
        try:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[best]}"),
                console=console,
            ) as progress:
                tasks: dict[str, TaskID] = {}

                def update(p: OptimizeProgress) -> None:
                    if p.stage not in tasks:
                        tasks[p.stage] = progress.add_task(escape(p.stage), total=p.total, best="")
                    best = (
                        f"best {metric} {format_value(p.best_value)}"
                        if p.best_value is not None
                        else ""
                    )
                    progress.update(tasks[p.stage], completed=p.done, total=p.total, best=best)

                result = run_optimization(
                    config,
                    spec,
                    storage_url=url,
                    bars=frames[chosen],
                    strategy=strategy,
                    symbol=symbol,
                    executor=pool,
                    workers=workers,
                    progress=update,
                )
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted:[/] finished trials are stored; run the same command again "
                "to continue the study"
            )
            raise typer.Exit(130) from None
        finally:
            if pool is not None:
                pool.close()
    print_optimization(result)
    console.print(f"store: {url}")
