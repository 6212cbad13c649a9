"""Monte Carlo of trade sequences: drawdown oracle, shuffle invariants, bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from quantforge.errors import ConfigError
from quantforge.experiment.montecarlo import equity_paths_stats, monte_carlo_trades


def _reference(r: list[float]) -> tuple[float, float]:
    equity, peak, worst = 1.0, 1.0, 0.0
    for x in r:
        equity *= 1 + x
        peak = max(peak, equity)
        worst = max(worst, 1 - equity / peak)
    return equity - 1, worst


def test_equity_stats_against_loop(rng: np.random.Generator) -> None:
    r = rng.normal(0.001, 0.02, size=(50, 30))
    total, dd = equity_paths_stats(r)
    for i in range(50):
        t, d = _reference(r[i].tolist())
        assert total[i] == pytest.approx(t, rel=1e-12)
        assert dd[i] == pytest.approx(d, rel=1e-12, abs=1e-15)
    # first trade a loss: the start counts as the peak
    assert equity_paths_stats(np.array([-0.1, 0.05]))[1][0] == pytest.approx(0.1)


def test_shuffle_keeps_return_varies_drawdown(rng: np.random.Generator) -> None:
    r = np.concatenate([np.full(10, 0.02), np.full(10, -0.02)])
    mc = monte_carlo_trades(r, method="shuffle", n_samples=500, seed=1)
    np.testing.assert_allclose(mc.total_return, mc.observed_return, rtol=1e-12)
    assert mc.max_drawdown.min() < mc.observed_max_drawdown  # the sorted order is near-worst
    assert mc.max_drawdown.max() <= 1 - 0.98**10 + 1e-12  # never worse than all losses in a row
    assert mc.drawdown_interval.low <= mc.drawdown_interval.median <= mc.drawdown_interval.high


def test_bootstrap_interval_covers_mean_and_is_reproducible() -> None:
    gen = np.random.default_rng(3)
    r = gen.normal(0.002, 0.01, size=200)
    a = monte_carlo_trades(r, method="bootstrap", n_samples=3000, seed=5, batch=700)
    b = monte_carlo_trades(r, method="bootstrap", n_samples=3000, seed=5, batch=700)
    np.testing.assert_array_equal(a.total_return, b.total_return)
    lo, hi = a.return_interval.low, a.return_interval.high
    assert lo < a.observed_return < hi
    # analytic check of the log-return spread: sd of sum of 200 resampled log returns
    sd = np.log1p(r).std() * np.sqrt(200)
    width = np.log1p(hi) - np.log1p(lo)
    assert width == pytest.approx(2 * 1.96 * sd, rel=0.1)
    assert 0.0 <= a.probability_of_loss <= 1.0


def test_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="no trades"):
        monte_carlo_trades(np.array([]))
    with pytest.raises(ConfigError, match="> -1"):
        monte_carlo_trades(np.array([0.1, -1.0]))
    with pytest.raises(ConfigError, match="method"):
        monte_carlo_trades(np.array([0.1]), method="jackknife")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="confidence"):
        monte_carlo_trades(np.array([0.1]), confidence=1.0)
