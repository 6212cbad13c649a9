"""Statistics that correct a backtest for the search that found it.

* `probabilistic_sharpe_ratio` (PSR) — Bailey & López de Prado (2012), *The Sharpe Ratio
  Efficient Frontier*: the probability that the true Sharpe ratio exceeds a benchmark, given the
  sample's length, skewness and kurtosis.
* `expected_max_sharpe` and `deflated_sharpe_ratio` (DSR) — Bailey & López de Prado (2014),
  *The Deflated Sharpe Ratio*: PSR against the Sharpe ratio the best of ``N`` skill-less trials
  is expected to reach, ``E[max SR] ≈ sqrt(V)·((1−γ)Φ⁻¹(1−1/N) + γΦ⁻¹(1−1/(N·e)))``.
* `minimum_backtest_length` (MinBTL) — Bailey, Borwein, López de Prado & Zhu (2014),
  *Pseudo-Mathematics and Financial Charlatanism*: the years of data below which ``N`` trials
  are expected to produce an annualised Sharpe of ``target`` by chance alone.
* `probability_of_backtest_overfitting` (PBO via CSCV) — Bailey, Borwein, López de Prado & Zhu
  (2017), *The Probability of Backtest Overfitting*.

Conventions follow `quantforge.engine.metrics`: Sharpe ratios here are **per observation** (not
annualised) unless a name says otherwise, standard deviations are sample (``ddof=1``), skewness is
the bias-corrected ``G1`` and kurtosis the bias-corrected **excess** ``G2`` (the paper's raw
``γ4`` is ``G2 + 3``). See ``docs/validation.md``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Final

import numpy as np

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "EULER_GAMMA",
    "DeflatedSharpe",
    "PBOResult",
    "SharpeStats",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "minimum_backtest_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_stats",
]

#: the Euler–Mascheroni constant γ
EULER_GAMMA: Final = 0.5772156649015329
_NORMAL: Final = NormalDist()
_ZERO_STD: Final = 1e-12


@dataclass(frozen=True, slots=True)
class SharpeStats:
    """A return series summarised for PSR/DSR: per-observation Sharpe, length, G1, excess G2."""

    sharpe: float
    n_obs: int
    skew: float
    kurtosis: float


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio and what went into it.

    Attributes
    ----------
    dsr
        ``PSR(SR0)``: probability that the true Sharpe ratio exceeds ``SR0``.
    psr
        ``PSR(0)`` of the same series (no deflation), for comparison.
    sharpe
        The observed per-observation Sharpe ratio.
    sr0
        The expected maximum per-observation Sharpe of ``n_trials`` skill-less trials.
    n_trials
        Number of trials the search ran.
    trials_sharpe_variance
        Variance of the trials' per-observation Sharpe ratios.
    n_obs, skew, kurtosis
        Sample length, skewness ``G1`` and excess kurtosis ``G2`` of the selected series.
    """

    dsr: float
    psr: float
    sharpe: float
    sr0: float
    n_trials: int
    trials_sharpe_variance: float
    n_obs: int
    skew: float
    kurtosis: float


@dataclass(frozen=True, slots=True)
class PBOResult:
    """Probability of backtest overfitting estimated by CSCV.

    Attributes
    ----------
    pbo
        Share of splits whose in-sample best trial ranks at or below the out-of-sample median
        (logit ``λ ≤ 0``).
    logits
        ``λ_c = ln(ω_c / (1 − ω_c))`` per split, ``ω_c`` the relative out-of-sample rank of the
        in-sample winner.
    is_best
        In-sample performance of the winner, per split.
    oos_of_best
        Out-of-sample performance of that same trial, per split.
    degradation_slope, degradation_intercept
        Least-squares fit ``oos_of_best ≈ intercept + slope · is_best`` (nan with < 2 distinct
        in-sample values).
    probability_of_loss
        Share of splits where the winner's out-of-sample performance is below zero.
    n_splits, n_trials, n_combinations
        ``S`` blocks, ``N`` trials, ``C(S, S/2)`` splits evaluated.
    """

    pbo: float
    logits: FloatArray
    is_best: FloatArray
    oos_of_best: FloatArray
    degradation_slope: float
    degradation_intercept: float
    probability_of_loss: float
    n_splits: int
    n_trials: int
    n_combinations: int


