"""Run an experiment end to end: bars → grid → run keys → executor → store → files.

`run_experiment` is what ``quantforge run`` calls:

1. read every symbol's bars from the catalog (the config's ``data`` section) and fingerprint them;
2. find the experiment in the store (same name, data, code version and engine settings) or create
   it — the stored config carries the provenance (per-symbol data fingerprints, package version,
   git revision);
3. expand each strategy's grid lazily (constraints applied), resolve every combination against
   the strategy's parameters and compute its run key; keys already stored are skipped (resume);
4. send the rest to the executor with the bars as the shared payload (delivered once per worker;
   each worker keeps one indicator cache, so an indicator several combinations need is computed
   once per worker);
5. stream results into the store in small batches — nothing is kept in a list, so memory stays
   flat however many combinations there are; a combination that raises is stored with its error;
   a worker that dies or Ctrl-C loses only the combinations in flight;
6. write ``<results>/<experiment>/summary.csv`` (ranked), one JSON file per run, trades/equity
   Parquet artifacts for the best ``ranking.top_n`` runs (re-simulated in the parent through the
   same code path; the metrics must come out identical) and equity/drawdown PNGs for the best
   ``outputs.plots_top_n``.

`rerun` re-runs one stored combination from its stored config and compares the metrics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from quantforge.data.catalog import Catalog
from quantforge.errors import ConfigError, DataError, NotFoundError, QuantforgeError
from quantforge.executors import LocalExecutor, RayExecutor, TaskResult, TaskStatus
from quantforge.experiment.config import ExperimentConfig, parse_experiment
from quantforge.experiment.keys import (
    canonical_json,
    code_version,
    data_fingerprint,
    git_revision,
    run_keyer,
)
from quantforge.experiment.outputs import (
    PROVENANCE,
    RunFileWriter,
    metric_value,
    write_summary,
)
from quantforge.experiment.tasks import (
    BAR_COLUMNS,
    RunOutput,
    RunTask,
    SweepPayload,
    bar_arrays,
    bar_columns,
    frame_from_columns,
    plain_metrics,
    run_task,
    simulate,
)
from quantforge.store import ResultStore, RunRecord, StoredRun
from quantforge.strategies.registry import get as get_strategy

if TYPE_CHECKING:
    from quantforge.engine import BacktestResult
    from quantforge.executors import Executor

log = logging.getLogger(__name__)

__all__ = [
    "PROVENANCE",
    "ExperimentOutcome",
    "RerunOutcome",
    "SweepProgress",
    "build_executor",
    "experiment_dir",
    "load_bars",
    "rerun",
    "run_experiment",
    "stored_config",
]

_FLUSH_ROWS: Final = 256
_FLUSH_SECONDS: Final = 2.0
_PROGRESS_SECONDS: Final = 0.1  # least time between two progress callbacks


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Where a sweep stands (passed to the progress callback after every result)."""

    done: int
    total: int
    errors: int
    lost: int
    best_value: float | None
    best_label: str | None


@dataclass(frozen=True, slots=True)
class ExperimentOutcome:
    """What `run_experiment` did.

    ``total`` combinations in the grid, ``skipped`` already stored (resume), ``ran`` sent to the
    executor this time (``ok`` + ``errors`` + ``lost``); ``lost`` ones were not stored and run
    again on the next call.
    """

    experiment_id: int
    name: str
    resumed: bool
    total: int
    skipped: int
    ran: int
    ok: int
    errors: int
    lost: int
    elapsed_s: float
    output_dir: Path
    summary_csv: Path
    run_files: int
    artifact_runs: tuple[int, ...]
    plots: tuple[Path, ...]
    report_html: Path | None
    metric: str
    descending: bool
    notes: tuple[str, ...] = ()
    #: wall seconds per phase: ``prepare`` (bars, fingerprints, experiment row), ``sweep`` (the
    #: executor, results stored as they arrive), ``artifacts`` (best runs re-simulated),
    #: ``outputs`` (summary.csv and the run files), ``plots``
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RerunOutcome:
    """The stored metrics of a run next to the metrics of re-running it."""

    run_id: int
    experiment_id: int
    strategy: str
    symbol: str | None
    params: dict[str, Any]
    stored: dict[str, float | int | None]
    recomputed: dict[str, float | int | None]
    fingerprint_stored: str | None
    fingerprint_now: str
    differences: tuple[str, ...] = field(default_factory=tuple)

    @property
    def identical(self) -> bool:
        """Return True when every metric and the data fingerprint match exactly."""
        return not self.differences


