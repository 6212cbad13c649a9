"""Read what the overfitting statistics need from the results store (no writes, no metrics).

`stored_trials` returns the annualised Sharpe ratios of every successful grid run the runner stored
for an experiment (by name), one strategy and optionally one symbol: the trials a sweep actually
ran, for the deflated Sharpe ratio. Optuna trials live in Optuna's own tables of the same database
and are read by `quantforge.experiment.optimize.study_trials`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from quantforge.store.repository import ResultStore

log = logging.getLogger(__name__)

__all__ = ["StoredTrials", "stored_trials"]


@dataclass(frozen=True, slots=True)
class StoredTrials:
    """Successful stored runs of one strategy: ids, parameters and annualised Sharpe ratios.

    ``n_runs`` counts every stored run (errors included); ``sharpe`` holds the finite values of
    the successful ones; ``best_params`` are those of the best run by the ranking metric.
    """

    experiment_ids: tuple[int, ...]
    n_runs: int
    sharpe: np.ndarray[Any, Any]
    params: tuple[dict[str, Any], ...]
    best_params: dict[str, Any] | None


def stored_trials(
    store: ResultStore,
    experiment: str,
    *,
    strategy: str,
    symbol: str | None = None,
    metric: str = "sharpe",
    descending: bool = True,
) -> StoredTrials:
    """Return the stored grid runs of ``strategy`` in every experiment named ``experiment``.

    Parameters
    ----------
    store
        The results store.
    experiment
        Experiment name (every stored version with that name counts: each ran its trials).
    strategy, symbol
        Which runs.
    metric, descending
        Ranking used for ``best_params``.

    Returns
    -------
    StoredTrials
        Empty (``n_runs == 0``) when nothing is stored.
    """
    table = store.experiments()
    ids: tuple[int, ...] = ()
    if table.height:
        ids = tuple(int(i) for i in table.filter(pl.col("name") == experiment)["id"].to_list())
    sharpes: list[float] = []
    params: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    total = 0
    for experiment_id in ids:
        frame = store.runs(experiment_id, order_by="id", status="all", strategy=strategy)
        if symbol is not None and frame.height:
            frame = frame.filter(pl.col("symbol") == symbol)
        total += frame.height
        for row in frame.filter(pl.col("status") == "ok").iter_rows(named=True):
            value = row.get("sharpe")
            p = json.loads(row["params"]) if isinstance(row.get("params"), str) else {}
            params.append(p)
            if value is not None and math.isfinite(value):
                sharpes.append(float(value))
            score = row.get(metric)
            if score is not None and math.isfinite(score):
                signed = score if descending else -score
                if best is None or signed > best[0]:
                    best = (signed, p)
    return StoredTrials(
        experiment_ids=ids,
        n_runs=total,
        sharpe=np.asarray(sharpes, dtype=np.float64),
        params=tuple(params),
        best_params=None if best is None else best[1],
    )
