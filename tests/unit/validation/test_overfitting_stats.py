"""PSR, DSR, E[max SR], MinBTL and PBO against the papers' formulas and worked examples."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from quantforge.engine.metrics import compute_metrics
from quantforge.errors import ConfigError
from quantforge.experiment.overfitting import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    minimum_backtest_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
)

PHI = NormalDist().cdf
PHI_INV = NormalDist().inv_cdf


def test_psr_hand_computed() -> None:
    # SR 0.05/bar, n=500, skew -0.5, raw kurtosis 6 (excess 3), SR* = 0.01
    sr, n, g3, g4, star = 0.05, 500, -0.5, 6.0, 0.01
    z = (sr - star) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    expected = PHI(z)
    got = probabilistic_sharpe_ratio(sr, n, skew=g3, kurtosis=g4 - 3, benchmark=star)
    assert got == pytest.approx(expected, abs=1e-15)
    # the numbers written out: z = 0.04 * sqrt(499) / sqrt(1.025 + 0.003125)
    assert z == pytest.approx(0.04 * 22.338307903688676 / math.sqrt(1.028125), rel=1e-12)
    assert z == pytest.approx(0.881226, abs=1e-6)
    assert got == pytest.approx(0.81090, abs=1e-5)


def test_psr_normal_returns_reduces_to_classic_z() -> None:
    # normal returns: radicand 1 + SR^2/2 (Lo 2002 standard error)
    got = probabilistic_sharpe_ratio(0.1, 101)
    assert got == pytest.approx(PHI(0.1 * 10 / math.sqrt(1 + 0.005)), abs=1e-15)


def test_psr_matches_compute_metrics(rng: np.random.Generator) -> None:
    r = rng.standard_t(5, size=800) * 0.01 + 0.0008
    equity = 1000.0 * np.cumprod(np.concatenate([[1.0], 1 + r]))
    m = compute_metrics(
        equity,
        periods_per_year=365.0,
        trade_pnl=np.zeros(0),
        trade_returns=np.zeros(0),
        trade_bars_held=np.zeros(0, dtype=np.int64),
        exposure=np.ones(equity.size),
        bar_seconds=86400.0,
    )
    s = sharpe_stats(np.diff(equity) / equity[:-1])
    assert s.skew == pytest.approx(m["skew"], rel=1e-9)
    assert s.kurtosis == pytest.approx(m["kurtosis"], rel=1e-9)
    psr = probabilistic_sharpe_ratio(s.sharpe, s.n_obs, skew=s.skew, kurtosis=s.kurtosis)
    assert psr == pytest.approx(m["probabilistic_sharpe_ratio"], rel=1e-9)


def test_psr_undefined_cases() -> None:
    assert math.isnan(probabilistic_sharpe_ratio(0.5, 1))
    # radicand <= 0: 1 - 5*0.5 + 0 < 0
    assert math.isnan(probabilistic_sharpe_ratio(0.5, 100, skew=5.0, kurtosis=-2.0))
    with pytest.raises(ConfigError, match="sharpe"):
        probabilistic_sharpe_ratio(math.nan, 100)


def test_expected_max_sharpe_formula() -> None:
    n, v = 250, 0.04
    expected = math.sqrt(v) * (
        (1 - 0.5772156649015329) * PHI_INV(1 - 1 / n)
        + 0.5772156649015329 * PHI_INV(1 - 1 / (n * math.e))
    )
    assert expected_max_sharpe(n, v) == pytest.approx(expected, rel=1e-14)
    assert expected_max_sharpe(1, v) == 0.0
    assert expected_max_sharpe(10, 0.0, mean=0.3) == 0.3
    with pytest.raises(ConfigError):
        expected_max_sharpe(0, 1.0)


def test_expected_max_sharpe_against_simulation() -> None:
    # the approximation tracks the mean maximum of N iid normals (within ~1.5 % for N=100)
    gen = np.random.default_rng(7)
    sims = gen.standard_normal((20000, 100)).max(axis=1).mean()
    assert expected_max_sharpe(100, 1.0) == pytest.approx(sims, rel=0.015)


def test_dsr_paper_example() -> None:
    # Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    # annualised SR 2.5, T = 1250 daily obs, N = 100 trials, V[SR_n] = 0.5 (annualised),
    # skew -3, raw kurtosis 10 -> SR0 = 0.1132 per day, DSR = 0.9004
    d = deflated_sharpe_ratio(
        2.5 / math.sqrt(250),
        1250,
        n_trials=100,
        trials_sharpe_variance=0.5 / 250,
        skew=-3.0,
        kurtosis=7.0,
    )
    assert d.sr0 == pytest.approx(0.1132, abs=5e-5)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)
    # written out from the formula
    sr0 = math.sqrt(0.5 / 250) * (
        (1 - EULER_GAMMA) * PHI_INV(0.99) + EULER_GAMMA * PHI_INV(1 - 1 / (100 * math.e))
    )
    sr = 2.5 / math.sqrt(250)
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + (10 - 1) / 4 * sr**2)
    assert d.dsr == pytest.approx(PHI(z), abs=1e-14)
    assert d.psr > d.dsr


def test_dsr_falls_with_more_trials() -> None:
    values = [
        deflated_sharpe_ratio(0.05, 1000, n_trials=k, trials_sharpe_variance=0.001).dsr
        for k in (1, 10, 100, 1000)
    ]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(probabilistic_sharpe_ratio(0.05, 1000))


def test_min_btl_paper_example() -> None:
    # Bailey, Borwein, Lopez de Prado, Zhu (2014): with 5 years of daily data no more than 45
    # independent configurations should be tried for an expected max Sharpe of 1.
    assert minimum_backtest_length(45, 1.0) == pytest.approx(5.0, abs=0.01)
    # upper bound MinBTL < 2 ln N / E[max]^2
    for n in (10, 100, 1000):
        assert minimum_backtest_length(n, 1.5) < 2 * math.log(n) / 1.5**2
    assert minimum_backtest_length(1) == 0.0
    with pytest.raises(ConfigError):
        minimum_backtest_length(10, 0.0)


def _pbo_reference(m: np.ndarray, s: int) -> tuple[float, list[float]]:
    # plain-Python CSCV written from the paper's steps
    t, n = m.shape
    size = t // s
    blocks = [m[i * size : (i + 1) * size] for i in range(s)]

    def sharpe(col: list[float]) -> float:
        mu = sum(col) / len(col)
        sd = math.sqrt(sum((x - mu) ** 2 for x in col) / (len(col) - 1))
        return mu / sd

    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        train = [row for i in combo for row in blocks[i].tolist()]
        test = [row for i in range(s) if i not in combo for row in blocks[i].tolist()]
        r_is = [sharpe([row[j] for row in train]) for j in range(n)]
        r_oos = [sharpe([row[j] for row in test]) for j in range(n)]
        best = max(range(n), key=lambda j: (r_is[j], -j))
        rank = 1 + sum(1 for v in r_oos if v < r_oos[best])  # no ties in continuous data
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return sum(1 for x in logits if x <= 0) / len(logits), logits


def test_pbo_matches_reference(rng: np.random.Generator) -> None:
    m = rng.normal(0.0, 0.01, size=(120, 7))
    ref, ref_logits = _pbo_reference(m, 6)
    got = probability_of_backtest_overfitting(m, 6)
    assert got.n_combinations == math.comb(6, 3) == 20
    assert got.pbo == pytest.approx(ref, abs=1e-15)
    np.testing.assert_allclose(got.logits, ref_logits, rtol=1e-9)
    slope, intercept = np.polyfit(got.is_best, got.oos_of_best, 1)
    assert got.degradation_slope == pytest.approx(slope, rel=1e-9)
    assert got.degradation_intercept == pytest.approx(intercept, rel=1e-9, abs=1e-12)


def test_pbo_hand_cases() -> None:
    # two trials that swap roles between halves: in-sample winner always worst out of sample
    a = np.array([0.02, 0.01, 0.03, 0.02, -0.01, -0.02, -0.03, -0.01])
    swap = np.column_stack([a, a[::-1]])
    res = probability_of_backtest_overfitting(swap, 2)
    assert res.pbo == 1.0
    # omega = 1/3 both times -> logit ln(1/2)
    np.testing.assert_allclose(res.logits, [math.log(0.5)] * 2)
    assert res.probability_of_loss == 1.0
    # one trial dominates in every block: never overfit; omega = 2/3 -> ln 2
    good = np.array([0.03, 0.01, 0.02, 0.04, 0.02, 0.03, 0.01, 0.02])
    bad = good - 0.05
    res = probability_of_backtest_overfitting(np.column_stack([bad, good]), 4)
    assert res.pbo == 0.0
    np.testing.assert_allclose(res.logits, [math.log(2.0)] * 6)


def test_pbo_noise_is_about_half() -> None:
    # one noise matrix can give anything (the splits share data); the mean over many is ~1/2
    gen = np.random.default_rng(1)
    values = [
        probability_of_backtest_overfitting(gen.normal(0.0, 0.01, size=(200, 20)), 8).pbo
        for _ in range(40)
    ]
    assert 0.35 < float(np.mean(values)) < 0.65


def test_pbo_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="even"):
        probability_of_backtest_overfitting(np.zeros((40, 3)), 3)
    with pytest.raises(ConfigError, match="2 trials"):
        probability_of_backtest_overfitting(np.zeros((40, 1)), 2)
    with pytest.raises(ConfigError, match="rows"):
        probability_of_backtest_overfitting(np.ones((10, 3)), 8)
