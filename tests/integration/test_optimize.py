"""``quantforge optimize``: Optuna studies stored in the results database, resumed, on real data."""

from __future__ import annotations

import math
import socket
import uuid
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.data.catalog import Catalog
from quantforge.executors import LocalExecutor
from quantforge.experiment.config import parse_experiment
from quantforge.experiment.optimize import (
    OptimizeSpec,
    open_storage,
    run_optimization,
    simulate_segment,
    study_trials,
)
from quantforge.experiment.tasks import bar_columns
from quantforge.store import ResultStore

MARCH_2024 = (1_709_251_200_000, 1_711_929_600_000)


@pytest.fixture(scope="module")
def march(shared_data: Path) -> pl.DataFrame:
    return (
        pl.read_parquet(shared_data / "BTCUSDT-15m.parquet")
        .filter(pl.col("open_time").is_between(MARCH_2024[0], MARCH_2024[1], closed="left"))
        .select("open_time", "open", "high", "low", "close", "volume")
        .with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    )


@pytest.fixture(scope="module")
def catalog(march: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("catalog")
    Catalog(root).write_bars(march, symbol="BTCUSDT", interval="15m")
    return str(root)


def _document(catalog: str | None = None) -> dict:
    data = {"symbols": ["BTCUSDT"], "interval": "15m", "start": "2024-03-01", "end": "2024-04-01"}
    if catalog is not None:
        data["catalog"] = catalog
    return {
        "name": "opt-test",
        "data": data,
        "strategy": {
            "name": "ma_cross",
            "params": {
                "fast": {"start": 5, "stop": 30, "step": 5},
                "slow": {"start": 40, "stop": 120, "step": 20},
                "stop_pct": {"start": 0.005, "stop": 0.03, "num": 6},
            },
        },
        "engine": {"fees": {"maker": 0.001, "taker": 0.001}},
        "ranking": {"metric": "sharpe"},
        "outputs": {"results_dir": "results", "plots_top_n": 0},
    }


@pytest.fixture
def config():
    return parse_experiment(_document())


def _open(url: str) -> ResultStore:
    return ResultStore.open(url)


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    with open_storage(url) as storage:
        return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_cli_optimize_resumes_and_extends(catalog: str, tmp_path: Path) -> None:
    document = _document(catalog)
    document["optimize"] = {
        "profile": "fast",
        "n_trials": 10,
        "seed": 3,
        "stages": [
            {"name": "ints", "select": "integers"},
            {"name": "floats", "select": "continuous", "trials": 4},
        ],
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(document))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["optimize", str(path), "--store", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "best parameters" in result.output
    assert "best sharpe" in result.output  # progress bar column
    names = ("opt-test:ma_cross:BTCUSDT:stage1-ints", "opt-test:ma_cross:BTCUSDT:stage2-floats")
    first = _trials(url, names[0])
    # 10 trials split over 2 stages: 5 for ints; floats asks for 4
    assert len(first) == 5
    assert len(_trials(url, names[1])) == 4
    # stage 2 started from stage 1's best integers
    with open_storage(url) as storage:
        best_ints = optuna.load_study(study_name=names[0], storage=storage).best_params
    for trial in _trials(url, names[1]):
        if trial.state == optuna.trial.TrialState.COMPLETE:
            params = trial.user_attrs["stats"]["params"]
            assert params["fast"] == best_ints["fast"]
            assert params["slow"] == best_ints["slow"]
            assert set(trial.params) == {"stop_pct"}
    # the results store still works next to Optuna's tables
    with ResultStore.open(url) as store:
        assert store.experiments().height == 0
    # and plain Optuna (its own schema check included) opens the study from the URL
    plain = optuna.load_study(study_name=names[0], storage=url)
    assert plain.best_params == best_ints
    # same command again: nothing left to do, no new trials
    result = runner.invoke(app, ["optimize", str(path), "--store", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert len(_trials(url, names[0])) == 5
    # a bigger budget continues the same study (earlier trials kept)
    result = runner.invoke(
        app, ["optimize", str(path), "--store", url, "--trials", "16"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    again = _trials(url, names[0])
    assert len(again) == 8
    assert [t.params for t in again[:5]] == [t.params for t in first]
    # the resumed sampler is reseeded: it does not replay the first random start-up trials
    assert [t.params for t in again[5:]] != [t.params for t in first[:3]]


def test_objective_values_match_direct_runs_and_fidelities(
    config, march: pl.DataFrame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    _open(url).close()
    spec = OptimizeSpec(sampler="random", n_trials=12, fidelities=(0.5, 1.0), pruner="none")
    result = run_optimization(config, spec, storage_url=url, bars=march)
    columns = bar_columns(march)
    bt = config.backtest("BTCUSDT")
    n = march.height
    trials = _trials(url, result.study_names[0])
    assert len(trials) == 12
    for trial in trials:
        if trial.state != optuna.trial.TrialState.COMPLETE:
            continue
        params = trial.user_attrs["stats"]["params"]
        full = simulate_segment("ma_cross", params, columns, bt, 0, n)
        half = simulate_segment("ma_cross", params, columns, bt, 0, round(n * 0.5))
        assert trial.value == full.metrics["sharpe"]
        assert trial.intermediate_values[0] == half.metrics["sharpe"]
    stats = study_trials(url, result.study_names)
    assert stats.n_trials == 12
    assert stats.periods_per_year == pytest.approx(35_040.0)
    per_bar = stats.sharpe / math.sqrt(35_040.0)
    assert stats.per_bar_variance == pytest.approx(np.var(per_bar, ddof=1))


def test_grid_sampler_is_exhaustive_and_finds_the_grid_best(
    config, march: pl.DataFrame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    _open(url).close()
    doc = _document()
    doc["strategy"]["params"] = {"fast": [5, 10, 20], "slow": [40, 80]}
    cfg = parse_experiment(doc)
    spec = OptimizeSpec(sampler="grid", n_trials=100, fidelities=(1.0,), pruner="none")
    result = run_optimization(cfg, spec, storage_url=url, bars=march)
    assert result.stages[0].n_complete == 6
    columns = bar_columns(march)
    bt = cfg.backtest("BTCUSDT")
    scores = {
        (f, s): simulate_segment(
            "ma_cross", {"fast": f, "slow": s}, columns, bt, 0, march.height
        ).metrics["sharpe"]
        for f in (5, 10, 20)
        for s in (40, 80)
    }
    best = max(scores, key=lambda k: scores[k])
    assert (result.best_params["fast"], result.best_params["slow"]) == best
    assert result.best_value == scores[best]


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_samplers_and_pruning(config, march: pl.DataFrame, tmp_path: Path, sampler: str) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _open(url).close()
    spec = OptimizeSpec(profile="fast", sampler=sampler, n_trials=12, seed=1)
    result = run_optimization(config, spec, storage_url=url, bars=march)
    stage = result.stages[0]
    assert stage.n_complete + stage.n_pruned + stage.n_failed == 12
    assert stage.n_complete >= 5
    assert stage.n_pruned >= 1  # the median pruner stops some trials at 33 % or 66 % of the data
    for trial in _trials(url, result.study_names[0]):
        if trial.state == optuna.trial.TrialState.PRUNED and trial.intermediate_values:
            assert "pruned_reason" in trial.user_attrs


def test_parallel_workers_share_one_study(config, march: pl.DataFrame, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    _open(url).close()
    spec = OptimizeSpec(sampler="random", n_trials=8, fidelities=(1.0,), seed=5)
    with LocalExecutor(workers=2) as pool:
        result = run_optimization(
            config, spec, storage_url=url, bars=march, executor=pool, workers=2
        )
    trials = _trials(url, result.study_names[0])
    assert len(trials) == 8
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials)
    # distinct batches use distinct seeds: not every trial is the same point
    assert len({tuple(sorted(t.params.items())) for t in trials}) > 1


def _postgres_url() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return None
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def test_study_in_postgres(config, march: pl.DataFrame) -> None:
    admin = _postgres_url()
    if admin is None:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (start one to run this test)")
    name = f"qf_opt_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as e:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 refused user postgres: {e.orig}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        with ResultStore.open(url, artifacts_dir="/tmp") as store:
            spec = OptimizeSpec(sampler="random", n_trials=5, fidelities=(1.0,))
            first = run_optimization(config, spec, storage_url=url, bars=march)
            more = spec.model_copy(update={"n_trials": 7})
            second = run_optimization(config, more, storage_url=url, bars=march)
            assert store.experiments().height == 0
        assert len(_trials(url, first.study_names[0])) == 7
        assert second.study_names == first.study_names
        check = sa.create_engine(url)
        tables = set(sa.inspect(check).get_table_names())
        check.dispose()
        assert {"experiments", "runs", "studies", "trials"} <= tables
    finally:
        with engine.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def test_ray_workers_share_one_study(config, march: pl.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'quantforge[ray]')")
    from quantforge.executors.ray import RayExecutor

    url = f"sqlite:///{tmp_path / 'ray.db'}"
    _open(url).close()
    spec = OptimizeSpec(sampler="random", n_trials=6, fidelities=(1.0,), seed=9)
    pool = RayExecutor(num_cpus=2, chunk_size=1, init_kwargs={"log_to_driver": False})
    try:
        result = run_optimization(
            config, spec, storage_url=url, bars=march, executor=pool, workers=2
        )
    finally:
        pool.close()
    trials = _trials(url, result.study_names[0])
    assert len(trials) == 6
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 1
