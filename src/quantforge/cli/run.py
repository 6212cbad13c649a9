"""CLI commands: ``quantforge run EXPERIMENT`` and ``quantforge rerun RUN_ID``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from quantforge.cli._app import app, console
from quantforge.cli.results import DEFAULT_STORE, StoreOption, format_value, open_store, runs_table
from quantforge.errors import NotFoundError

if TYPE_CHECKING:
    import polars as pl

    from quantforge.experiment.config import ExperimentConfig
    from quantforge.experiment.runner import ExperimentOutcome, SweepProgress
    from quantforge.store import ResultStore

__all__ = ["app", "best_run_tearsheet", "execute", "print_outcome"]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} runs/s" if speed else "-- runs/s", style="progress.data.speed")


def execute(
    config: ExperimentConfig,
    *,
    store: ResultStore,
    executor_kind: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    catalog: str | None = None,
    bars: Mapping[str, pl.DataFrame] | None = None,
    results_dir: str | Path | None = None,
    tag: str = "",
) -> ExperimentOutcome:
    """Run an experiment with a Rich progress bar (done/total, rate, ETA, best so far)."""
    from quantforge.experiment.runner import build_executor, run_experiment

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[best]}"),
    )
    metric = config.ranking.metric
    executor = build_executor(config, kind=executor_kind, workers=workers, address=address)
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(escape(config.name), total=config.n_runs, best="")

            def update(p: SweepProgress) -> None:
                best = (
                    f"best {metric} {format_value(p.best_value)}"
                    if p.best_value is not None
                    else ""
                )
                if p.errors:
                    best += f"  [red]{p.errors} errors[/]"
                if p.lost:
                    best += f"  [yellow]{p.lost} lost[/]"
                progress.update(task, completed=p.done, best=best)

            return run_experiment(
                config,
                store=store,
                executor=executor,
                bars=bars,
                catalog=catalog,
                results_dir=results_dir,
                tag=tag,
                progress=update,
            )
    finally:
        executor.close()


def _swept_only(frame: pl.DataFrame, config: ExperimentConfig) -> pl.DataFrame:
    import polars as pl

    # show the parameters the grid varies; the fixed ones (defaults) only make the table wide
    swept = {
        name
        for spec in config.all_strategies
        for name, dimension in spec.space.dimensions.items()
        if len(dimension.values()) > 1
    }
    if not swept or "params" not in frame.columns:
        return frame
    texts = [
        json.dumps({k: v for k, v in json.loads(text).items() if k in swept})
        for text in frame["params"].to_list()
    ]
    return frame.with_columns(pl.Series("params", texts, dtype=pl.String))


def best_run_tearsheet(store: ResultStore, run_id: int) -> RenderableType:
    """Return the console tear sheet of a stored run (metrics; dates when its equity is stored).

    Runs outside an experiment's top N keep no equity artifact; their tear sheet is the headline
    metrics table alone.
    """
    from quantforge.report.data import run_view_from_store
    from quantforge.report.tearsheet import metrics_table, tearsheet

    try:
        return tearsheet(run_view_from_store(store, run_id, load_bars=False))
    except NotFoundError:
        run = store.get_run(run_id)
        return metrics_table(run.metrics, title=f"run {run_id}: {escape(run.strategy)}")


def print_outcome(outcome: ExperimentOutcome, store: ResultStore, config: ExperimentConfig) -> None:
    """Print the top runs (swept parameters only), the best run's tear sheet, and the outputs."""
    top_n = config.ranking.top_n
    frame = store.runs(
        outcome.experiment_id,
        order_by=outcome.metric,
        descending=outcome.descending,
        limit=top_n,
    )
    frame = _swept_only(frame, config)
    title = f"top {top_n} of {escape(outcome.name)} by {outcome.metric}"
    try:
        from quantforge.report.tearsheet import top_runs_table

        console.print(
            top_runs_table(
                frame,
                metric=outcome.metric,
                descending=outcome.descending,
                top_n=top_n,
                title=title,
            )
        )
    except ImportError:
        console.print(runs_table(frame, outcome.metric, title))
    if frame.height:
        console.print(best_run_tearsheet(store, int(frame["id"][0])))
    state = "resumed" if outcome.resumed else "new"
    console.print(
        f"experiment {outcome.experiment_id} ({state}): {outcome.total} combinations, "
        f"{outcome.skipped} already stored, ran {outcome.ran} "
        f"({outcome.ok} ok, {outcome.errors} errors, {outcome.lost} lost) "
        f"in {outcome.elapsed_s:.1f} s"
    )
    if outcome.lost:
        console.print("[yellow]lost runs were not stored; run the same command again to finish[/]")
    console.print(f"summary: {outcome.summary_csv}")
    console.print(f"run files: {outcome.run_files} in {outcome.output_dir / 'runs'}")
    if outcome.plots:
        console.print(f"plots: {len(outcome.plots)} PNGs in {outcome.plots[0].parent}")
    if outcome.report_html is not None:
        console.print(f"report: {outcome.report_html}")
    for note in outcome.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