def _check_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def sharpe_stats(returns: FloatArray) -> SharpeStats:
    """Return the per-observation Sharpe ratio, length, skewness G1 and excess kurtosis G2.

    Parameters
    ----------
    returns
        Simple returns per observation (bar, day or trade); NaN values are dropped.

    Returns
    -------
    SharpeStats
        ``sharpe`` is ``mean / std(ddof=1)``; every field is nan when it is undefined (n < 2 for
        the Sharpe ratio, n < 3 skew, n < 4 kurtosis, or zero dispersion).

    Examples
    --------
    >>> s = sharpe_stats(np.array([0.01, -0.02, 0.03, 0.0, 0.01]))
    >>> round(s.sharpe, 4), s.n_obs
    (0.3303, 5)
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = int(r.size)
    nan = math.nan
    if n < 2:
        return SharpeStats(nan, n, nan, nan)
    std = float(r.std(ddof=1))
    if std <= _ZERO_STD * (float(np.max(np.abs(r))) + 1.0):
        return SharpeStats(nan, n, nan, nan)
    sharpe = float(r.mean()) / std
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    skew = kurt = nan
    if n >= 3:
        g1 = float(np.mean(d**3)) / m2**1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    if n >= 4:
        g2 = float(np.mean(d**4)) / m2**2 - 3.0
        kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    return SharpeStats(sharpe, n, skew, kurt)


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    *,
    skew: float = 0.0,
    kurtosis: float = 0.0,
    benchmark: float = 0.0,
) -> float:
    """Return ``PSR(SR*)``, the probability that the true Sharpe ratio exceeds ``benchmark``.

    ``PSR = Φ((SR − SR*)·sqrt(n − 1) / sqrt(1 − γ3·SR + (γ4 − 1)/4·SR²))`` with ``γ4`` the raw
    kurtosis (``kurtosis + 3``).

    Parameters
    ----------
    sharpe
        Observed per-observation (non-annualised) Sharpe ratio.
    n_obs
        Number of return observations.
    skew
        Skewness of the returns (0 for normal returns).
    kurtosis
        **Excess** kurtosis of the returns (0 for normal returns).
    benchmark
        ``SR*``, per observation.

    Returns
    -------
    float
        In [0, 1]; nan when ``n_obs < 2`` or the radicand is not positive.

    Raises
    ------
    ConfigError
        For a non-finite Sharpe ratio, skew, kurtosis or benchmark.

    Examples
    --------
    >>> round(probabilistic_sharpe_ratio(0.1, 101), 4)  # Φ(0.1·10/sqrt(1 + 0.005))
    0.8407
    """
    sr = _check_finite("sharpe", sharpe)
    g3 = _check_finite("skew", skew)
    g4 = _check_finite("kurtosis", kurtosis) + 3.0
    sr_star = _check_finite("benchmark", benchmark)
    if n_obs < 2:
        return math.nan
    radicand = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr
    if radicand <= 0.0:
        return math.nan
    return _NORMAL.cdf((sr - sr_star) * math.sqrt(n_obs - 1) / math.sqrt(radicand))


def _max_quantile_factor(n_trials: int) -> float:
    # (1 − γ)Φ⁻¹(1 − 1/N) + γΦ⁻¹(1 − 1/(N·e)); 0 for a single trial (nothing to deflate)
    if n_trials < 2:
        return 0.0
    n = float(n_trials)
    return (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n) + EULER_GAMMA * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n * math.e)
    )


def expected_max_sharpe(n_trials: int, variance: float, mean: float = 0.0) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` independent skill-less trials.

    ``E[max SR] ≈ mean + sqrt(V)·((1 − γ)Φ⁻¹(1 − 1/N) + γΦ⁻¹(1 − 1/(N·e)))``
    (Bailey & López de Prado 2014, from the False Strategy theorem), ``γ`` Euler's constant.

    Parameters
    ----------
    n_trials
        Number of (independent) trials ``N``; 1 gives ``mean``.
    variance
        Variance ``V`` of the trials' Sharpe ratios (same units as the result).
    mean
        Mean Sharpe ratio of a skill-less trial (0 by the paper's null hypothesis).

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        When ``n_trials < 1`` or the variance is negative or not finite.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 1.0), 4)
    2.5306
    """
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    v = _check_finite("variance", variance)
    if v < 0.0:
        raise ConfigError(f"variance must be >= 0, got {variance}")
    return _check_finite("mean", mean) + math.sqrt(v) * _max_quantile_factor(n_trials)


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    *,
    n_trials: int,
    trials_sharpe_variance: float,
    skew: float = 0.0,
    kurtosis: float = 0.0,
) -> DeflatedSharpe:
    """Return the deflated Sharpe ratio ``DSR = PSR(SR0)``, ``SR0 = E[max SR]`` of the trials.

    Parameters
    ----------
    sharpe
        Per-observation Sharpe ratio of the selected (best) trial.
    n_obs
        Its number of return observations.
    n_trials
        How many trials the search ran (all of them, not only the stored best).
    trials_sharpe_variance
        Variance of the trials' per-observation Sharpe ratios (divide annualised Sharpe ratios
        by ``sqrt(periods_per_year)`` before taking it).
    skew, kurtosis
        Skewness and **excess** kurtosis of the selected trial's returns.

    Returns
    -------
    DeflatedSharpe

    Raises
    ------
    ConfigError
        For non-finite inputs or ``n_trials < 1``.

    Examples
    --------
    Bailey & López de Prado (2014), section 5: annualised SR 2.5 over 1250 daily observations,
    100 trials with annualised-SR variance 0.5, skew −3, raw kurtosis 10:

    >>> d = deflated_sharpe_ratio(2.5 / 250**0.5, 1250, n_trials=100,
    ...                           trials_sharpe_variance=0.5 / 250, skew=-3.0, kurtosis=7.0)
    >>> round(d.dsr, 3)
    0.9
    """
    sr0 = expected_max_sharpe(n_trials, trials_sharpe_variance)
    dsr = probabilistic_sharpe_ratio(sharpe, n_obs, skew=skew, kurtosis=kurtosis, benchmark=sr0)
    psr = probabilistic_sharpe_ratio(sharpe, n_obs, skew=skew, kurtosis=kurtosis)
    return DeflatedSharpe(
        dsr=dsr,
        psr=psr,
        sharpe=float(sharpe),
        sr0=sr0,
        n_trials=int(n_trials),
        trials_sharpe_variance=float(trials_sharpe_variance),
        n_obs=int(n_obs),
        skew=float(skew),
        kurtosis=float(kurtosis),
    )


