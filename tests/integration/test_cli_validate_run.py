"""``quantforge validate`` on real BTCUSDT 15m, and the overfitting statistics on strategies
without an edge (random entries) against one with an edge (look-ahead entries)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.data.catalog import Catalog
from quantforge.engine.metrics import periods_per_year
from quantforge.experiment.config import parse_experiment
from quantforge.experiment.overfitting import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
)
from quantforge.store import ResultStore

MARCH_2024 = (1_709_251_200_000, 1_711_929_600_000)
YEAR_2024 = (1_704_067_200_000, 1_735_689_600_000)


def _bars(shared_data: Path, span: tuple[int, int]) -> pl.DataFrame:
    return (
        pl.read_parquet(shared_data / "BTCUSDT-15m.parquet")
        .filter(pl.col("open_time").is_between(span[0], span[1], closed="left"))
        .select("open_time", "open", "high", "low", "close", "volume")
        .with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    )


@pytest.fixture(scope="module")
def catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("catalog")
    Catalog(root).write_bars(_bars(shared_data, MARCH_2024), symbol="BTCUSDT", interval="15m")
    return str(root)


def _document(catalog: str, results: Path) -> dict:
    return {
        "name": "validate-test",
        "data": {
            "catalog": catalog,
            "symbols": ["BTCUSDT"],
            "interval": "15m",
            "start": "2024-03-01",
            "end": "2024-04-01",
        },
        "strategy": {"name": "ma_cross", "params": {"fast": [5, 10, 20], "slow": [40, 80]}},
        "engine": {"fees": {"maker": 0.001, "taker": 0.001}},
        "ranking": {"metric": "sharpe"},
        "outputs": {"results_dir": str(results), "plots_top_n": 0},
        "optimize": {"profile": "fast", "n_trials": 8, "fidelities": [1.0], "seed": 2},
        "walk_forward": {
            "unit": "days",
            "in_sample": 10,
            "out_of_sample": 5,
            "min_trades": 3,
            "warmup_bars": 100,
        },
        "validation": {"pbo_splits": 6, "monte_carlo_samples": 300},
    }


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_cli_validate_grid_source_reads_trials_from_the_store(catalog: str, tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(_document(catalog, tmp_path / "results")))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    # one file for all three commands: `run` ignores the optimize/walk_forward/validation sections
    code, out = _invoke("run", str(path), "--store", url, "-w", "1")
    assert code == 0, out
    code, out = _invoke("validate", str(path), "--store", url, "--source", "grid")
    assert code == 0, out
    assert "deflated Sharpe ratio" in out
    page = tmp_path / "results" / "validate-test" / "validation-ma_cross-BTCUSDT.html"
    summary = json.loads(page.with_suffix(".json").read_text())
    assert summary["n_trials"] == 6  # the 6 stored grid runs
    assert "trials from the store: 6 runs of validate-test" in summary["notes"]
    with ResultStore.open(url) as store:
        (experiment_id,) = store.experiments()["id"].to_list()
        best = store.best(experiment_id, metric="sharpe")
    assert summary["optimised"]["params"]["fast"] == best.params["fast"]
    assert summary["optimised"]["params"]["slow"] == best.params["slow"]
    assert summary["optimised"]["metrics"]["sharpe"] == pytest.approx(best.metrics["sharpe"])
    assert 0.0 <= summary["dsr"] <= summary["psr"] <= 1.0
    assert summary["pbo_candidates"] == 6
    wf = summary["walk_forward"]
    assert wf["windows"] == 4  # 31 days: 10 in sample, then 4 x 5 out of sample
    text = page.read_text()
    for heading in ("Validation", "walk-forward OOS", "Overfitting statistics", "Monte Carlo"):
        assert heading in text
    assert "Plotly.newPlot" in text  # charts drawn by the inlined plotly.js


def test_cli_validate_optuna_source(catalog: str, tmp_path: Path) -> None:
    document = _document(catalog, tmp_path / "results")
    document["walk_forward"]["optimizer"] = "optuna"
    document["walk_forward"]["n_trials"] = 4
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(document))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code, out = _invoke("optimize", str(path), "--store", url)
    assert code == 0, out
    code, out = _invoke("validate", str(path), "--store", url, "-o", str(tmp_path / "v.html"))
    assert code == 0, out
    summary = json.loads((tmp_path / "v.json").read_text())
    assert summary["n_trials"] == 8  # the study `optimize` ran (resumed, nothing added)
    assert summary["walk_forward"]["windows"] == 4
    assert summary["monte_carlo"]["bootstrap"]["n_samples"] == 300


def _random_entry_returns(
    bars: pl.DataFrame, seed: int, n_strategies: int, hold: int, edge: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    config = parse_experiment(
        {
            "name": "random",
            "data": {
                "symbols": ["BTCUSDT"],
                "interval": "15m",
                "start": "2024-01-01",
                "end": "2025-01-01",
            },
            "strategy": {"name": "ma_cross"},
            "engine": {"fees": {"maker": 0.001, "taker": 0.001}},
        }
    )
    backtest = config.backtest("BTCUSDT")
    gen = np.random.default_rng(seed)
    n = bars.height
    close = bars["close"].to_numpy()
    columns, sharpes = [], []
    for k in range(n_strategies):
        entries = gen.random(n) < 0.01
        if edge and k == 0:
            # look-ahead: enter only before a rise over the holding period (a real "edge")
            future = np.roll(close, -(hold + 1)) / np.roll(close, -1) - 1.0
            future[-(hold + 1) :] = 0.0
            entries = entries & (future > 0.0)
        exits = np.roll(entries, hold)
        exits[:hold] = False
        result = backtest.run_signals(bars, entries, exits)
        equity = np.concatenate([[backtest.cash], result.equity["equity"].to_numpy()])
        columns.append(np.diff(equity) / equity[:-1])
        sharpes.append(result.metrics["sharpe"])
    return np.column_stack(columns), np.asarray(sharpes)


def _dsr_of_best(matrix: np.ndarray, sharpes: np.ndarray) -> tuple[float, float]:
    ppy = periods_per_year(900_000, "crypto")
    best = int(np.argmax(sharpes))
    s = sharpe_stats(matrix[:, best])
    d = deflated_sharpe_ratio(
        s.sharpe,
        s.n_obs,
        n_trials=sharpes.size,
        trials_sharpe_variance=float(np.var(sharpes / math.sqrt(ppy), ddof=1)),
        skew=s.skew,
        kurtosis=s.kurtosis,
    )
    return d.dsr, d.psr


def test_random_entries_get_low_dsr_and_high_pbo(shared_data: Path) -> None:
    # 8 independent searches, each over 40 random-entry strategies (1 % entry chance per bar,
    # 8-hour holds) on BTCUSDT 15m, 2024: the best of each looks good undeflated (PSR) but not
    # after deflation, and picking it is a coin flip out of sample (PBO near 1/2).
    bars = _bars(shared_data, YEAR_2024)
    pbos, dsrs, psrs = [], [], []
    for seed in range(8):
        matrix, sharpes = _random_entry_returns(bars, 100 + seed, 40, hold=32)
        pbos.append(probability_of_backtest_overfitting(matrix, 10).pbo)
        dsr, psr = _dsr_of_best(matrix, sharpes)
        dsrs.append(dsr)
        psrs.append(psr)
    assert max(dsrs) < 0.5
    assert float(np.mean(dsrs)) < 0.25
    assert float(np.mean(psrs)) > float(np.mean(dsrs)) + 0.4  # deflation is what catches it
    assert 0.35 <= float(np.mean(pbos)) <= 0.65

    # control: the same search with one look-ahead strategy among them is not "overfit"
    matrix, sharpes = _random_entry_returns(bars, 100, 40, hold=32, edge=True)
    assert int(np.argmax(sharpes)) == 0
    assert probability_of_backtest_overfitting(matrix, 10).pbo < 0.05
    assert _dsr_of_best(matrix, sharpes)[0] > 0.99
