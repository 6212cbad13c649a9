"""CPCV: split counts, purging, embargo and path assembly against brute-force checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantforge.errors import ConfigError
from quantforge.experiment.cv import backtest_paths, combinatorial_purged_splits, cross_validate


@settings(max_examples=80, deadline=None)
@given(
    n_obs=st.integers(20, 200),
    n_groups=st.integers(2, 8),
    k=st.integers(1, 7),
    horizon=st.integers(0, 10),
    embargo=st.integers(0, 5),
)
def test_purge_and_embargo_hold(
    n_obs: int, n_groups: int, k: int, horizon: int, embargo: int
) -> None:
    if k >= n_groups:
        return
    label_end = np.minimum(np.arange(n_obs) + horizon, n_obs - 1)
    splits = combinatorial_purged_splits(n_obs, n_groups, k, label_end=label_end, embargo=embargo)
    assert len(splits) == math.comb(n_groups, k)
    for split in splits:
        test = set(split.test.tolist())
        train = set(split.train.tolist())
        assert test.isdisjoint(train)
        # no training label interval overlaps any test label interval
        for i in split.train:
            for j in split.test:
                assert label_end[i] < j or i > label_end[j]
        # embargo: nothing in the `embargo` observations after a test block's label end
        for j in split.test:
            if j + 1 not in test:  # end of a contiguous test block
                block_end = max(label_end[t] for t in test if t <= j)
                for e in range(j + 1, min(n_obs, block_end + 1 + embargo)):
                    assert e not in train


def test_paths_cover_each_group_once_with_distinct_splits() -> None:
    n, k = 6, 2
    paths = backtest_paths(n, k)
    assert len(paths) == k * math.comb(n, k) // n == 5
    splits = combinatorial_purged_splits(60, n, k)
    for path in paths:
        for g, s in enumerate(path):
            assert g in splits[s].test_groups
    # every (group, split) pair where the group is tested is used exactly once
    used = {(g, s) for path in paths for g, s in enumerate(path)}
    expected = {(g, sp.index) for sp in splits for g in sp.test_groups}
    assert used == expected


def test_cross_validate_assembles_paths_from_test_predictions() -> None:
    n = 60
    truth = np.sin(np.arange(n))

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return truth[test]  # a perfect "prediction" reproduces the series on every path

    res = cross_validate(n, fit_predict, n_groups=5, n_test_groups=2, embargo=2)
    assert res.paths.shape == (2 * math.comb(5, 2) // 5, n)  # phi = k/N C(N, k) = 4
    for row in res.paths:
        np.testing.assert_array_equal(row, truth)
    with pytest.raises(ConfigError, match="values"):
        cross_validate(n, lambda tr, te: np.zeros(3), n_groups=5, n_test_groups=2)


def test_cross_validate_with_a_fitting_step_sees_only_purged_training_data() -> None:
    # the fit uses the training mean; an index leak would show as a training index in test
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 0.01, 120)
    label_end = np.minimum(np.arange(120) + 3, 119)
    seen: list[tuple[set, set]] = []

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        seen.append((set(train.tolist()), set(test.tolist())))
        sign = 1.0 if r[train].mean() > 0 else -1.0
        return sign * r[test]

    res = cross_validate(
        120, fit_predict, n_groups=6, n_test_groups=2, label_end=label_end, embargo=2
    )
    assert len(seen) == 15
    assert all(tr.isdisjoint(te) for tr, te in seen)
    assert res.path_sharpe.shape == (5,)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        combinatorial_purged_splits(10, 3, 3)
    with pytest.raises(ConfigError, match="label_end"):
        combinatorial_purged_splits(10, 2, 1, label_end=np.arange(10) - 1)