def minimum_backtest_length(n_trials: int, target_sharpe: float = 1.0) -> float:
    """Return the minimum backtest length in years for ``n_trials`` (MinBTL).

    ``MinBTL ≈ ((1 − γ)Φ⁻¹(1 − 1/N) + γΦ⁻¹(1 − 1/(N·e)))² / E[max SR]²`` with ``E[max SR]`` the
    annualised Sharpe ratio to guard against: with less data than this, the best of ``N``
    skill-less trials is expected to show an annualised Sharpe of ``target_sharpe``.

    Parameters
    ----------
    n_trials
        Number of independent configurations tried.
    target_sharpe
        Annualised Sharpe ratio (> 0).

    Returns
    -------
    float
        Years (0 for a single trial).

    Raises
    ------
    ConfigError
        When ``n_trials < 1`` or ``target_sharpe <= 0``.

    Examples
    --------
    The paper's example: 45 trials exhaust about 5 years of data at a target Sharpe of 1.

    >>> round(minimum_backtest_length(45, 1.0), 2)
    5.0
    """
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    target = _check_finite("target_sharpe", target_sharpe)
    if target <= 0.0:
        raise ConfigError(f"target_sharpe must be > 0, got {target_sharpe}")
    return (_max_quantile_factor(n_trials) / target) ** 2


def _split_sharpe(
    sums: FloatArray,
    squares: FloatArray,
    peak: FloatArray,
    offset: FloatArray,
    chosen: np.ndarray[Any, np.dtype[np.bool_]],
    rows: int,
) -> FloatArray:
    # mean/std(ddof=1) per column over the chosen blocks; a flat column (std 0) scores 0 when its
    # mean is 0 and ±inf otherwise
    total = sums[chosen].sum(axis=0)
    mean_c = total / rows
    var = np.maximum((squares[chosen].sum(axis=0) - rows * mean_c * mean_c) / (rows - 1), 0.0)
    std = np.sqrt(var)
    mean = mean_c + offset
    out = np.zeros(sums.shape[1])
    flat = std <= _ZERO_STD * (peak[chosen].max(axis=0) + 1.0)
    ok = ~flat
    out[ok] = mean[ok] / std[ok]
    out[flat] = np.sign(np.round(mean[flat], 15)) * np.inf
    return out


