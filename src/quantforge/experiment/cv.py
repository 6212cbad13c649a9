"""Combinatorial purged cross-validation (CPCV) with an embargo, for strategies that fit.

López de Prado, *Advances in Financial Machine Learning* (2018), ch. 7 and 12. The ``T``
observations are cut into ``N`` contiguous groups; every choice of ``k`` groups is one split's
test set (``C(N, k)`` splits) and the rest is its training set, after

* **purging**: a training observation whose label interval ``[i, label_end[i]]`` overlaps the
  interval of any test observation is removed (its label "saw" the test period), and
* **embargo**: the ``embargo`` observations right after each contiguous test block (after the
  last observation its labels reach) are removed from training too (serial correlation leaks
  information forward).

The test groups of the splits combine into ``φ = k/N · C(N, k)`` complete backtest paths: each
group is tested in ``C(N−1, k−1)`` splits, and path ``j`` takes every group's ``j``-th test.
`cross_validate` runs a fit/predict function over the splits and returns the paths' out-of-sample
returns, so a strategy with a fitting step gets a distribution of out-of-sample Sharpe ratios
instead of the single path of a walk-forward.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantforge.errors import ConfigError
from quantforge.experiment.overfitting import sharpe_stats

log = logging.getLogger(__name__)

__all__ = [
    "CPCVResult",
    "Split",
    "backtest_paths",
    "combinatorial_purged_splits",
    "cross_validate",
]

IndexArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class Split:
    """One CPCV split: training and test observation indices (sorted) and the test groups."""

    index: int
    test_groups: tuple[int, ...]
    train: IndexArray
    test: IndexArray


@dataclass(frozen=True, slots=True)
class CPCVResult:
    """Out-of-sample returns of every backtest path.

    Attributes
    ----------
    splits
        The splits that were fitted.
    paths
        ``(φ, T')`` returns, one row per path, ``T'`` the observations covered by the groups.
    path_sharpe
        Per-observation Sharpe ratio of each path.
    """

    splits: tuple[Split, ...]
    paths: np.ndarray[Any, Any]
    path_sharpe: np.ndarray[Any, Any]


def _groups(n_obs: int, n_groups: int) -> list[IndexArray]:
    bounds = np.linspace(0, n_obs, n_groups + 1).round().astype(np.int64)
    return [np.arange(bounds[g], bounds[g + 1], dtype=np.int64) for g in range(n_groups)]


def combinatorial_purged_splits(
    n_obs: int,
    n_groups: int,
    n_test_groups: int,
    *,
    label_end: np.ndarray[Any, Any] | None = None,
    embargo: int = 0,
) -> list[Split]:
    """Return the ``C(n_groups, n_test_groups)`` purged and embargoed splits.

    Parameters
    ----------
    n_obs
        Number of observations ``T`` (bars, or events in time order).
    n_groups, n_test_groups
        ``N`` contiguous groups, ``k`` of them tested per split (``1 <= k < N``).
    label_end
        ``label_end[i]`` is the last observation index observation ``i``'s label (e.g. its
        trade's outcome) depends on, ``>= i``; default ``i`` (no overlap, nothing to purge).
    embargo
        Observations after each contiguous test block excluded from training.

    Returns
    -------
    list of Split

    Raises
    ------
    ConfigError
        For inconsistent sizes or a ``label_end`` that looks backwards.

    Examples
    --------
    >>> s = combinatorial_purged_splits(12, 4, 1, embargo=1)
    >>> s[0].test.tolist(), s[0].train.tolist()
    ([0, 1, 2], [4, 5, 6, 7, 8, 9, 10, 11])
    """
    if not 1 <= n_test_groups < n_groups:
        raise ConfigError(f"need 1 <= n_test_groups < n_groups, got {n_test_groups}, {n_groups}")
    if n_obs < n_groups:
        raise ConfigError(f"{n_obs} observations cannot form {n_groups} groups")
    if embargo < 0:
        raise ConfigError(f"embargo must be >= 0, got {embargo}")
    idx = np.arange(n_obs, dtype=np.int64)
    ends = idx.copy() if label_end is None else np.asarray(label_end, dtype=np.int64)
    if ends.shape != (n_obs,) or np.any(ends < idx):
        raise ConfigError("label_end must have one entry per observation, each >= its index")
    groups = _groups(n_obs, n_groups)
    splits: list[Split] = []
    for number, chosen in enumerate(itertools.combinations(range(n_groups), n_test_groups)):
        test_mask = np.zeros(n_obs, dtype=bool)
        for g in chosen:
            test_mask[groups[g]] = True
        train_mask = ~test_mask
        # contiguous test blocks [a, b]: purge training labels overlapping [a, max label end]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], test_mask.astype(np.int8), [0]])))
        for a, b_excl in zip(edges[::2], edges[1::2], strict=True):
            b = b_excl - 1
            block_end = int(ends[a : b + 1].max())
            # training observation i overlaps when i <= block_end and ends[i] >= a
            overlap = (idx <= block_end) & (ends >= a)
            train_mask &= ~overlap
            if embargo:
                train_mask[b + 1 : min(n_obs, block_end + 1 + embargo)] = False
        splits.append(
            Split(
                index=number,
                test_groups=tuple(chosen),
                train=idx[train_mask],
                test=idx[test_mask],
            )
        )
    return splits


def backtest_paths(n_groups: int, n_test_groups: int) -> list[list[int]]:
    """Return, per backtest path, the split index that tests each group.

    Returns
    -------
    list of lists
        ``φ = k/N · C(N, k)`` paths; ``paths[j][g]`` is the index (in
        `combinatorial_purged_splits` order) of the split whose test set supplies group ``g``.

    Examples
    --------
    >>> backtest_paths(3, 2)
    [[0, 0, 1], [1, 2, 2]]
    """
    combos = list(itertools.combinations(range(n_groups), n_test_groups))
    n_paths = n_test_groups * len(combos) // n_groups
    seen = [0] * n_groups
    paths = [[-1] * n_groups for _ in range(n_paths)]
    for number, chosen in enumerate(combos):
        for g in chosen:
            paths[seen[g]][g] = number
            seen[g] += 1
    assert all(count == n_paths for count in seen)
    return paths


def cross_validate(
    n_obs: int,
    fit_predict: Callable[[IndexArray, IndexArray], np.ndarray[Any, Any]],
    *,
    n_groups: int = 6,
    n_test_groups: int = 2,
    label_end: np.ndarray[Any, Any] | None = None,
    embargo: int = 0,
) -> CPCVResult:
    """Run ``fit_predict(train, test)`` on every CPCV split and assemble the backtest paths.

    Parameters
    ----------
    n_obs
        Number of observations.
    fit_predict
        Fits on the ``train`` indices and returns one out-of-sample return per ``test`` index
        (e.g. select parameters on the training bars, then trade the test bars).
    n_groups, n_test_groups, label_end, embargo
        See `combinatorial_purged_splits`.

    Returns
    -------
    CPCVResult

    Raises
    ------
    ConfigError
        When ``fit_predict`` returns the wrong number of values.
    """
    splits = combinatorial_purged_splits(
        n_obs, n_groups, n_test_groups, label_end=label_end, embargo=embargo
    )
    groups = _groups(n_obs, n_groups)
    per_split: list[dict[int, np.ndarray[Any, Any]]] = []
    for split in splits:
        values = np.asarray(fit_predict(split.train, split.test), dtype=np.float64)
        if values.shape != split.test.shape:
            raise ConfigError(
                f"fit_predict returned {values.shape[0] if values.ndim else 0} values for "
                f"{split.test.size} test observations (split {split.index})"
            )
        by_group: dict[int, np.ndarray[Any, Any]] = {}
        offset = 0
        for g in split.test_groups:
            size = groups[g].size
            by_group[g] = values[offset : offset + size]
            offset += size
        per_split.append(by_group)
    rows = []
    for path in backtest_paths(n_groups, n_test_groups):
        rows.append(np.concatenate([per_split[s][g] for g, s in enumerate(path)]))
    paths = np.vstack(rows)
    sharpe = np.array([sharpe_stats(row).sharpe for row in paths])
    log.info(
        "CPCV: %d splits, %d paths, median path Sharpe %.4f",
        len(splits),
        len(rows),
        float(np.nanmedian(sharpe)) if np.any(np.isfinite(sharpe)) else math.nan,
    )
    return CPCVResult(splits=tuple(splits), paths=paths, path_sharpe=sharpe)
