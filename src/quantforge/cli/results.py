"""CLI commands: ``quantforge results list|show|best|export`` over the results store.

The store is ``--store`` (or ``$QUANTFORGE_STORE_URL``), else ``sqlite:///results/results.db`` —
the store ``quantforge demo`` writes and the default of an experiment whose ``results_dir`` is
``results``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from quantforge.cli._app import app, console
from quantforge.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from quantforge.store import ResultStore

__all__ = [
    "DEFAULT_STORE",
    "StoreOption",
    "app",
    "format_value",
    "open_store",
    "results_app",
    "runs_table",
]

#: the store used when neither --store nor QUANTFORGE_STORE_URL is given
DEFAULT_STORE = "sqlite:///results/results.db"

results_app = typer.Typer(
    help="List, inspect, rank and export stored experiment results.",
    no_args_is_help=True,
)
app.add_typer(results_app, name="results")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="QUANTFORGE_STORE_URL",
        help=f"Results database URL (default for `results`: {DEFAULT_STORE}).",
        show_default=False,
    ),
]


def open_store(url: str, results_dir: str | Path | None = None) -> ResultStore:
    """Open the store; a server database keeps its artifacts in ``<results_dir>/artifacts``."""
    import sqlalchemy as sa

    from quantforge.store import ResultStore

    artifacts: Path | None = None
    if sa.make_url(url).get_backend_name() != "sqlite":
        artifacts = Path(results_dir or "results") / "artifacts"
    return ResultStore.open(url, artifacts_dir=artifacts)


def format_value(value: object) -> str:
    """Return a compact text form of a metric value."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value)


def _params_text(params: Mapping[str, Any], keep: set[str] | None = None) -> str:
    items = params.items() if keep is None else ((k, v) for k, v in params.items() if k in keep)
    return ", ".join(f"{k}={v}" for k, v in items)


def runs_table(frame: pl.DataFrame, metric: str, title: str) -> Table:
    """Return a ranked table of runs (``ResultStore.runs`` output), swept parameters only."""
    table = Table(title=title)
    for name in ("rank", "id", "strategy", "symbol", "params", metric):
        table.add_column(name, justify="right" if name in ("rank", "id", metric) else "left")
    others = [m for m in ("total_return", "sharpe", "max_drawdown", "n_trades") if m != metric]
    for name in others:
        table.add_column(name, justify="right")
    param_columns = [c for c in frame.columns if c.startswith("param.")]
    varying = {
        c.removeprefix("param.") for c in param_columns if frame[c].drop_nulls().n_unique() > 1
    }
    for rank, row in enumerate(frame.iter_rows(named=True), start=1):
        params = json.loads(row["params"])
        table.add_row(
            str(rank),
            str(row["id"]),
            row["strategy"],
            row["symbol"] or "",
            escape(_params_text(params, varying or None)),
            format_value(row[metric]),
            *(format_value(row[m]) for m in others),
        )
    return table


def _store(url: str | None) -> ResultStore:
    return open_store(url or DEFAULT_STORE)


@results_app.command("list")
def list_results(
    experiment: Annotated[
        int | None, typer.Option("--experiment", "-e", help="List this experiment's runs.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown for --experiment.")] = 20,
    store: StoreOption = None,
) -> None:
    """List experiments, or the runs of one experiment (best first by its ranking metric)."""
    from quantforge.experiment.runner import stored_config

    with _store(store) as db:
        if experiment is None:
            frame = db.experiments()
            if frame.height == 0:
                console.print(
                    "no experiments stored yet; run `quantforge demo` or `quantforge run`"
                )
                return
            table = Table(title="experiments")
            for name in ("id", "name", "created", "runs", "errors", "data", "version", "git"):
                table.add_column(
                    name, justify="right" if name in ("id", "runs", "errors") else "left"
                )
            for row in frame.iter_rows(named=True):
                table.add_row(
                    str(row["id"]),
                    escape(row["name"]),
                    f"{row['created_at']:%Y-%m-%d %H:%M}",
                    str(row["n_runs"]),
                    str(row["n_errors"]),
                    (row["data_fingerprint"] or "")[:12],
                    row["code_version"],
                    (row["git_revision"] or "")[:8],
                )
            console.print(table)
            return
        config = stored_config(db.get_experiment(experiment)["config"])
        metric = config.ranking.metric
        frame = db.runs(
            experiment,
            order_by=metric,
            descending=config.ranking.direction == "max",
            limit=limit,
            status="all",
        )
        console.print(runs_table(frame, metric, f"experiment {experiment}: {config.name}"))