# --- helpers ----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "experiment"


def experiment_dir(config: ExperimentConfig, results_dir: str | Path | None = None) -> Path:
    """Return ``<results_dir>/<experiment name>/`` (the config's results folder by default)."""
    base = Path(results_dir) if results_dir is not None else Path(config.outputs.results_dir)
    return base / _slug(config.name)


def build_executor(
    config: ExperimentConfig,
    *,
    kind: str | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> Executor:
    """Return the executor the config asks for, with command-line overrides applied.

    Raises
    ------
    ConfigError
        For an unknown kind or an address given to the local executor.
    """
    spec = config.executor
    chosen = kind or spec.kind
    count = workers if workers is not None else spec.workers
    if chosen == "local":
        if address is not None:
            raise ConfigError("--address is a Ray cluster address; add --executor ray")
        return LocalExecutor(workers=count, chunk_size=spec.chunk_size)
    if chosen == "ray":
        return RayExecutor(
            address=address if address is not None else spec.address,
            num_cpus=count,
            chunk_size=spec.chunk_size,
        )
    raise ConfigError(f"unknown executor {chosen!r}; use 'local' or 'ray'")


def load_bars(
    config: ExperimentConfig, catalog: str | Catalog | None = None
) -> dict[str, pl.DataFrame]:
    """Read each symbol's bars ``[data.start, data.end)`` from the catalog.

    Parameters
    ----------
    config
        The experiment.
    catalog
        The catalog (or its location); default the config's ``data.catalog``.

    Raises
    ------
    ConfigError
        When no catalog is given anywhere.
    DataError
        When a symbol has no bars in the range (the message says how to get them).
    """
    data = config.data
    where = catalog if catalog is not None else data.catalog
    if where is None:
        raise ConfigError(
            f"{config.source or config.name}: no catalog; set data.catalog, --catalog or "
            "QUANTFORGE_CATALOG"
        )
    store = where if isinstance(where, Catalog) else Catalog(where)
    out: dict[str, pl.DataFrame] = {}
    for symbol in data.symbols:
        bars = store.read_bars(
            symbol, data.interval, exchange=data.exchange, start=data.start, end=data.end
        )
        if bars.height == 0:
            raise DataError(
                f"the catalog {store.root} has no {data.exchange} {symbol} {data.interval} bars "
                f"in [{data.start:%Y-%m-%d}, {data.end:%Y-%m-%d}); fetch them with `quantforge "
                f"data fetch {symbol} --interval {data.interval} --start {data.start:%Y-%m-%d} "
                f"--end {data.end:%Y-%m-%d}` or import a file with `quantforge data import`"
            )
        out[symbol] = bars
    return out


def _engine_document(config: ExperimentConfig, symbol: str) -> dict[str, Any]:
    # Everything besides the strategy and the data that changes a simulation's result.
    return {
        "engine": config.engine.model_dump(mode="json"),
        "market": config.data.market,
        "symbol": symbol,
    }


def _combined_fingerprint(fingerprints: Mapping[str, str]) -> str:
    if len(fingerprints) == 1:
        return next(iter(fingerprints.values()))
    text = canonical_json(dict(fingerprints))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def stored_config(document: Mapping[str, Any]) -> ExperimentConfig:
    """Return the `ExperimentConfig` stored with an experiment (the provenance block removed)."""
    body = {k: v for k, v in document.items() if k != PROVENANCE}
    return parse_experiment(body, source=str(body.get("source") or "<stored experiment>"))


def _find_experiment(
    store: ResultStore, config: ExperimentConfig, fingerprint: str, code: str
) -> int | None:
    table = store.experiments()
    if table.height == 0:
        return None
    candidates = table.filter(
        (pl.col("name") == config.name)
        & (pl.col("data_fingerprint") == fingerprint)
        & (pl.col("code_version") == code)
    )
    engine = canonical_json(config.engine.model_dump(mode="json"))
    for experiment_id in candidates["id"].to_list():  # newest first
        stored = store.get_experiment(int(experiment_id))["config"]
        if canonical_json(stored.get("engine", {})) == engine and stored.get("data", {}).get(
            "market"
        ) == str(config.data.market):
            return int(experiment_id)
    return None


def _label(task: RunTask) -> str:
    params = ", ".join(f"{k}={v}" for k, v in task.params.items())
    return f"{task.strategy} {task.symbol} ({params})"


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


# --- the sweep --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Counters:
    done: int = 0
    ok: int = 0
    errors: int = 0
    lost: int = 0
    best_value: float | None = None
    best_label: str | None = None


def _tasks(
    config: ExperimentConfig,
    fingerprints: Mapping[str, str],
    done: set[str],
    code: str,
    rejected: list[RunRecord],
    skipped: list[int],
) -> Iterator[RunTask]:
    # Lazily yield the combinations still to run; invalid ones go to ``rejected`` as errors.
    for symbol in config.data.symbols:
        keyer = run_keyer(_engine_document(config, symbol), fingerprints[symbol], code=code)
        for spec in config.all_strategies:
            definition = get_strategy(spec.name)
            for combination in spec.grid():
                try:
                    params: dict[str, Any] = dict(definition.resolve(combination))
                    error = None
                except QuantforgeError as e:
                    params, error = dict(combination), f"{type(e).__name__}: {e}"
                key = keyer(spec.name, params)
                if key in done:
                    skipped[0] += 1
                    continue
                done.add(key)  # a grid may repeat a combination (e.g. a fixed default)
                if error is not None:
                    now = dt.datetime.now(dt.UTC)
                    rejected.append(
                        RunRecord(
                            run_key=key,
                            strategy=spec.name,
                            params=params,
                            status="error",
                            error=error,
                            symbol=symbol,
                            started_at=now,
                            finished_at=now,
                            duration_s=0.0,
                        )
                    )
                    continue
                yield RunTask(run_key=key, strategy=spec.name, symbol=symbol, params=params)


class _TaskStream:
    """The lazily generated tasks plus how many there are (at most), so executors can size their
    chunks (a bare generator has no length: 8 tasks a chunk, 1,250 round trips for 10,000)."""

    __slots__ = ("_count", "_tasks")

    def __init__(self, tasks: Iterator[RunTask], count: int) -> None:
        self._tasks = tasks
        self._count = count

    def __iter__(self) -> Iterator[RunTask]:
        return self._tasks

    def __len__(self) -> int:
        return self._count


def _record(result: TaskResult) -> RunRecord | None:
    task: RunTask = result.task
    if result.ok:
        output: RunOutput = result.value
        return RunRecord(
            run_key=task.run_key,
            strategy=task.strategy,
            params=task.params,
            status="ok",
            metrics=output.metrics,
            symbol=task.symbol,
            started_at=_utc(output.started_at),
            finished_at=_utc(output.finished_at),
            duration_s=result.duration_s,
        )
    if result.status is TaskStatus.ERROR:
        now = dt.datetime.now(dt.UTC)
        detail = result.error or "unknown error"
        if result.traceback:
            detail = f"{detail}\n\n{result.traceback}"
        return RunRecord(
            run_key=task.run_key,
            strategy=task.strategy,
            params=task.params,
            status="error",
            error=detail,
            symbol=task.symbol,
            started_at=now,
            finished_at=now,
            duration_s=result.duration_s,
        )
    return None  # lost: not stored, so the next run retries it


def run_experiment(
    config: ExperimentConfig,
    *,
    store: ResultStore,
    executor: Executor,
    bars: Mapping[str, pl.DataFrame] | None = None,
    catalog: str | Catalog | None = None,
    results_dir: str | Path | None = None,
    tag: str = "",
    progress: Callable[[SweepProgress], None] | None = None,
    write_run_files: bool = True,
    make_plots: bool = True,
) -> ExperimentOutcome:
    """Run (or resume) an experiment and write its outputs.

    Parameters
    ----------
    config
        The experiment.
    store
        Where runs are stored (resume looks here).
    executor
        Where combinations run (`LocalExecutor`, `RayExecutor`).
    bars
        Symbol -> bars to use instead of reading the catalog (tests, synthetic demo data).
    catalog
        Catalog to read the bars from (default ``config.data.catalog``).
    results_dir
        Folder holding ``<experiment>/``; default ``config.outputs.results_dir``.
    tag
        Prefix for every output file name (e.g. ``"SYNTHETIC"``), so labelled data stays
        labelled on disk.
    progress
        Called after every result with a `SweepProgress`.
    write_run_files
        Write one JSON file per run.
    make_plots
        Write PNGs (and the HTML report when the report package provides one) for the best runs.

    Returns
    -------
    ExperimentOutcome

    Raises
    ------
    DataError
        When bars are missing.
    KeyboardInterrupt
        After storing every result that had arrived (the run can be resumed).
    """
    started = time.perf_counter()
    frames = dict(bars) if bars is not None else load_bars(config, catalog)
    missing = [s for s in config.data.symbols if s not in frames]
    if missing:
        raise DataError(f"no bars given for {missing}; pass bars for every symbol of the config")
    columns = {s: bar_columns(frames[s]) for s in config.data.symbols}
    fingerprints = {
        s: data_fingerprint(frames[s].select(BAR_COLUMNS), BAR_COLUMNS) for s in config.data.symbols
    }
    fingerprint = _combined_fingerprint(fingerprints)
    code = code_version()
    for spec in config.all_strategies:
        get_strategy(spec.name)  # unknown names fail before anything runs

    experiment_id = _find_experiment(store, config, fingerprint, code)
    resumed = experiment_id is not None
    if experiment_id is None:
        document = config.model_dump(mode="json")
        document[PROVENANCE] = {
            "data_fingerprints": fingerprints,
            "bars": {s: frames[s].height for s in config.data.symbols},
            "package_version": code,
            "git_revision": git_revision(),
            "columns": list(BAR_COLUMNS),
        }
        experiment_id = store.create_experiment(
            config.name,
            document,
            code_version=code,
            git_revision=document[PROVENANCE]["git_revision"],
            data_fingerprint=fingerprint,
        )
    done = store.existing_keys(experiment_id)
    total = config.n_runs
    log.info(
        "experiment %d (%s): %d combinations, %d already stored",
        experiment_id,
        config.name,
        total,
        len(done),
    )

    payload = SweepPayload(
        token=uuid.uuid4().hex,
        columns=columns,
        backtests={s: config.backtest(s) for s in config.data.symbols},
    )
    metric = config.ranking.metric
    descending = config.ranking.direction == "max"
    counters = _Counters()
    rejected: list[RunRecord] = []
    skipped = [0]
    buffer: list[RunRecord] = []
    last_flush = time.monotonic()
    out_dir = experiment_dir(config, results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{tag}-" if tag else ""
    # run files are written as runs are stored (spread over the sweep, while the workers
    # compute); the summary pass then writes those of runs stored by an earlier call
    files = (
        RunFileWriter(store, experiment_id, out_dir / "runs", prefix) if write_run_files else None
    )

    def write_files(runs: Sequence[tuple[int, RunRecord]]) -> None:
        assert files is not None
        for run_id, record in runs:
            files.write(StoredRun.from_record(run_id, experiment_id, record))

    def flush() -> None:
        nonlocal buffer, last_flush
        if buffer:
            store.add_runs(experiment_id, buffer, on_stored=write_files if files else None)
            buffer = []
        last_flush = time.monotonic()

    def note(record: RunRecord, task: RunTask | None) -> None:
        counters.done += 1
        if record.status == "ok":
            counters.ok += 1
            value = metric_value(record.metrics, metric)
            if value is not None and (
                counters.best_value is None
                or (value > counters.best_value if descending else value < counters.best_value)
            ):
                counters.best_value = value
                counters.best_label = _label(task) if task is not None else record.strategy
        else:
            counters.errors += 1

    last_report = -math.inf

    def report(final: bool = False) -> None:
        # at most every _PROGRESS_SECONDS (a bar refreshes ~10 times a second; a call per result
        # is measurable at 10,000 results), and always for the first and the last result
        nonlocal last_report
        now = time.monotonic()
        if progress is not None and (final or now - last_report >= _PROGRESS_SECONDS):
            last_report = now
            progress(
                SweepProgress(
                    done=counters.done + skipped[0],
                    total=total,
                    errors=counters.errors,
                    lost=counters.lost,
                    best_value=counters.best_value,
                    best_label=counters.best_label,
                )
            )

    timings = {"prepare": time.perf_counter() - started}
    phase = time.perf_counter()
    tasks = _TaskStream(
        _tasks(config, fingerprints, set(done), code, rejected, skipped),
        max(0, total - len(done)),
    )
    results = executor.map(run_task, tasks, shared=payload)
    # whatever raises from here on (Ctrl-C, the progress callback) waits for the run files in
    # flight, so every stored run's file is complete when run_experiment returns or raises
    try:
        try:
            for result in results:
                for record in rejected:
                    buffer.append(record)
                    note(record, None)
                rejected.clear()
                stored = _record(result)
                if stored is None:
                    counters.lost += 1
                else:
                    buffer.append(stored)
                    note(stored, result.task)
                if len(buffer) >= _FLUSH_ROWS or time.monotonic() - last_flush >= _FLUSH_SECONDS:
                    flush()
                report()
            for record in rejected:  # combinations rejected after the last task was handed out
                buffer.append(record)
                note(record, None)
            rejected.clear()
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # stop the workers now (Ctrl-C), not when the generator is collected
            flush()  # on Ctrl-C too: whatever arrived is kept, so a re-run resumes
        ran = counters.done + counters.lost
        notes: list[str] = []
        top = config.ranking.top_n
        report(final=True)
        timings["sweep"] = time.perf_counter() - phase
        phase = time.perf_counter()
        artifact_runs = _store_best_artifacts(
            store, experiment_id, config, frames, columns, metric, descending, top
        )
        timings["artifacts"] = time.perf_counter() - phase
        phase = time.perf_counter()
        summary_path = out_dir / f"{prefix}summary.csv"
        summary_csv = write_summary(
            store,
            experiment_id,
            config,
            summary_path,
            metric,
            descending,
            files.write_missing if files is not None else None,
        )
    finally:
        if files is not None:
            files.close()
    run_files = files.count if files is not None else 0
    timings["outputs"] = time.perf_counter() - phase
    phase = time.perf_counter()
    plots: list[Path] = []
    report_html: Path | None = None
    if make_plots:
        plots, report_html, plot_notes = _write_plots(
            store, experiment_id, config, frames, metric, descending, out_dir, prefix
        )
        notes.extend(plot_notes)
    timings["plots"] = time.perf_counter() - phase
    elapsed = time.perf_counter() - started
    log.info(
        "experiment %d: ran %d (%d ok, %d errors, %d lost), skipped %d in %.1f s",
        experiment_id,
        ran,
        counters.ok,
        counters.errors,
        counters.lost,
        skipped[0],
        elapsed,
    )
    return ExperimentOutcome(
        experiment_id=experiment_id,
        name=config.name,
        resumed=resumed,
        total=total,
        skipped=skipped[0],
        ran=ran,
        ok=counters.ok,
        errors=counters.errors,
        lost=counters.lost,
        elapsed_s=elapsed,
        output_dir=out_dir,
        summary_csv=summary_csv,
        run_files=run_files,
        artifact_runs=tuple(artifact_runs),
        plots=tuple(plots),
        report_html=report_html,
        metric=metric,
        descending=descending,
        notes=tuple(notes),
        timings=timings,
    )


# --- outputs ----------------------------------------------------------------------------------


def _simulate_stored(
    config: ExperimentConfig,
    columns: Mapping[str, Any],
    frame: pl.DataFrame,
    strategy: str,
    symbol: str,
    params: Mapping[str, Any],
) -> BacktestResult:
    return simulate(strategy, params, frame, bar_arrays(columns), config.backtest(symbol))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _differences(
    stored: Mapping[str, float | int | None], recomputed: Mapping[str, float | int | None]
) -> list[str]:
    out = []
    for name in sorted(set(stored) | set(recomputed)):
        a, b = stored.get(name), recomputed.get(name)
        if not _same(a, b):
            out.append(f"{name}: stored {a!r}, now {b!r}")
    return out


def _store_best_artifacts(
    store: ResultStore,
    experiment_id: int,
    config: ExperimentConfig,
    frames: Mapping[str, pl.DataFrame],
    columns: Mapping[str, Mapping[str, Any]],
    metric: str,
    descending: bool,
    top: int,
) -> list[int]:
    # Trades and equity curves only for the best runs: 10,000 equity curves of 35,000 bars would
    # be gigabytes. The best runs are re-simulated here through the same code path as in the
    # workers; identical metrics are required before anything is written.
    best = store.runs(experiment_id, order_by=metric, descending=descending, limit=top)
    out: list[int] = []
    for row in best.iter_rows(named=True):
        run = store.get_run(int(row["id"]))
        if run.artifacts or run.symbol is None:
            out.append(run.id)
            continue
        frame = frame_from_columns(columns[run.symbol])
        try:
            result = _simulate_stored(
                config, columns[run.symbol], frame, run.strategy, run.symbol, run.params
            )
        except QuantforgeError as e:
            log.error("run %d failed when re-run for its artifacts: %s", run.id, e)
            continue
        metrics = plain_metrics(result.metrics)
        problems = _differences(run.metrics, metrics)
        if problems:
            log.error(
                "run %d did not reproduce (%s); its artifacts are not stored",
                run.id,
                "; ".join(problems[:3]),
            )
            continue
        store.attach_artifacts(run.id, trades=result.trades, equity=result.equity)
        out.append(run.id)
    return out


def _write_plots(
    store: ResultStore,
    experiment_id: int,
    config: ExperimentConfig,
    frames: Mapping[str, pl.DataFrame],
    metric: str,
    descending: bool,
    out_dir: Path,
    prefix: str,
) -> tuple[list[Path], Path | None, list[str]]:
    n = config.outputs.plots_top_n
    if n == 0:
        return [], None, []
    try:
        from quantforge.report.build import Ranking, write_experiment_report
    except ImportError as e:  # the report package is optional at this layer
        return [], None, [f"no PNGs or HTML report: the report package is unavailable ({e})"]
    try:
        files = write_experiment_report(
            store,
            experiment_id,
            out_dir / f"{prefix}report",
            top_n=n,
            ranking=Ranking(metric=metric, descending=descending, top_n=n),
            catalog=config.data.catalog,
        )
    except QuantforgeError as e:
        return [], None, [f"no report: {e}"]
    images: list[Path] = []
    for image in files.images:
        # keep a label such as SYNTHETIC in every file name
        target = image if image.name.startswith(prefix) else image.with_name(prefix + image.name)
        if target != image:
            image.replace(target)
        images.append(target)
    return images, files.main, []


# --- rerun ------------------------------------------------------------------------------------


def rerun(
    store: ResultStore,
    run_id: int,
    *,
    catalog: str | Catalog | None = None,
    bars: pl.DataFrame | None = None,
) -> RerunOutcome:
    """Re-run one stored combination from the experiment's stored config; compare the metrics.

    Parameters
    ----------
    store
        The store holding the run.
    run_id
        The run.
    catalog
        Where to read the bars (default: the stored config's ``data.catalog``).
    bars
        The bars to use instead of reading the catalog.

    Returns
    -------
    RerunOutcome
        ``identical`` is True only when the data fingerprint and every metric match exactly.

    Raises
    ------
    NotFoundError
        Unknown run id.
    """
    run = store.get_run(run_id)
    if run.symbol is None:
        raise NotFoundError(f"run {run_id} has no symbol; it was not stored by the runner")
    experiment = store.get_experiment(run.experiment_id)
    config = stored_config(experiment["config"])
    frame = bars if bars is not None else load_bars(config, catalog)[run.symbol]
    columns = bar_columns(frame)
    now = data_fingerprint(frame.select(BAR_COLUMNS), BAR_COLUMNS)
    fingerprints = experiment["config"].get(PROVENANCE, {}).get("data_fingerprints", {})
    was = fingerprints.get(run.symbol, experiment["data_fingerprint"])
    differences: list[str] = []
    if was != now:
        differences.append(
            f"data fingerprint: stored {was}, now {now} (the bars in the catalog changed)"
        )
    recomputed: dict[str, float | int | None] = {}
    if run.status == "ok":
        result = _simulate_stored(
            config, columns, frame_from_columns(columns), run.strategy, run.symbol, run.params
        )
        recomputed = plain_metrics(result.metrics)
        differences.extend(_differences(run.metrics, recomputed))
    else:
        differences.append(f"run {run_id} failed when it was stored: {run.error}")
    if experiment["code_version"] != code_version():
        log.warning(
            "run %d was stored by quantforge %s; this is %s",
            run_id,
            experiment["code_version"],
            code_version(),
        )
    return RerunOutcome(
        run_id=run.id,
        experiment_id=run.experiment_id,
        strategy=run.strategy,
        symbol=run.symbol,
        params=run.params,
        stored=run.metrics,
        recomputed=recomputed,
        fingerprint_stored=was,
        fingerprint_now=now,
        differences=tuple(differences),
    )
