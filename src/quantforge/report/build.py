"""Whole reports from the store: a run's tear sheet, an experiment's sweep report, PNGs.

These functions read stored results (metrics, equity and trades artifacts) and write files;
they never run a simulation. The CLI's ``quantforge report`` is a thin wrapper over them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantforge.errors import ConfigError, NotFoundError, QuantforgeError
from quantforge.report.data import RunView, run_view_from_store
from quantforge.report.html import write_comparison_html, write_sweep_html, write_tearsheet_html
from quantforge.report.plots import write_run_pngs
from quantforge.report.sweep import strategies_of
from quantforge.store import ResultStore

log = logging.getLogger(__name__)

__all__ = ["Ranking", "ReportFiles", "ranking_of", "write_experiment_report", "write_run_report"]


@dataclass(frozen=True, slots=True)
class Ranking:
    """How an experiment ranks its runs (from its config's ``ranking`` section)."""

    metric: str = "pnl_to_max_drawdown"
    descending: bool = True
    top_n: int = 10


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What a report wrote.

    Attributes
    ----------
    main
        The page to open first (sweep report or tear sheet).
    pages
        Every HTML file written (``main`` included).
    images
        Every PNG written.
    best_run_id
        The best run (experiment reports) or the run itself.
    """

    main: Path
    pages: tuple[Path, ...]
    images: tuple[Path, ...]
    best_run_id: int


def ranking_of(config: Mapping[str, Any]) -> Ranking:
    """Read the ranking metric, direction and top N from a stored experiment config."""
    section = config.get("ranking")
    if not isinstance(section, Mapping):
        return Ranking()
    return Ranking(
        metric=str(section.get("metric", "pnl_to_max_drawdown")),
        descending=str(section.get("direction", "max")) != "min",
        top_n=int(section.get("top_n", 10)),
    )


def write_run_report(
    store: ResultStore,
    run_id: int,
    out_dir: str | Path,
    *,
    catalog: str | None = None,
    default_catalog: str | None = None,
    compare_with: int | None = None,
) -> ReportFiles:
    """Write one stored run's HTML tear sheet and PNGs into ``out_dir/run-<id>/``.

    Parameters
    ----------
    store
        The results store.
    run_id
        The run.
    out_dir
        Parent folder of the report folder.
    catalog
        Catalog location for the price chart (default: the experiment's ``data.catalog``).
    default_catalog
        Catalog used when the experiment names none.
    compare_with
        Another run id: also write ``compare-<run_id>-vs-<other>.html`` (this run is A).

    Returns
    -------
    ReportFiles

    Raises
    ------
    NotFoundError
        Unknown run, or a run without an equity artifact.
    """
    view = run_view_from_store(store, run_id, catalog=catalog, default_catalog=default_catalog)
    folder = Path(out_dir) / f"run-{run_id}"
    main = write_tearsheet_html(view, folder / "tearsheet.html")
    pages = [main]
    if compare_with is not None:
        other = run_view_from_store(store, compare_with, load_bars=False)
        pages.append(
            write_comparison_html(view, other, folder / f"compare-{run_id}-vs-{compare_with}.html")
        )
    images = write_run_pngs(view, folder, stem=f"run-{run_id}")
    return ReportFiles(main=main, pages=tuple(pages), images=tuple(images), best_run_id=run_id)


def _view_or_none(store: ResultStore, run_id: int, **kwargs: Any) -> RunView | None:
    try:
        return run_view_from_store(store, run_id, **kwargs)
    except (NotFoundError, ConfigError) as e:
        log.warning("run %d left out of the report: %s", run_id, e)
        return None


def write_experiment_report(
    store: ResultStore,
    experiment_id: int,
    out_dir: str | Path,
    *,
    top_n: int | None = None,
    ranking: Ranking | None = None,
    catalog: str | None = None,
    default_catalog: str | None = None,
    aggregate: str = "max",
    pairs: Sequence[tuple[str, str]] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write an experiment's sweep report, its best run's tear sheet and the top runs' PNGs.

    Files go to ``out_dir/experiment-<id>/``: ``sweep.html`` (top runs, parameter heatmaps,
    sensitivity, top equity curves), ``run-<best>.html`` (tear sheet of the best run),
    ``compare.html`` when the experiment ran two or more strategies (the best run of the first
    strategy against the best of the second), and ``run-<id>_equity.png`` /
    ``run-<id>_drawdown.png`` for each of the top N runs.

    Parameters
    ----------
    store
        The results store.
    experiment_id
        The experiment.
    out_dir
        Parent folder of the report folder.
    top_n
        How many top runs to list and plot (default: the experiment's ``ranking.top_n``).
    ranking
        Ranking metric and direction (default: the experiment's ``ranking`` section).
    catalog
        Catalog location for the price chart (default: the experiment's ``data.catalog``).
    default_catalog
        Catalog used when the experiment names none.
    aggregate
        How the heatmaps combine the parameters not on their axes (max, median, min, mean).
    pairs
        Parameter pairs (x, y) for the heatmaps (default: the first three varying pairs).
    fixed
        Parameters held at a value in the heatmaps instead of aggregated.

    Returns
    -------
    ReportFiles

    Raises
    ------
    NotFoundError
        Unknown experiment, or one without successful runs.
    """
    experiment = store.get_experiment(experiment_id)
    config = dict(experiment.get("config") or {})
    rank = ranking or ranking_of(config)
    n = top_n if top_n is not None else rank.top_n
    if n < 1:
        raise ConfigError(f"--top must be >= 1; got {n}")
    runs = store.runs(experiment_id, order_by=rank.metric, descending=rank.descending)
    if runs.height == 0:
        raise NotFoundError(
            f"experiment {experiment_id} ({experiment['name']}) has no successful runs to report"
        )
    folder = Path(out_dir) / f"experiment-{experiment_id}"
    top_ids = [int(i) for i in runs["id"].head(n)]
    loaded = [(i, _view_or_none(store, i, load_bars=False)) for i in top_ids]
    top = [(i, v) for i, v in loaded if v is not None]
    views = [v for _, v in top]
    sweep = write_sweep_html(
        runs,
        folder / "sweep.html",
        title=f"experiment {experiment_id}: {experiment['name']}",
        metric=rank.metric,
        descending=rank.descending,
        top_n=n,
        aggregate=aggregate,
        pairs=pairs,
        fixed=fixed,
        top_equity=views[:5],
    )
    pages = [sweep]
    best_id = top_ids[0]
    best = _view_or_none(store, best_id, catalog=catalog, default_catalog=default_catalog)
    if best is not None:
        pages.append(write_tearsheet_html(best, folder / f"run-{best_id}.html"))
    strategies = strategies_of(runs.sort("id"))  # config order: the baseline first
    if len(strategies) >= 2:
        firsts = [int(runs.filter(runs["strategy"] == s)["id"][0]) for s in strategies[:2]]
        pair = [_view_or_none(store, i, load_bars=False) for i in firsts]
        if pair[0] is not None and pair[1] is not None:
            pages.append(write_comparison_html(pair[0], pair[1], folder / "compare.html"))
    images: list[Path] = []
    for run_id, view in top:
        try:
            images += write_run_pngs(view, folder, stem=f"run-{run_id}")
        except QuantforgeError as e:
            log.warning("no PNGs for run %d: %s", run_id, e)
    return ReportFiles(main=sweep, pages=tuple(pages), images=tuple(images), best_run_id=best_id)
