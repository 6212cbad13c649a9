"""Validate an optimised strategy: baseline vs optimised vs walk-forward, DSR, PBO, Monte Carlo.

`run_validation` is what ``quantforge validate`` calls. For one strategy on one symbol it:

1. runs the **baseline** (``validation.baseline`` parameters, else the strategy's defaults);
2. finds the **optimised** parameters — from the Optuna study in the results database
   (``source: optuna``; resumed, so an existing study costs nothing) or from the grid
   (``source: grid``: the stored sweep's best run when ``quantforge run`` stored one, else the grid
   evaluated here) — and runs them on the full data;
3. runs the **walk-forward** analysis when the file has a ``walk_forward`` section;
4. computes the **deflated Sharpe ratio** of the optimised run with the number of trials the search
   ran and the variance of their Sharpe ratios (read from the store), the **PBO** by CSCV over the
   candidates' per-bar returns, and the **minimum backtest length** for that many trials;
5. resamples the out-of-sample trades (walk-forward; the optimised run's trades without one) by
   **bootstrap** and **shuffle** for confidence intervals of return and maximum drawdown.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import optuna
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from quantforge.errors import ConfigError, QuantforgeError
from quantforge.experiment.montecarlo import MonteCarloResult, monte_carlo_trades
from quantforge.experiment.optimize import (
    OptimizeSpec,
    SegmentResult,
    choose_target,
    open_storage,
    run_optimization,
    simulate_segment,
    study_trials,
)
from quantforge.experiment.overfitting import (
    DeflatedSharpe,
    PBOResult,
    deflated_sharpe_ratio,
    minimum_backtest_length,
    probability_of_backtest_overfitting,
    sharpe_stats,
)
from quantforge.experiment.tasks import bar_columns
from quantforge.experiment.walkforward import (
    WalkForwardResult,
    WalkForwardSpec,
    run_walk_forward,
)
from quantforge.strategies.registry import get as get_strategy

if TYPE_CHECKING:
    from quantforge.executors import Executor
    from quantforge.experiment.config import ExperimentConfig
    from quantforge.store import ResultStore

log = logging.getLogger(__name__)

__all__ = ["Curve", "ValidationReport", "ValidationSpec", "run_validation"]


class ValidationSpec(BaseModel):
    """The ``validation:`` section of an experiment file.

    Attributes
    ----------
    source
        Where the optimised parameters come from: ``optuna`` (the study) or ``grid``.
    baseline
        Baseline parameters (default: the strategy's defaults).
    pbo_splits
        ``S`` blocks for CSCV (``C(S, S/2)`` splits; 10 → 252, 16 → 12,870).
    max_candidates
        At most this many candidate parameter sets in the PBO matrix (in trial/grid order).
    monte_carlo_samples, confidence, seed
        Monte Carlo settings.
    target_sharpe
        Annualised Sharpe ratio for the minimum backtest length.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["optuna", "grid"] = "optuna"
    baseline: dict[str, Any] | None = None
    pbo_splits: int = Field(default=10, ge=2)
    max_candidates: int = Field(default=200, ge=2)
    monte_carlo_samples: int = Field(default=2000, ge=10)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    seed: int = 0
    target_sharpe: float = Field(default=1.0, gt=0.0)


@dataclass(frozen=True, slots=True)
class Curve:
    """An equity curve (open time in ms, equity) with its headline metrics."""

    label: str
    params: dict[str, Any]
    time_ms: np.ndarray[Any, Any]
    equity: np.ndarray[Any, Any]
    metrics: dict[str, float | int | None]


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Everything `run_validation` found (rendered by `quantforge.report.validation`)."""

    experiment: str
    strategy: str
    symbol: str
    metric: str
    source: str
    baseline: Curve
    optimised: Curve
    walk_forward: WalkForwardResult | None
    n_trials: int
    trials_sharpe_annual: np.ndarray[Any, Any]
    dsr: DeflatedSharpe
    pbo: PBOResult | None
    min_backtest_years: float
    data_years: float
    bootstrap: MonteCarloResult | None
    shuffle: MonteCarloResult | None
    notes: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """Return the headline numbers as a JSON-ready dict."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        def mc(r: MonteCarloResult | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {
                "n_trades": r.n_trades,
                "n_samples": r.n_samples,
                "confidence": r.confidence,
                "return": [r.return_interval.low, r.return_interval.median, r.return_interval.high],
                "max_drawdown": [
                    r.drawdown_interval.low,
                    r.drawdown_interval.median,
                    r.drawdown_interval.high,
                ],
                "probability_of_loss": r.probability_of_loss,
            }

        wf = self.walk_forward
        out: dict[str, Any] = {
            "experiment": self.experiment,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "metric": self.metric,
            "source": self.source,
            "baseline": {"params": self.baseline.params, "metrics": self.baseline.metrics},
            "optimised": {"params": self.optimised.params, "metrics": self.optimised.metrics},
            "walk_forward": None
            if wf is None
            else {
                "windows": len(wf.windows),
                "flagged": list(wf.flagged),
                "efficiency": wf.efficiency,
                "consistency": wf.consistency,
                "degradation": wf.degradation,
                "oos_metrics": wf.oos_metrics,
            },
            "n_trials": self.n_trials,
            "dsr": self.dsr.dsr,
            "psr": self.dsr.psr,
            "sr0_per_bar": self.dsr.sr0,
            "pbo": None if self.pbo is None else self.pbo.pbo,
            "pbo_splits": None if self.pbo is None else self.pbo.n_splits,
            "pbo_candidates": None if self.pbo is None else self.pbo.n_trials,
            "min_backtest_years": self.min_backtest_years,
            "data_years": self.data_years,
            "monte_carlo": {"bootstrap": mc(self.bootstrap), "shuffle": mc(self.shuffle)},
            "notes": list(self.notes),
        }
        result: dict[str, Any] = _deep(out, clean)
        return result


