"""run_validation (grid source) against direct computations; the HTML section renders it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from quantforge.cli.demo import synthetic_bars
from quantforge.engine.metrics import periods_per_year
from quantforge.experiment.config import parse_experiment
from quantforge.experiment.optimize import simulate_segment
from quantforge.experiment.overfitting import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
)
from quantforge.experiment.tasks import bar_columns
from quantforge.experiment.validation import ValidationSpec, run_validation
from quantforge.report.validation import validation_section, write_validation_html


def test_grid_validation_matches_direct_computation(tmp_path: Path) -> None:
    bars = synthetic_bars(
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 3, 1, tzinfo=dt.UTC), "1h"
    )
    config = parse_experiment(
        {
            "name": "v",
            "data": {
                "symbols": ["BTCUSDT"],
                "interval": "1h",
                "start": "2024-01-01",
                "end": "2024-03-01",
            },
            "strategy": {"name": "ma_cross", "params": {"fast": [5, 10, 20], "slow": [30, 60]}},
            "ranking": {"metric": "sharpe"},
        }
    )
    spec = ValidationSpec(source="grid", pbo_splits=4, monte_carlo_samples=200)
    report = run_validation(
        config, bars=bars, storage_url=f"sqlite:///{tmp_path / 'x.db'}", spec=spec
    )
    columns = bar_columns(bars)
    bt = config.backtest("BTCUSDT")
    n = bars.height
    grid = [(f, s) for f in (5, 10, 20) for s in (30, 60)]
    runs = {
        g: simulate_segment("ma_cross", {"fast": g[0], "slow": g[1]}, columns, bt, 0, n)
        for g in grid
    }
    sharpes = np.array([runs[g].metrics["sharpe"] for g in grid], dtype=float)
    best = grid[int(np.argmax(sharpes))]
    assert (report.optimised.params["fast"], report.optimised.params["slow"]) == best
    assert report.n_trials == 6
    # DSR: the best run's per-bar returns, 6 trials, variance of their per-bar Sharpe ratios
    equity = np.concatenate([[bt.cash], runs[best].equity])
    s = sharpe_stats(np.diff(equity) / equity[:-1])
    ppy = periods_per_year(3_600_000, "crypto")
    expected = deflated_sharpe_ratio(
        s.sharpe,
        s.n_obs,
        n_trials=6,
        trials_sharpe_variance=float(np.var(sharpes / math.sqrt(ppy), ddof=1)),
        skew=s.skew,
        kurtosis=s.kurtosis,
    )
    assert report.dsr.dsr == pytest.approx(expected.dsr, rel=1e-12)
    # PBO: CSCV over the 6 candidates' per-bar returns
    matrix = np.column_stack(
        [
            np.diff(np.concatenate([[bt.cash], runs[g].equity]))
            / np.concatenate([[bt.cash], runs[g].equity])[:-1]
            for g in grid
        ]
    )
    assert report.pbo is not None
    assert report.pbo.pbo == probability_of_backtest_overfitting(matrix, 4).pbo
    assert report.data_years == pytest.approx(n / ppy)
    assert report.bootstrap is not None
    assert report.bootstrap.n_trades == runs[best].n_trades
    assert report.walk_forward is None
    section = validation_section(report)
    assert "walk-forward OOS" not in section
    assert "deflated Sharpe ratio (DSR)" in section
    page = write_validation_html(report, tmp_path / "v.html")
    assert page.read_text().startswith("<!DOCTYPE html>") or "<html" in page.read_text()[:200]
    summary = report.summary()
    assert summary["n_trials"] == 6
    assert summary["walk_forward"] is None