def _average_ranks(x: FloatArray) -> FloatArray:
    # ranks 1..N, ties get their average rank
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1, dtype=np.float64)
    values = x[order]
    i = 0
    while i < x.size:
        j = i
        while j + 1 < x.size and values[j + 1] == values[i]:
            j += 1
        if j > i:
            ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def probability_of_backtest_overfitting(
    returns: FloatArray, n_splits: int = 16, *, max_combinations: int | None = None
) -> PBOResult:
    """Return the probability of backtest overfitting by combinatorially symmetric CV (CSCV).

    The ``T × N`` matrix of per-period returns of ``N`` trials is cut into ``S`` contiguous blocks
    of equal size (trailing rows that do not fill a block are dropped). For every choice of
    ``S/2`` blocks as the in-sample set ``J`` (the rest is ``J̄``), the trial with the best
    in-sample Sharpe ratio is found and its out-of-sample Sharpe ratio ranked among all trials:
    ``ω = rank / (N + 1)``, ``λ = ln(ω / (1 − ω))``. ``PBO`` is the share of splits with ``λ ≤ 0``.

    Parameters
    ----------
    returns
        ``(T, N)`` returns, one column per trial (same periods for every trial).
    n_splits
        ``S``, even, ``2 <= S <= T``. ``C(16, 8) = 12,870`` splits for the default.
    max_combinations
        Evaluate only the first this many splits (in `itertools.combinations` order); None = all.

    Returns
    -------
    PBOResult

    Raises
    ------
    ConfigError
        For a matrix that is not 2-D, fewer than 2 trials, an odd ``S`` or too few rows.

    Examples
    --------
    >>> r = np.array([[1.0, -1.0], [2.0, -2.0], [-1.0, 1.0], [-2.0, 2.0]]) / 100
    >>> probability_of_backtest_overfitting(r, 2).pbo  # the in-sample winner always loses
    1.0
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2:
        raise ConfigError(f"returns must be a (T, N) matrix, got shape {m.shape}")
    t, n = m.shape
    if n < 2:
        raise ConfigError(f"PBO needs at least 2 trials (columns), got {n}")
    if n_splits < 2 or n_splits % 2:
        raise ConfigError(f"n_splits must be an even number >= 2, got {n_splits}")
    if t < 2 * n_splits:
        raise ConfigError(
            f"{t} rows cannot be cut into {n_splits} blocks of at least 2 rows; lower n_splits"
        )
    if not np.all(np.isfinite(m)):
        raise ConfigError("returns contain NaN or inf; fill periods without a position with 0")
    size = t // n_splits
    blocks = m[: size * n_splits].reshape(n_splits, size, n)
    # per-block sums: any split's mean and variance come from S x N numbers, not T x N
    offset = blocks.mean(axis=(0, 1))  # shifted sums keep the variance numerically stable
    centred = blocks - offset
    sums = centred.sum(axis=1)
    squares = (centred * centred).sum(axis=1)
    peak = np.abs(blocks).max(axis=1)
    half = n_splits // 2
    rows = size * half
    logits: list[float] = []
    is_best: list[float] = []
    oos_best: list[float] = []
    combos: Iterator[tuple[int, ...]] = itertools.combinations(range(n_splits), half)
    if max_combinations is not None:
        combos = itertools.islice(combos, max_combinations)
    everything = np.ones(n_splits, dtype=bool)
    for chosen in combos:
        train = np.zeros(n_splits, dtype=bool)
        train[list(chosen)] = True
        r_is = _split_sharpe(sums, squares, peak, offset, train, rows)
        r_oos = _split_sharpe(sums, squares, peak, offset, everything & ~train, rows)
        best = int(np.argmax(r_is))  # first of equal maxima
        omega = _average_ranks(r_oos)[best] / (n + 1)
        logits.append(math.log(omega / (1.0 - omega)))
        is_best.append(float(r_is[best]))
        oos_best.append(float(r_oos[best]))
    lam = np.asarray(logits)
    x = np.asarray(is_best)
    y = np.asarray(oos_best)
    slope = intercept = math.nan
    fit = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[fit], y[fit]
    if np.unique(xs).size >= 2:
        dx = xs - xs.mean()
        slope = float(np.dot(dx, ys - ys.mean()) / np.dot(dx, dx))
        intercept = float(ys.mean() - slope * xs.mean())
    return PBOResult(
        pbo=float(np.mean(lam <= 0.0)),
        logits=lam,
        is_best=x,
        oos_of_best=y,
        degradation_slope=slope,
        degradation_intercept=intercept,
        probability_of_loss=float(np.mean(y < 0.0)),
        n_splits=n_splits,
        n_trials=n,
        n_combinations=int(lam.size),
    )