def _deep(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _deep(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep(v, fn) for v in value]
    return fn(value)


def _returns(segment: SegmentResult, cash: float) -> np.ndarray[Any, Any]:
    equity = np.concatenate([[cash], segment.equity])
    returns: np.ndarray[Any, Any] = np.diff(equity) / equity[:-1]
    return returns


def _curve(label: str, params: dict[str, Any], seg: SegmentResult) -> Curve:
    return Curve(label, params, seg.time_ms, seg.equity, seg.metrics)


def _unique(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for c in candidates:
        key = repr(sorted(c.items()))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def run_validation(
    config: ExperimentConfig,
    *,
    bars: pl.DataFrame,
    storage_url: str,
    store: ResultStore | None = None,
    optimize: OptimizeSpec | None = None,
    walk_forward: WalkForwardSpec | None = None,
    spec: ValidationSpec | None = None,
    strategy: str | None = None,
    symbol: str | None = None,
    executor: Executor | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Validate one strategy on one symbol (see the module docstring for the steps).

    Parameters
    ----------
    config
        The experiment.
    bars
        The symbol's bars.
    storage_url
        The results database (Optuna studies are read/resumed there).
    store
        The open results store (stored grid runs are read from it for ``source: grid``).
    optimize, walk_forward, spec
        The file's ``optimize``, ``walk_forward`` and ``validation`` sections.
    strategy, symbol
        Which strategy/symbol when the experiment has several.
    executor
        Optional executor for Optuna trials.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    ValidationReport

    Raises
    ------
    ConfigError
        For an ambiguous target or unusable settings.
    OptimizationError
        When the search finds nothing usable.
    """
    from quantforge.engine.metrics import periods_per_year

    vspec = spec or ValidationSpec()
    ospec = optimize or OptimizeSpec()
    strategy_spec, chosen = choose_target(config, strategy, symbol)
    definition = get_strategy(strategy_spec.name)
    backtest = config.backtest(chosen)
    columns = bar_columns(bars)
    n = int(columns["open_time"].size)
    notes: list[str] = []

    def step(name: str) -> None:
        log.info("validation: %s", name)
        if progress is not None:
            progress(name)

    def run_full(params: Mapping[str, Any]) -> SegmentResult:
        return simulate_segment(strategy_spec.name, params, columns, backtest, 0, n)

    step("baseline")
    base_params = dict(definition.resolve(vspec.baseline or {}))
    baseline = _curve("baseline", base_params, run_full(base_params))

    step("optimisation")
    candidates: list[dict[str, Any]] = []
    trial_sharpes: np.ndarray[Any, Any]
    if vspec.source == "optuna":
        found = run_optimization(
            config,
            ospec,
            storage_url=storage_url,
            bars=bars,
            strategy=strategy_spec.name,
            symbol=chosen,
            executor=executor,
        )
        best_params = found.best_params
        stats = study_trials(storage_url, found.study_names)
        n_trials = stats.n_trials
        trial_sharpes = stats.sharpe
        with open_storage(storage_url) as storage:
            for name in found.study_names:
                study = optuna.load_study(study_name=name, storage=storage)
                for trial in study.get_trials(deepcopy=False):
                    if trial.state == optuna.trial.TrialState.COMPLETE:
                        p = (trial.user_attrs.get("stats") or {}).get("params")
                        if p:
                            candidates.append(dict(definition.resolve(p)))
    else:
        stored = None
        if store is not None:
            from quantforge.store.validation import stored_trials

            stored = stored_trials(
                store,
                config.name,
                strategy=strategy_spec.name,
                symbol=chosen,
                metric=config.ranking.metric,
                descending=config.ranking.direction == "max",
            )
        grid = [dict(definition.resolve(c)) for c in strategy_spec.grid()]
        candidates = grid
        if stored is not None and stored.n_runs and stored.best_params is not None:
            best_params = dict(definition.resolve(stored.best_params))
            n_trials = stored.n_runs
            trial_sharpes = stored.sharpe
            notes.append(f"trials from the store: {stored.n_runs} runs of {config.name}")
        else:
            values: list[float] = []
            best: tuple[float, dict[str, Any]] | None = None
            descending = config.ranking.direction == "max"
            for params in grid:
                try:
                    seg = run_full(params)
                except QuantforgeError as e:
                    log.debug("grid combination %s rejected: %s", params, e)
                    continue
                s = seg.metrics.get("sharpe")
                if s is not None and math.isfinite(s):
                    values.append(float(s))
                score = seg.metrics.get(config.ranking.metric)
                if score is not None and math.isfinite(score):
                    signed = float(score) if descending else -float(score)
                    if best is None or signed > best[0]:
                        best = (signed, params)
            if best is None:
                raise ConfigError(
                    f"no grid combination of {strategy_spec.name} has a defined "
                    f"{config.ranking.metric} on {chosen}; widen the grid"
                )
            best_params = best[1]
            n_trials = len(grid)
            trial_sharpes = np.asarray(values)
            notes.append(f"nothing stored for {config.name}: the grid was evaluated here")
    optimised_seg = run_full(best_params)
    optimised = _curve("optimised", dict(best_params), optimised_seg)

    wf: WalkForwardResult | None = None
    if walk_forward is not None:
        step("walk-forward")
        wf = run_walk_forward(
            config,
            walk_forward,
            bars=bars,
            strategy=strategy_spec.name,
            symbol=chosen,
            optimize=ospec,
            storage_url=storage_url,
            executor=executor,
        )
        if wf.flagged:
            notes.append(
                f"walk-forward windows {list(wf.flagged)} have fewer than "
                f"{walk_forward.min_trades} out-of-sample trades"
            )

    step("deflated Sharpe ratio")
    bar_ms = int(np.median(np.diff(columns["open_time"]))) if n > 1 else 60_000
    ppy = periods_per_year(bar_ms, backtest.calendar)
    selected = sharpe_stats(_returns(optimised_seg, backtest.cash))
    per_bar = trial_sharpes / math.sqrt(ppy)
    variance = float(np.var(per_bar, ddof=1)) if per_bar.size >= 2 else 0.0
    if per_bar.size < 2:
        notes.append("fewer than 2 trials with a Sharpe ratio: the DSR equals the PSR")
    if math.isnan(selected.sharpe):
        raise ConfigError(
            f"the optimised run of {strategy_spec.name} has no return dispersion (no trades?); "
            "nothing to validate"
        )
    dsr = deflated_sharpe_ratio(
        selected.sharpe,
        selected.n_obs,
        n_trials=max(1, n_trials),
        trials_sharpe_variance=variance,
        skew=0.0 if math.isnan(selected.skew) else selected.skew,
        kurtosis=0.0 if math.isnan(selected.kurtosis) else selected.kurtosis,
    )

    step("probability of backtest overfitting")
    pbo: PBOResult | None = None
    unique = _unique(candidates)[: vspec.max_candidates]
    if len(unique) >= 2:
        matrix = np.column_stack([_returns(run_full(p), backtest.cash) for p in unique])
        if matrix.shape[0] >= 2 * vspec.pbo_splits:
            pbo = probability_of_backtest_overfitting(matrix, vspec.pbo_splits)
        else:
            notes.append(f"too few bars ({matrix.shape[0]}) for {vspec.pbo_splits} CSCV blocks")
    else:
        notes.append("fewer than 2 distinct candidates: no PBO")

    step("Monte Carlo")
    trades = wf.trade_returns if wf is not None else optimised_seg.trade_returns
    trades = trades[np.isfinite(trades) & (trades > -1.0)]
    bootstrap = shuffle = None
    if trades.size >= 2:
        kwargs: dict[str, Any] = {
            "n_samples": vspec.monte_carlo_samples,
            "confidence": vspec.confidence,
            "seed": vspec.seed,
        }
        bootstrap = monte_carlo_trades(trades, method="bootstrap", **kwargs)
        shuffle = monte_carlo_trades(trades, method="shuffle", **kwargs)
    else:
        notes.append("fewer than 2 out-of-sample trades: no Monte Carlo")

    return ValidationReport(
        experiment=config.name,
        strategy=strategy_spec.name,
        symbol=chosen,
        metric=config.ranking.metric,
        source=vspec.source,
        baseline=baseline,
        optimised=optimised,
        walk_forward=wf,
        n_trials=n_trials,
        trials_sharpe_annual=trial_sharpes,
        dsr=dsr,
        pbo=pbo,
        min_backtest_years=minimum_backtest_length(max(1, n_trials), vspec.target_sharpe),
        data_years=n / ppy,
        bootstrap=bootstrap,
        shuffle=shuffle,
        notes=tuple(notes),
    )