@results_app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="Run id (see `quantforge results list -e ID`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    store: StoreOption = None,
) -> None:
    """Show one run: parameters, every metric, provenance and artifacts."""
    from quantforge.experiment.runner import PROVENANCE

    with _store(store) as db:
        run = db.get_run(run_id)
        experiment = db.get_experiment(run.experiment_id)
    provenance = experiment["config"].get(PROVENANCE, {})
    info = {
        "run_id": run.id,
        "experiment_id": run.experiment_id,
        "experiment": experiment["name"],
        "run_key": run.run_key,
        "strategy": run.strategy,
        "symbol": run.symbol,
        "status": run.status,
        "error": run.error,
        "params": run.params,
        "metrics": {
            k: (v if not (isinstance(v, float) and not math.isfinite(v)) else str(v))
            for k, v in run.metrics.items()
        },
        "data_fingerprint": provenance.get("data_fingerprints", {}).get(
            run.symbol or "", experiment["data_fingerprint"]
        ),
        "package_version": experiment["code_version"],
        "git_revision": experiment["git_revision"],
        "duration_s": run.duration_s,
        "artifacts": {k: str(v) for k, v in run.artifacts.items()},
    }
    if as_json:
        console.print_json(json.dumps(info, default=str))
        return
    table = Table(title=f"run {run.id} — {escape(experiment['name'])}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in ("run_key", "strategy", "symbol", "status", "error"):
        if info[key] is not None:
            table.add_row(key, escape(str(info[key])))
    table.add_row("params", escape(_params_text(run.params)))
    for key in ("data_fingerprint", "package_version", "git_revision", "duration_s"):
        table.add_row(key, escape(format_value(info[key])))
    for kind, path in run.artifacts.items():
        table.add_row(f"artifact {kind}", escape(str(path)))
    console.print(table)
    metrics = Table(title="metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in run.metrics.items():
        metrics.add_row(name, format_value(value))
    console.print(metrics)
    console.print(f"reproduce it with: quantforge rerun {run.id}")


@results_app.command("best")
def best(
    experiment: Annotated[int, typer.Argument(help="Experiment id.")],
    metric: Annotated[
        str | None, typer.Option("--metric", "-m", help="Ranking metric (default: the config's).")
    ] = None,
    top: Annotated[int, typer.Option("--top", "-n", help="How many runs.")] = 10,
    ascending: Annotated[
        bool | None,
        typer.Option("--ascending/--descending", help="Smaller is better (default: config's)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Show the best runs of an experiment by a metric."""
    from quantforge.experiment.runner import stored_config

    if top < 1:
        raise ConfigError(f"--top must be >= 1; got {top}")
    with _store(store) as db:
        config = stored_config(db.get_experiment(experiment)["config"])
        chosen = metric or config.ranking.metric
        if ascending is not None:
            descending = not ascending
        else:  # the config's direction for its own metric; larger is better for another one
            descending = chosen != config.ranking.metric or config.ranking.direction == "max"
        frame = db.runs(experiment, order_by=chosen, descending=descending, limit=top)
    if frame.height == 0:
        console.print(f"experiment {experiment} has no successful runs")
        raise typer.Exit(1)
    console.print(runs_table(frame, chosen, f"best {top} of experiment {experiment} by {chosen}"))


@results_app.command("export")
def export(
    experiment: Annotated[int, typer.Argument(help="Experiment id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv, parquet or json (default: from --out)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Export every run of an experiment (ranked by its metric) to CSV, Parquet or JSON."""
    from quantforge.experiment.runner import stored_config

    kind = (file_format or out.suffix.lstrip(".")).lower()
    if kind not in ("csv", "parquet", "json"):
        raise ConfigError(f"--format must be csv, parquet or json; got {kind!r}")
    chosen: Literal["csv", "parquet", "json"] = kind  # type: ignore[assignment]
    with _store(store) as db:
        config = stored_config(db.get_experiment(experiment)["config"])
        path = db.export(
            experiment,
            out,
            file_format=chosen,
            order_by=config.ranking.metric,
            descending=config.ranking.direction == "max",
        )
    console.print(f"wrote {path}")