@app.command("run")
def run(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (.yaml, .yml or .toml).")],
    executor: Annotated[
        str | None,
        typer.Option("--executor", "-x", help="local or ray (default: the file's executor)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes / Ray CPUs.")
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (with --executor ray).")
    ] = None,
    store: StoreOption = None,
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog", help="Catalog to read bars from (default: the file's data.catalog)."
        ),
    ] = None,
) -> None:
    """Run (or resume) a parameter sweep: only combinations not yet stored are computed."""
    from quantforge.config import Settings
    from quantforge.experiment.config import load_experiment
    from quantforge.strategies.registry import parameter_names

    config = load_experiment(experiment, strategy_parameters=parameter_names)
    settings = Settings()
    if catalog is None and config.data.catalog is None:
        catalog = settings.catalog
    url = store or config.store_url()
    with open_store(url, config.outputs.results_dir) as db:
        try:
            outcome = execute(
                config,
                store=db,
                executor_kind=executor,
                workers=workers,
                address=address,
                catalog=catalog,
            )
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted:[/] finished runs are stored; run the same command again "
                "to compute only what is missing"
            )
            raise typer.Exit(130) from None
        print_outcome(outcome, db, config)
    console.print(f"store: {url}")


@app.command("rerun")
def rerun_command(
    run_id: Annotated[int, typer.Argument(help="Run id (see `quantforge results list -e ID`).")],
    store: StoreOption = None,
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", help="Catalog to read bars from (default: the stored config's)."),
    ] = None,
) -> None:
    """Re-run one stored combination from its stored config and check the metrics are identical."""
    from quantforge.experiment.runner import rerun

    url = store or DEFAULT_STORE
    with open_store(url) as db:
        outcome = rerun(db, run_id, catalog=catalog)
    table = Table(title=f"run {run_id}: {outcome.strategy} {outcome.symbol}")
    table.add_column("metric")
    table.add_column("stored", justify="right")
    table.add_column("re-run", justify="right")
    table.add_column("", justify="center")
    for name in sorted(set(outcome.stored) | set(outcome.recomputed)):
        a, b = outcome.stored.get(name), outcome.recomputed.get(name)
        same = repr(a) == repr(b)
        table.add_row(
            name, format_value(a), format_value(b), "[green]=[/]" if same else "[red]≠[/]"
        )
    console.print(table)
    console.print(
        f"data fingerprint: stored {outcome.fingerprint_stored}, now {outcome.fingerprint_now}"
    )
    if outcome.identical:
        console.print("[green]identical:[/] every metric reproduced exactly")
        return
    for line in outcome.differences:
        console.print(f"[red]differs:[/] {escape(line)}")
    raise typer.Exit(1)
