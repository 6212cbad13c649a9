"""Optuna search over an experiment's parameter space, stored next to the results.

``quantforge optimize EXPERIMENT.yaml`` reads the experiment (the same file ``quantforge run``
reads) plus an ``optimize:`` section (`OptimizeSpec`): sampler (TPE, CMA-ES, random, grid), a
profile (``fast`` / ``balanced`` / ``thorough`` trial budgets), data fractions for multi-fidelity
pruning and optional ``stages`` (e.g. integers first, then continuous parameters, then entry
timeouts, each stage starting from the best of the last).

The Optuna study lives in the results database (`optuna.storages.RDBStorage` on the store's URL),
so a stopped search resumes where it stopped and several workers (the local process pool or Ray,
through `quantforge.executors`) can run trials of one study at once.

Every trial stores its full-data Sharpe ratio (per bar and annualised), number of bars and
ranking value as user attributes; `study_trials` reads them back for the deflated Sharpe ratio.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import optuna
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantforge.errors import ConfigError, OptimizationError, QuantforgeError
from quantforge.experiment.config import ExperimentConfig, StrategySpec, parse_experiment
from quantforge.experiment.space import Fixed, Linspace, Logspace, Range, Values
from quantforge.experiment.tasks import bar_arrays, bar_columns, frame_from_columns, plain_metrics
from quantforge.strategies.registry import get as get_strategy
from quantforge.strategies.registry import parameter_names

if TYPE_CHECKING:
    from quantforge.engine import Backtest, BacktestResult
    from quantforge.executors import Executor

log = logging.getLogger(__name__)

__all__ = [
    "PROFILES",
    "OptimizationResult",
    "OptimizeFile",
    "OptimizeProgress",
    "OptimizeSpec",
    "SegmentResult",
    "StageResult",
    "StageSpec",
    "TrialStats",
    "choose_target",
    "load_optimize_file",
    "open_storage",
    "optuna_storage",
    "run_optimization",
    "simulate_segment",
    "study_trials",
]

Columns = Mapping[str, np.ndarray[Any, Any]]

#: trial budget (per study, split over stages) and pruning of each profile
PROFILES: Final[Mapping[str, Mapping[str, Any]]] = {
    "fast": {"n_trials": 40, "fidelities": (0.33, 0.66, 1.0), "startup_trials": 5},
    "balanced": {"n_trials": 200, "fidelities": (0.33, 0.66, 1.0), "startup_trials": 10},
    "thorough": {"n_trials": 1000, "fidelities": (0.25, 0.5, 0.75, 1.0), "startup_trials": 20},
}
_SECTIONS: Final = ("optimize", "walk_forward", "validation")


# --- configuration ----------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageSpec(_Model):
    """One stage of a staged search: which parameters it varies and how many trials it gets.

    ``params`` names parameters explicitly; ``select`` picks them by kind from the strategy's
    swept dimensions (``integers``: integer ranges/values, ``continuous``: float ranges,
    linspace and logspace, ``categorical``: text values, ``all``). Parameters a stage does not
    vary keep the best value found so far (their first stage's default otherwise).
    """

    name: str
    params: tuple[str, ...] = ()
    select: Literal["integers", "continuous", "categorical", "all"] | None = None
    trials: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_selector(self) -> StageSpec:
        if bool(self.params) == (self.select is not None):
            raise ValueError(f"stage {self.name!r}: give either params or select (not both)")
        return self


class OptimizeSpec(_Model):
    """The ``optimize:`` section of an experiment file.

    Attributes
    ----------
    profile
        ``fast`` (40 trials), ``balanced`` (200) or ``thorough`` (1000); ``n_trials`` overrides.
    sampler
        ``tpe``, ``cmaes``, ``random`` or ``grid`` (the experiment's grid, exhaustively).
    n_trials
        Trials per study (all stages together); default the profile's.
    fidelities
        Growing data fractions each trial is evaluated on; a trial below the median of earlier
        trials at the same fraction is pruned. ``[1.0]`` disables multi-fidelity.
    pruner
        ``median``, ``halving`` (successive halving) or ``none``.
    seed
        Sampler seed (worker *k* uses ``seed + k``).
    study
        Study name; default ``<experiment>:<strategy>:<symbol>``.
    stages
        Staged search recipe; default one stage over every swept parameter.
    """

    profile: Literal["fast", "balanced", "thorough"] = "balanced"
    sampler: Literal["tpe", "cmaes", "random", "grid"] = "tpe"
    n_trials: int | None = Field(default=None, ge=1)
    fidelities: tuple[float, ...] | None = None
    pruner: Literal["median", "halving", "none"] = "median"
    seed: int | None = 0
    study: str | None = None
    stages: tuple[StageSpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> OptimizeSpec:
        f = self.fidelities
        if f is not None:
            if not f or any(not 0.0 < x <= 1.0 for x in f) or list(f) != sorted(set(f)):
                raise ValueError("fidelities must be increasing fractions in (0, 1]")
            if f[-1] != 1.0:
                raise ValueError("the last fidelity must be 1.0 (the full data)")
        return self

    @property
    def budget(self) -> int:
        """Return the number of trials per study (profile default unless ``n_trials``)."""
        return int(self.n_trials or PROFILES[self.profile]["n_trials"])

    @property
    def fractions(self) -> tuple[float, ...]:
        """Return the fidelities (profile default unless given)."""
        return tuple(self.fidelities or PROFILES[self.profile]["fidelities"])


@dataclass(frozen=True, slots=True)
class OptimizeFile:
    """An experiment file with its optimisation/validation sections split off."""

    config: ExperimentConfig
    optimize: OptimizeSpec
    walk_forward: dict[str, Any] | None
    validation: dict[str, Any] | None


def load_optimize_file(path: str | Path) -> OptimizeFile:
    """Read an experiment file (YAML or TOML) with optional ``optimize``/``walk_forward`` sections.

    Raises
    ------
    ConfigError
        For an unreadable file or invalid sections (the message names the field).
    """
    import tomllib

    import yaml

    source = Path(path)
    try:
        text = source.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read experiment file {source}: {e.strerror}") from e
    try:
        raw = tomllib.loads(text) if source.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{source}: not valid {source.suffix.lstrip('.')}: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the file must hold a mapping (name, data, strategy, ...)")
    sections = {k: raw.pop(k) for k in _SECTIONS if k in raw}
    config = parse_experiment(
        raw, source=str(source), base_dir=source.parent, strategy_parameters=parameter_names
    )
    try:
        spec = OptimizeSpec.model_validate(sections.get("optimize") or {})
    except ValueError as e:
        raise ConfigError(f"{source}: optimize section: {e}") from e
    return OptimizeFile(
        config=config,
        optimize=spec,
        walk_forward=sections.get("walk_forward"),
        validation=sections.get("validation"),
    )


# --- simulating a slice of the bars ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """A backtest restricted to bars ``[trade_from, end)`` (indicators may warm up before).

    ``metrics`` are the engine's metrics of the traded part (identical to a plain run on those
    bars when there is no warm-up); ``equity`` and ``time_ms`` cover the traded bars only.
    """

    metrics: dict[str, float | int | None]
    equity: np.ndarray[Any, Any]
    time_ms: np.ndarray[Any, Any]
    trade_returns: np.ndarray[Any, Any]
    n_trades: int


def _slice(columns: Columns, lo: int, hi: int) -> dict[str, np.ndarray[Any, Any]]:
    return {k: v[lo:hi] for k, v in columns.items()}


def _traded_metrics(
    result: BacktestResult, skip: int, backtest: Backtest
) -> dict[str, float | int | None]:
    # The engine's metrics recomputed over the bars after the warm-up (no position exists there)
    from quantforge.engine.metrics import compute_metrics, periods_per_year
    from quantforge.engine.result import fill_notional

    eq_frame = result.equity[skip:]
    eq = eq_frame["equity"].to_numpy().astype(np.float64)
    pos_value = eq_frame["position_value"].to_numpy().astype(np.float64)
    t = eq_frame["open_time"].dt.epoch("ms").to_numpy()
    trades = result.trades
    fills = result.fills
    if eq_frame.height:
        fills = fills.filter(pl.col("time") >= eq_frame["open_time"][0])
    bar_ms = int(np.median(np.diff(t))) if t.size > 1 else 60_000
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(eq > 0.0, np.abs(pos_value) / eq, 0.0)
    metrics = compute_metrics(
        eq,
        periods_per_year=periods_per_year(bar_ms, backtest.calendar),
        trade_pnl=trades["pnl"].to_numpy().astype(np.float64),
        trade_returns=trades["return"].to_numpy().astype(np.float64),
        trade_bars_held=trades["bars_held"].to_numpy().astype(np.int64),
        exposure=exposure,
        bar_seconds=bar_ms / 1000.0,
        risk_free_rate=backtest.risk_free_rate,
        fill_notional=fill_notional(fills["qty"].to_numpy(), fills["price"].to_numpy()),
    )
    return plain_metrics(metrics)


def simulate_segment(
    strategy: str,
    params: Mapping[str, Any],
    columns: Columns,
    backtest: Backtest,
    start: int,
    end: int,
    warmup: int = 0,
) -> SegmentResult:
    """Backtest ``strategy`` on bars ``[start, end)`` of ``columns``.

    With ``warmup > 0`` the indicators see ``warmup`` earlier bars too, but no entry is taken
    before ``start`` (signal strategies only; event-driven strategies run on ``[start, end)``).

    Parameters
    ----------
    strategy, params
        Registry name and parameters.
    columns
        `quantforge.experiment.tasks.bar_columns` of the whole series.
    backtest
        Engine settings.
    start, end
        Bar indices (half-open) of the traded part.
    warmup
        Bars before ``start`` given to the indicators.

    Returns
    -------
    SegmentResult

    Raises
    ------
    ConfigError
        For an empty or out-of-range segment or bad parameters.
    """
    n = int(columns["open_time"].size)
    if not 0 <= start < end <= n:
        raise ConfigError(f"segment [{start}, {end}) is empty or outside the {n} bars")
    definition = get_strategy(strategy)
    resolved = definition.resolve(params)
    lo = max(0, start - warmup) if definition.has_signals else start
    part = _slice(columns, lo, end)
    frame = frame_from_columns(part)
    arrays = bar_arrays(part)
    skip = start - lo
    if definition.has_signals:
        plan = definition.signals(arrays, resolved, None)
        if skip:
            entries = np.array(plan.entries, dtype=bool, copy=True)
            entries[:skip] = False
            shorts = plan.short_entries
            if shorts is not None:
                shorts = np.array(shorts, dtype=bool, copy=True)
                shorts[:skip] = False
            plan = dataclasses.replace(plan, entries=entries, short_entries=shorts)
        result = plan.run(frame, backtest)
    else:
        result = backtest.run_strategy(frame, definition.build(arrays, resolved, None))
    metrics = (
        plain_metrics(result.metrics) if skip == 0 else _traded_metrics(result, skip, backtest)
    )
    return SegmentResult(
        metrics=metrics,
        equity=result.equity["equity"].to_numpy()[skip:].astype(np.float64),
        time_ms=np.asarray(part["open_time"][skip:], dtype=np.int64),
        trade_returns=result.trades["return"].to_numpy().astype(np.float64),
        n_trades=int(result.trades.height),
    )


# --- search space -----------------------------------------------------------------------------


def _integral(dimension: Range) -> bool:
    return all(
        isinstance(v, int) and not isinstance(v, bool)
        for v in (dimension.start, dimension.stop, dimension.step)
    )


def _kind(dimension: object) -> str:
    if isinstance(dimension, Fixed):
        return "fixed"
    if isinstance(dimension, Range):
        return "integers" if _integral(dimension) else "continuous"
    if isinstance(dimension, Linspace | Logspace):
        return "continuous"
    if isinstance(dimension, Values):
        items = dimension.values()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return "integers"
        return "categorical"
    return "categorical"


def _suggest(trial: optuna.Trial, name: str, dimension: object) -> Any:
    # the bounds are the smallest and largest grid values (ranges may run downwards)
    if isinstance(dimension, Range):
        values = dimension.values()
        lo, hi = min(values), max(values)  # type: ignore[type-var]
        if _integral(dimension):
            return trial.suggest_int(name, int(lo), int(hi), step=abs(int(dimension.step)))
        return trial.suggest_float(name, float(lo), float(hi), step=abs(float(dimension.step)))
    if isinstance(dimension, Linspace):
        a, b = float(dimension.start), float(dimension.stop)
        return trial.suggest_float(name, min(a, b), max(a, b))
    if isinstance(dimension, Logspace):
        a, b = float(dimension.start), float(dimension.stop)
        return trial.suggest_float(name, min(a, b), max(a, b), log=True)
    if isinstance(dimension, Values):
        return trial.suggest_categorical(name, list(dimension.values()))  # type: ignore[arg-type]
    raise ConfigError(f"parameter {name!r}: cannot search dimension {dimension!r}")


def _stage_params(spec: StrategySpec, stage: StageSpec) -> tuple[str, ...]:
    dims = spec.space.dimensions
    swept = [n for n, d in dims.items() if _kind(d) != "fixed"]
    if stage.params:
        unknown = [p for p in stage.params if p not in dims]
        if unknown:
            raise ConfigError(
                f"stage {stage.name!r} names unknown parameter(s) {unknown}; the strategy "
                f"{spec.name!r} sweeps {swept}"
            )
        return tuple(stage.params)
    if stage.select == "all":
        return tuple(swept)
    return tuple(n for n in swept if _kind(dims[n]) == stage.select)


def _fixed_values(spec: StrategySpec) -> dict[str, Any]:
    return {n: d.value for n, d in spec.space.dimensions.items() if isinstance(d, Fixed)}


# --- the study --------------------------------------------------------------------------------


def optuna_storage(url: str, *, heartbeat_s: int | None = None) -> optuna.storages.RDBStorage:
    """Return an Optuna storage on the results database ``url``.

    The results store keeps its Alembic revision in its own table
    (`quantforge.store.tables.VERSION_TABLE`), so Optuna's ``alembic_version`` and its schema
    check are Optuna's alone: the same database also opens with a plain
    ``optuna.load_study(storage=url)`` or optuna-dashboard.

    Raises
    ------
    OptimizationError
        When the database cannot be reached.
    """
    kwargs: dict[str, Any] = {}
    if heartbeat_s is not None:
        kwargs.update(heartbeat_interval=heartbeat_s, grace_period=4 * heartbeat_s)
    try:
        with warnings.catch_warnings():
            # heartbeats (which fail trials of a killed worker) are "experimental" in Optuna 4
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, **kwargs)
    except Exception as e:  # SQLAlchemy / driver errors vary by backend
        raise OptimizationError(f"cannot open the Optuna study storage at {url}: {e}") from e


@dataclass(frozen=True, slots=True)
class _StudyPlan:
    storage_url: str
    study_name: str
    strategy: str
    symbol: str
    spec: OptimizeSpec
    dimensions: Mapping[str, object]
    constraints: tuple[Any, ...]
    search: tuple[str, ...]
    fixed: Mapping[str, Any]
    metric: str
    direction: str
    grid: Mapping[str, list[Any]] | None


@dataclass(frozen=True, slots=True)
class _TrialBatch:
    plan: _StudyPlan
    n_trials: int
    worker: int


@dataclass(frozen=True, slots=True)
class _Payload:
    columns: dict[str, np.ndarray[Any, Any]]
    backtest: Backtest


def _sampler(plan: _StudyPlan, worker: int) -> optuna.samplers.BaseSampler:
    seed = None if plan.spec.seed is None else plan.spec.seed + worker
    kind = plan.spec.sampler
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "cmaes":
        with warnings.catch_warnings():
            # learning from pruned trials is flagged "experimental" in Optuna 4
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.CmaEsSampler(
                seed=seed, warn_independent_sampling=False, consider_pruned_trials=True
            )
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    assert plan.grid is not None
    return optuna.samplers.GridSampler(dict(plan.grid), seed=seed)


def _pruner(plan: _StudyPlan) -> optuna.pruners.BasePruner:
    startup = int(PROFILES[plan.spec.profile]["startup_trials"])
    if plan.spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    if plan.spec.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


@contextlib.contextmanager
def open_storage(url: str) -> Iterator[optuna.storages.RDBStorage]:
    """Yield `optuna_storage` ``(url)`` and release its connections afterwards."""
    storage = optuna_storage(url)
    try:
        yield storage
    finally:
        storage.remove_session()
        storage.engine.dispose()


def _load_study(plan: _StudyPlan, worker: int, storage: optuna.storages.RDBStorage) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress bar reports instead
    return optuna.create_study(
        storage=storage,
        study_name=plan.study_name,
        sampler=_sampler(plan, worker),
        pruner=_pruner(plan),
        direction="maximize" if plan.direction == "max" else "minimize",
        load_if_exists=True,
    )


def _objective(plan: _StudyPlan, payload: _Payload) -> Callable[[optuna.Trial], float]:
    n = int(payload.columns["open_time"].size)
    from quantforge.engine.metrics import periods_per_year

    def objective(trial: optuna.Trial) -> float:
        params = dict(plan.fixed)
        for name in plan.search:
            params[name] = _suggest(trial, name, plan.dimensions[name])
        for constraint in plan.constraints:
            if not constraint.holds(params):
                trial.set_user_attr("pruned_reason", f"constraint {constraint.expression}")
                raise optuna.TrialPruned(f"violates {constraint.expression}")
        value = math.nan
        segment: SegmentResult | None = None
        for step, fraction in enumerate(plan.spec.fractions):
            end = max(2, round(n * fraction))
            try:
                segment = simulate_segment(
                    plan.strategy, params, payload.columns, payload.backtest, 0, end
                )
            except ConfigError as e:  # parameters the strategy rejects (e.g. slow <= fast)
                trial.set_user_attr("pruned_reason", str(e))
                raise optuna.TrialPruned(str(e)) from e
            raw = segment.metrics.get(plan.metric)
            value = math.nan if raw is None else float(raw)
            if math.isnan(value):
                trial.set_user_attr("pruned_reason", f"{plan.metric} is undefined (no trades?)")
                raise optuna.TrialPruned(f"{plan.metric} undefined at fraction {fraction}")
            if fraction < 1.0:
                trial.report(value, step)
                if trial.should_prune():
                    trial.set_user_attr("pruned_reason", f"below median at {fraction:.0%}")
                    raise optuna.TrialPruned
        assert segment is not None
        sharpe = segment.metrics.get("sharpe")
        bar_ms = float(np.median(np.diff(segment.time_ms))) if segment.time_ms.size > 1 else 6e4
        ppy = periods_per_year(int(bar_ms), payload.backtest.calendar)
        trial.set_user_attr(
            "stats",
            {
                "sharpe": None if sharpe is None else float(sharpe),
                "periods_per_year": ppy,
                "n_bars": int(segment.equity.size),
                "n_trades": segment.n_trades,
                "params": {k: _plain(v) for k, v in params.items()},
            },
        )
        return value

    return objective


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _json_metrics(metrics: Mapping[str, float | int | None]) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for k, v in metrics.items():
        out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
    return out


def run_trial_batch(batch: _TrialBatch, payload: _Payload) -> int:
    """Run ``batch.n_trials`` trials of one study (an executor task); return how many ran."""
    with open_storage(batch.plan.storage_url) as storage:
        study = _load_study(batch.plan, batch.worker, storage)
        before = len(study.get_trials(deepcopy=False))
        study.optimize(
            _objective(batch.plan, payload),
            n_trials=batch.n_trials,
            catch=(QuantforgeError,),
            gc_after_trial=False,
        )
        return len(study.get_trials(deepcopy=False)) - before


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptimizeProgress:
    """Where a search stands: trials finished in the current stage and the best value so far."""

    stage: str
    done: int
    total: int
    best_value: float | None
    best_params: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class StageResult:
    """One stage's study: its name, what it searched, its best trial and trial counts."""

    name: str
    study_name: str
    searched: tuple[str, ...]
    best_params: dict[str, Any]
    best_value: float | None
    n_complete: int
    n_pruned: int
    n_failed: int


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """The outcome of `run_optimization`.

    ``best_params`` are the full parameters after the last stage; ``stages`` lists each stage.
    """

    strategy: str
    symbol: str
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: float | None
    stages: tuple[StageResult, ...]
    storage_url: str
    elapsed_s: float

    @property
    def study_names(self) -> tuple[str, ...]:
        """Return the study name of every stage (for `study_trials`)."""
        return tuple(s.study_name for s in self.stages)


@dataclass(frozen=True, slots=True)
class TrialStats:
    """Trials of one or more studies, for the deflated Sharpe ratio.

    ``sharpe`` holds the annualised full-data Sharpe ratio of every completed trial;
    ``per_bar_variance`` is the variance of the per-bar Sharpe ratios (``sharpe² / ppy``).
    ``n_trials`` counts every trial that ran (complete, pruned or failed): the search tried them.
    """

    n_trials: int
    n_complete: int
    sharpe: np.ndarray[Any, Any]
    periods_per_year: float | None
    per_bar_variance: float


def study_trials(storage_url: str, study_names: Sequence[str]) -> TrialStats:
    """Read the trials of ``study_names`` from the results database.

    Raises
    ------
    OptimizationError
        When a study does not exist.
    """
    with open_storage(storage_url) as storage:
        return _trial_stats(storage, storage_url, study_names)


def _trial_stats(
    storage: optuna.storages.RDBStorage, storage_url: str, study_names: Sequence[str]
) -> TrialStats:
    sharpes: list[float] = []
    ppy: float | None = None
    total = 0
    for name in study_names:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError as e:
            raise OptimizationError(
                f"no study {name!r} in {storage_url}; run `quantforge optimize` first"
            ) from e
        for trial in study.get_trials(deepcopy=False):
            if trial.state == optuna.trial.TrialState.RUNNING:
                continue
            total += 1
            if trial.state == optuna.trial.TrialState.COMPLETE:
                stats = trial.user_attrs.get("stats") or {}
                value = stats.get("sharpe")
                if value is not None and math.isfinite(value):
                    sharpes.append(float(value))
                    ppy = float(stats.get("periods_per_year") or 0.0) or ppy
    arr = np.asarray(sharpes, dtype=np.float64)
    var = float(np.var(arr / math.sqrt(ppy), ddof=1)) if ppy and arr.size >= 2 else math.nan
    return TrialStats(
        n_trials=total,
        n_complete=int(arr.size),
        sharpe=arr,
        periods_per_year=ppy,
        per_bar_variance=var,
    )


def choose_target(
    config: ExperimentConfig, strategy: str | None, symbol: str | None
) -> tuple[StrategySpec, str]:
    """Return the strategy section and symbol to work on (the only ones, or the named ones).

    Raises
    ------
    ConfigError
        When the experiment has several and none is named, or the named one is not in it.
    """
    specs = config.all_strategies
    if strategy is None:
        if len(specs) > 1:
            raise ConfigError(
                f"{config.name} has {len(specs)} strategies "
                f"({', '.join(s.name for s in specs)}); choose one with --strategy"
            )
        spec = specs[0]
    else:
        matching = [s for s in specs if s.name == strategy]
        if not matching:
            raise ConfigError(
                f"strategy {strategy!r} is not in {config.name}; it has "
                f"{', '.join(s.name for s in specs)}"
            )
        spec = matching[0]
    symbols = config.data.symbols
    if symbol is None:
        if len(symbols) > 1:
            raise ConfigError(
                f"{config.name} has {len(symbols)} symbols ({', '.join(symbols)}); choose one "
                "with --symbol"
            )
        return spec, symbols[0]
    if symbol.upper() not in symbols:
        raise ConfigError(f"symbol {symbol!r} is not in {config.name}: {', '.join(symbols)}")
    return spec, symbol.upper()


def _counts(study: optuna.Study) -> tuple[int, int, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    ts = optuna.trial.TrialState
    return (
        sum(s == ts.COMPLETE for s in states),
        sum(s == ts.PRUNED for s in states),
        sum(s == ts.FAIL for s in states),
    )


def _batches(plan: _StudyPlan, remaining: int, size: int, start: int) -> Iterator[_TrialBatch]:
    # every batch gets its own sampler seed (seed + trials before it + batch number), so batches
    # do not repeat each other's random start-up trials
    i = start
    while remaining > 0:
        k = min(size, remaining)
        i += 1
        yield _TrialBatch(plan=plan, n_trials=k, worker=i)
        remaining -= k


def run_optimization(
    config: ExperimentConfig,
    spec: OptimizeSpec,
    *,
    storage_url: str,
    bars: pl.DataFrame,
    strategy: str | None = None,
    symbol: str | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    study_prefix: str | None = None,
    progress: Callable[[OptimizeProgress], None] | None = None,
) -> OptimizationResult:
    """Run (or resume) the staged Optuna search of one strategy on one symbol.

    Parameters
    ----------
    config
        The experiment (its grid bounds the search space, ``ranking`` is the objective).
    spec
        The ``optimize`` section.
    storage_url
        The results database URL (the study is stored there; open the `ResultStore` first).
    bars
        The symbol's bars.
    strategy, symbol
        Which strategy/symbol to optimise when the experiment has several.
    executor
        Runs batches of trials in parallel (local processes or Ray); None runs in this process.
    workers
        Number of concurrent trial batches (and distinct sampler seeds).
    study_prefix
        Study name prefix; default ``spec.study`` or ``<experiment>:<strategy>:<symbol>``.
    progress
        Called after every finished batch.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    ConfigError
        For an ambiguous strategy/symbol or a stage naming unknown parameters.
    OptimizationError
        When no trial of a stage completes.
    """
    started = time.perf_counter()
    strategy_spec, chosen_symbol = choose_target(config, strategy, symbol)
    get_strategy(strategy_spec.name)
    payload = _Payload(columns=bar_columns(bars), backtest=config.backtest(chosen_symbol))
    prefix = study_prefix or spec.study or f"{config.name}:{strategy_spec.name}:{chosen_symbol}"
    stages = spec.stages or (StageSpec(name="all", select="all"),)
    best: dict[str, Any] = _fixed_values(strategy_spec)
    default_trials = max(1, spec.budget // len(stages))
    with open_storage(storage_url) as storage:
        results, best_value = _run_stages(
            config,
            spec,
            strategy_spec,
            chosen_symbol,
            stages,
            storage,
            storage_url,
            prefix,
            payload,
            best,
            default_trials,
            executor,
            workers,
            progress,
        )
    return OptimizationResult(
        strategy=strategy_spec.name,
        symbol=chosen_symbol,
        metric=config.ranking.metric,
        direction=config.ranking.direction,
        best_params=dict(get_strategy(strategy_spec.name).resolve(best)),
        best_value=best_value,
        stages=tuple(results),
        storage_url=storage_url,
        elapsed_s=time.perf_counter() - started,
    )


def _run_stages(
    config: ExperimentConfig,
    spec: OptimizeSpec,
    strategy_spec: StrategySpec,
    chosen_symbol: str,
    stages: Sequence[StageSpec],
    storage: optuna.storages.RDBStorage,
    storage_url: str,
    prefix: str,
    payload: _Payload,
    best: dict[str, Any],
    default_trials: int,
    executor: Executor | None,
    workers: int,
    progress: Callable[[OptimizeProgress], None] | None,
) -> tuple[list[StageResult], float | None]:
    # Run the stages in order; ``best`` is updated in place with each stage's best parameters.
    dims = strategy_spec.space.dimensions
    results: list[StageResult] = []
    best_value: float | None = None
    for index, stage in enumerate(stages):
        search = _stage_params(strategy_spec, stage)
        if not search:
            log.warning("stage %r selects no parameter; skipped", stage.name)
            continue
        fixed = {k: v for k, v in best.items() if k not in search}
        constraints = tuple(
            c for c in strategy_spec.space.constraints if c.names <= set(search) | set(fixed)
        )
        grid = (
            {n: list(dims[n].values()) for n in search}  # type: ignore[attr-defined]
            if spec.sampler == "grid"
            else None
        )
        name = prefix if len(stages) == 1 else f"{prefix}:stage{index + 1}-{stage.name}"
        plan = _StudyPlan(
            storage_url=storage_url,
            study_name=name,
            strategy=strategy_spec.name,
            symbol=chosen_symbol,
            spec=spec,
            dimensions=dims,
            constraints=constraints,
            search=search,
            fixed=fixed,
            metric=config.ranking.metric,
            direction=config.ranking.direction,
            grid=grid,
        )
        budget = stage.trials or default_trials
        if grid is not None:
            budget = min(budget, math.prod(len(v) for v in grid.values()))
        study = _load_study(plan, 0, storage)
        finished = sum(_counts(study))
        if finished:
            # a resumed study gets a fresh seed (seed + trials so far): the same seed would
            # replay the random start-up trials it already ran
            study = _load_study(plan, finished, storage)
        remaining = max(0, budget - finished)
        log.info("stage %s (%s): %d of %d trials done", stage.name, name, finished, budget)

        def report(
            done: int, st: optuna.Study = study, label: str = stage.name, total: int = budget
        ) -> None:
            if progress is None:
                return
            value, params = _best(st)
            progress(OptimizeProgress(label, done, total, value, params))

        def on_trial(st: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
            report(sum(_counts(st)), st)

        report(finished)
        if executor is None or workers <= 1:
            # one study object in this process: the sampler keeps its state between trials
            study.optimize(
                _objective(plan, payload),
                n_trials=remaining,
                catch=(QuantforgeError,),
                callbacks=[on_trial] if progress is not None else None,
            )
        else:
            size = max(1, remaining // (4 * workers))
            for result in executor.map(
                run_trial_batch, _batches(plan, remaining, size, finished), shared=payload
            ):
                if not result.ok:
                    log.error("a batch of trials failed: %s", result.error)
                finished += result.task.n_trials
                report(finished)
        study = _load_study(plan, 0, storage)
        value, params = _best(study)
        complete, pruned, failed = _counts(study)
        if params is None:
            raise OptimizationError(
                f"stage {stage.name!r} of {name}: no trial completed ({pruned} pruned, {failed} "
                "failed); widen the space, lower the pruning or check the strategy produces trades"
            )
        best.update(params)
        best_value = value
        results.append(
            StageResult(
                name=stage.name,
                study_name=name,
                searched=search,
                best_params=dict(best),
                best_value=value,
                n_complete=complete,
                n_pruned=pruned,
                n_failed=failed,
            )
        )
    return results, best_value


def _best(study: optuna.Study) -> tuple[float | None, dict[str, Any] | None]:
    try:
        trial = study.best_trial
    except ValueError:  # no completed trial yet
        return None, None
    params = (trial.user_attrs.get("stats") or {}).get("params") or dict(trial.params)
    return (None if trial.value is None else float(trial.value)), dict(params)
