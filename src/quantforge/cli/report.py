"""CLI command: ``quantforge report RUN_ID|EXPERIMENT_ID`` (registered on the shared Typer app).

Writes HTML (and PNG) reports from the results store; never re-runs a simulation.
"""

from __future__ import annotations

import json
import re
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from quantforge.cli._app import app, console
from quantforge.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from quantforge.report.build import ReportFiles
    from quantforge.store import ResultStore

__all__ = ["parse_target", "report"]

_TARGET = re.compile(r"^(?:(run|r|experiment|exp|e)[:#]?)?(\d+)$", re.IGNORECASE)


def parse_target(text: str) -> tuple[str | None, int]:
    """Split ``run:12`` / ``exp:3`` / ``12`` into (kind or None, id).

    Raises
    ------
    ConfigError
        For anything else.
    """
    match = _TARGET.match(text.strip())
    if match is None:
        raise ConfigError(
            f"cannot read {text!r} as a report target; write an experiment id (3 or exp:3) "
            "or a run id (run:12)"
        )
    prefix, number = match.group(1), int(match.group(2))
    if prefix is None:
        return None, number
    return ("run" if prefix.lower() in ("run", "r") else "experiment"), number


def _pair(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"--heatmap takes two parameter names as X:Y (e.g. fast:slow); got {text!r}"
        )
    return parts[0], parts[1]


def _fixed(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"--fix takes NAME=VALUE (e.g. atr=14); got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw  # a bare word is a text value
    return name.strip(), value


def _default_store() -> str:
    from quantforge.config import Settings

    settings = Settings()
    if settings.store_url:
        return settings.store_url
    return f"sqlite:///{(settings.results_dir / 'results.db').as_posix()}"


def _exists(store: ResultStore, kind: str, number: int) -> bool:
    try:
        if kind == "run":
            store.get_run(number)
        else:
            store.get_experiment(number)
    except NotFoundError:
        return False
    return True


def _print_files(files: ReportFiles) -> None:
    for page in files.pages:
        console.print(f"wrote [bold]{escape(str(page))}[/]")
    for image in files.images:
        console.print(f"wrote {escape(str(image))}")


@app.command("report")
def report(
    target: Annotated[
        str,
        typer.Argument(
            help="An experiment id (3, exp:3) or a run id (run:12). A bare number is an "
            "experiment, else the run with that id.",
            show_default=False,
        ),
    ],
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="QUANTFORGE_STORE_URL",
            help="Results database URL (default: sqlite:///results/results.db).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder the report folder is written into.")
    ] = Path("reports"),
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the main page in a web browser.")
    ] = False,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Top runs to list and plot (default: the experiment's)."),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="Another run id: also write a side-by-side comparison."),
    ] = None,
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog",
            help="Catalog holding the bars (price chart); default: the experiment's "
            "data.catalog, else $QUANTFORGE_CATALOG.",
        ),
    ] = None,
    aggregate: Annotated[
        str,
        typer.Option(
            "--aggregate", help="Heatmaps: combine the other parameters by max, median, min, mean."
        ),
    ] = "max",
    heatmap: Annotated[
        list[str] | None,
        typer.Option(
            "--heatmap",
            help="Parameter pair for a heatmap, X:Y (repeatable; default: the first 3 pairs).",
        ),
    ] = None,
    fix: Annotated[
        list[str] | None,
        typer.Option(
            "--fix",
            help="Hold a parameter at a value in the heatmaps, NAME=VALUE (repeatable); the "
            "others are aggregated.",
        ),
    ] = None,
) -> None:
    """Write HTML and PNG reports of a stored run or experiment (nothing is re-run)."""
    from quantforge.config import Settings
    from quantforge.report.build import ranking_of, write_experiment_report, write_run_report
    from quantforge.report.data import run_view_from_store
    from quantforge.report.tearsheet import tearsheet, top_runs_table
    from quantforge.store import ResultStore

    kind, number = parse_target(target)
    pairs = [_pair(text) for text in heatmap] if heatmap else None
    fixed = dict(_fixed(text) for text in fix) if fix else None
    compare_id = None
    if compare is not None:
        compare_kind, compare_id = parse_target(compare)
        if compare_kind == "experiment":
            raise ConfigError("--compare takes a run id (run:12), not an experiment")
    url = store_url or _default_store()
    default_catalog = Settings().catalog
    with ResultStore.open(url) as store:
        if kind is None:
            kind = "experiment" if _exists(store, "experiment", number) else "run"
        if not _exists(store, kind, number):
            other = "run" if kind == "experiment" else "experiment"
            raise NotFoundError(
                f"no {kind} with id {number} in {url}"
                + (f" (and no {other} either)" if target.strip().isdigit() else "")
                + "; list experiments with the store API or check --store"
            )
        if compare_id is not None and not _exists(store, "run", compare_id):
            raise NotFoundError(f"no run with id {compare_id} in {url} (given to --compare)")
        if kind == "run":
            files = write_run_report(store, number, out, catalog=catalog, compare_with=compare_id)
            console.print(tearsheet(run_view_from_store(store, number, load_bars=False)))
        else:
            files = write_experiment_report(
                store,
                number,
                out,
                top_n=top,
                catalog=catalog,
                default_catalog=default_catalog,
                aggregate=aggregate,
                pairs=pairs,
                fixed=fixed,
            )
            config = dict(store.get_experiment(number).get("config") or {})
            rank = ranking_of(config)
            runs = store.runs(number, order_by=rank.metric, descending=rank.descending)
            console.print(
                top_runs_table(
                    runs,
                    metric=rank.metric,
                    descending=rank.descending,
                    top_n=top or rank.top_n,
                )
            )
            console.print(tearsheet(run_view_from_store(store, files.best_run_id, load_bars=False)))
    _print_files(files)
    if open_browser:
        webbrowser.open(files.main.resolve().as_uri())
