"""The experiment runner end to end on a real BTCUSDT 15m slice, into real stores.

Oracles: the store itself (summary.csv must list exactly its runs in its order), an independent
run of each strategy through `StrategyDefinition.run` on the catalog frame (the runner's shared
arrays must not change a single metric), the run keys (resume must compute exactly the missing
ones), and `rerun` (stored metrics reproduce bit for bit).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from quantforge.data.catalog import Catalog
from quantforge.executors import LocalExecutor, RayExecutor
from quantforge.experiment import outputs
from quantforge.experiment.config import ExperimentConfig, parse_experiment
from quantforge.experiment.keys import code_version, data_fingerprint
from quantforge.experiment.outputs import RunFileWriter
from quantforge.experiment.runner import (
    PROVENANCE,
    SweepProgress,
    load_bars,
    rerun,
    run_experiment,
)
from quantforge.experiment.tasks import BAR_COLUMNS
from quantforge.store import ResultStore
from quantforge.strategies.registry import get

START, END = "2024-03-01", "2024-04-15"


@pytest.fixture(scope="session")
def catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A catalog holding six weeks of real Binance BTCUSDT 15m bars."""
    root = tmp_path_factory.mktemp("catalog")
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").filter(
        pl.col("open_time").is_between(1_706_745_600_000, 1_714_521_600_000)  # Feb..Apr 2024
    )
    Catalog(root).write_bars(bars, symbol="BTCUSDT", interval="15m")
    return str(root)


def config(
    catalog: str,
    results: Path,
    *,
    fast: list[int] | None = None,
    symbols: tuple[str, ...] = ("BTCUSDT",),
    name: str = "runner-test",
    store: str | None = None,
    risk: dict[str, Any] | None = None,
) -> ExperimentConfig:
    document: dict[str, Any] = {
        "name": name,
        "data": {
            "catalog": catalog,
            "symbols": list(symbols),
            "interval": "15m",
            "start": START,
            "end": END,
        },
        "strategies": [
            {"name": "ma_cross", "params": {"fast": fast or [5, 10, 20], "slow": [30, 60]}},
            {"name": "regime_ma_cross", "params": {"fast": [10], "slow": [40, 80]}},
        ],
        "engine": {
            "cash": 10_000,
            "fees": {"maker": 0.001, "taker": 0.001},
            "slippage": {"model": "fixed_bps", "params": {"bps": 1.0}},
        },
        "ranking": {"metric": "pnl_to_max_drawdown", "direction": "max", "top_n": 3},
        "outputs": {"results_dir": str(results), "plots_top_n": 0},
        "executor": {"kind": "local", "workers": 2},
    }
    if store is not None:
        document["outputs"]["store"] = store
    if risk is not None:
        document["engine"]["risk"] = risk
    return parse_experiment(document)


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2) as ex:
        yield ex


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def run_files_match_store(
    store: ResultStore, experiment_id: int, out_dir: Path, scratch: Path
) -> bool:
    """Whether ``out_dir/runs`` holds one file per stored run, byte for byte what the store says,
    and nothing else.

    The reference files are written from `ResultStore.iter_runs` into ``scratch``.
    """
    with RunFileWriter(store, experiment_id, scratch, "") as reference:
        for run in store.iter_runs(experiment_id):
            reference.write(run)
    got = {p.name: p.read_bytes() for p in (out_dir / "runs").glob("run-*.json")}
    want = {p.name: p.read_bytes() for p in scratch.glob("run-*.json")}
    leftovers = [p.name for p in (out_dir / "runs").iterdir() if p.name not in got]
    return got == want and not leftovers  # no temporary file left behind either


def test_sweep_stores_every_combination_ranks_them_and_keeps_provenance(
    catalog: str, tmp_path: Path, executor: LocalExecutor
) -> None:
    cfg = config(catalog, tmp_path / "results")
    with ResultStore.open(cfg.store_url()) as store:
        seen: list[SweepProgress] = []
        outcome = run_experiment(cfg, store=store, executor=executor, progress=seen.append)
        assert (outcome.total, outcome.ok, outcome.errors, outcome.lost) == (8, 8, 0, 0)
        assert seen[-1].done == 8
        assert seen[-1].best_value is not None
        runs = store.runs(outcome.experiment_id, status="all")
        assert runs.height == 8
        assert sorted(runs["strategy"].to_list()) == ["ma_cross"] * 6 + ["regime_ma_cross"] * 2

        # summary.csv: exactly the store's runs, best first by the ranking metric
        summary = pl.read_csv(outcome.summary_csv)
        values = store.runs(outcome.experiment_id, order_by="pnl_to_max_drawdown")
        assert summary["id"].to_list() == values["id"].to_list()
        ranked = summary["pnl_to_max_drawdown"].drop_nulls().to_list()
        assert ranked == sorted(ranked, reverse=True)
        assert summary["rank"].to_list()[: len(ranked)] == list(range(1, len(ranked) + 1))
        assert best_is(summary, store.best(outcome.experiment_id).id)

        # provenance: data fingerprint, config, parameters, package version, git revision
        bars = load_bars(cfg)["BTCUSDT"]
        experiment = store.get_experiment(outcome.experiment_id)
        fingerprint = data_fingerprint(bars.select(BAR_COLUMNS), BAR_COLUMNS)
        assert experiment["data_fingerprint"] == fingerprint
        assert experiment["code_version"] == code_version()
        provenance = experiment["config"][PROVENANCE]
        assert provenance["data_fingerprints"] == {"BTCUSDT": fingerprint}
        assert provenance["package_version"] == code_version()
        assert "git_revision" in provenance
        assert experiment["config"]["strategies"][0]["name"] == "ma_cross"
        files = sorted((outcome.output_dir / "runs").glob("run-*.json"))
        assert len(files) == 8 == outcome.run_files
        body = json.loads(files[0].read_text())
        assert set(body["provenance"]) >= {
            "data_fingerprint",
            "package_version",
            "git_revision",
            "config",
        }
        assert body["params"]
        assert body["metrics"]
        assert {"turnover", "turnover_annual"} <= set(body["metrics"])
        # the files (written as runs were stored) say exactly what the store holds
        assert run_files_match_store(store, outcome.experiment_id, outcome.output_dir, tmp_path)

        # the runner's metrics equal an independent run of the strategy on the catalog frame
        backtest = cfg.backtest("BTCUSDT")
        for row in runs.iter_rows(named=True):
            params = json.loads(row["params"])
            direct = get(row["strategy"]).run(
                bars,
                params,
                cash=backtest.cash,
                fees=backtest.fees,
                slippage=backtest.slippage,
                sizing=backtest.sizing,
                instrument=backtest.instrument,
                same_bar_rule=backtest.same_bar_rule,
                symbol="BTCUSDT",
            )
            stored = store.get_run(row["id"]).metrics
            assert stored["turnover"] > 0.0 or stored["n_trades"] == 0
            assert all(_same(stored[k], float(v)) for k, v in direct.metrics.items()), row

        # the best runs carry trades/equity artifacts; rerun reproduces every metric exactly
        assert len(outcome.artifact_runs) == 3
        best = store.get_run(outcome.artifact_runs[0])
        assert set(best.artifacts) == {"trades", "equity"}
        assert store.load_artifact(best.id, "equity").height == bars.height
        for run_id in (outcome.artifact_runs[0], int(runs["id"][-1])):
            again = rerun(store, run_id)
            assert again.identical, again.differences
            assert again.recomputed == again.stored or all(
                _same(again.stored[k], v) for k, v in again.recomputed.items()
            )


def best_is(summary: pl.DataFrame, run_id: int) -> bool:
    return int(summary.filter(pl.col("rank") == 1)["id"][0]) == run_id


def test_resume_computes_only_what_is_missing(
    catalog: str, tmp_path: Path, executor: LocalExecutor
) -> None:
    results = tmp_path / "results"
    with ResultStore.open(config(catalog, results).store_url()) as store:
        first = run_experiment(config(catalog, results, fast=[5]), store=store, executor=executor)
        assert (first.total, first.ran, first.skipped) == (4, 4, 0)
        second = run_experiment(config(catalog, results), store=store, executor=executor)
        assert second.experiment_id == first.experiment_id
        assert second.resumed
        # the 2 regime runs and fast=5 ma_cross runs are stored; only fast=10/20 remain
        assert (second.total, second.skipped, second.ran, second.ok) == (8, 4, 4, 4)
        third = run_experiment(config(catalog, results), store=store, executor=executor)
        assert (third.skipped, third.ran) == (8, 0)
        assert store.runs(first.experiment_id, status="all").height == 8


def test_interrupted_sweep_keeps_finished_runs_and_resumes(
    catalog: str, tmp_path: Path, executor: LocalExecutor
) -> None:
    cfg = config(catalog, tmp_path / "results", fast=[5, 8, 10, 12, 15, 20])
    seen: list[int] = []

    def interrupt(p: SweepProgress) -> None:
        seen.append(p.done)
        if p.done >= 3:
            raise KeyboardInterrupt

    with ResultStore.open(cfg.store_url()) as store:
        with pytest.raises(KeyboardInterrupt):
            run_experiment(cfg, store=store, executor=executor, progress=interrupt)
        (experiment_id,) = store.experiments()["id"].to_list()
        kept = store.runs(experiment_id, status="all").height
        assert kept >= 3  # everything that had arrived before Ctrl-C was stored
        # and each stored run already has its file, finished (valid JSON)
        out_dir = tmp_path / "results" / cfg.name
        assert len(list((out_dir / "runs").glob("run-*.json"))) == kept
        assert run_files_match_store(store, experiment_id, out_dir, tmp_path / "before")
        with LocalExecutor(workers=2) as fresh:
            outcome = run_experiment(cfg, store=store, executor=fresh)
        assert outcome.skipped == kept
        assert outcome.ran == 14 - kept
        assert outcome.run_files == 14  # this call's runs, and the earlier call's again
        assert store.runs(experiment_id, status="all").height == 14
        assert outcome.output_dir == out_dir
        assert run_files_match_store(store, experiment_id, out_dir, tmp_path / "after")


def test_an_interrupt_after_the_last_result_still_finishes_every_run_file(
    catalog: str, tmp_path: Path, executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C in the final progress report, after every run was stored: the files written during
    # the sweep must be complete when run_experiment raises (they were once left in flight).
    # Slow file writes make files still in flight certain, not a matter of luck.
    write = outputs._write_bytes

    def slow_write(path: Path, data: bytes) -> None:
        time.sleep(0.05)
        write(path, data)

    monkeypatch.setattr(outputs, "_write_bytes", slow_write)
    cfg = config(catalog, tmp_path / "results", fast=[5, 8, 10, 12, 15, 20])

    def interrupt_at_the_end(p: SweepProgress) -> None:
        if p.done == p.total:
            raise KeyboardInterrupt

    with ResultStore.open(cfg.store_url()) as store:
        with pytest.raises(KeyboardInterrupt):
            run_experiment(cfg, store=store, executor=executor, progress=interrupt_at_the_end)
        out_dir = tmp_path / "results" / cfg.name
        assert len(list((out_dir / "runs").glob("run-*.json"))) == 14  # at once, not later
        (experiment_id,) = store.experiments()["id"].to_list()
        assert store.runs(experiment_id, status="all").height == 14
        assert run_files_match_store(store, experiment_id, out_dir, tmp_path / "reference")


def test_failing_combinations_are_recorded_and_the_sweep_goes_on(
    catalog: str, tmp_path: Path, executor: LocalExecutor
) -> None:
    cfg = config(catalog, tmp_path / "results", symbols=("BTCUSDT", "ETHUSDT"), fast=[5, 40])
    real = load_bars(config(catalog, tmp_path / "r"))["BTCUSDT"]
    broken = real.with_columns(  # one impossible price: the engine rejects these bars in the worker
        pl.when(pl.int_range(pl.len()) == 100).then(-1.0).otherwise(pl.col("low")).alias("low")
    )
    with ResultStore.open(cfg.store_url()) as store:
        outcome = run_experiment(
            cfg, store=store, executor=executor, bars={"BTCUSDT": real, "ETHUSDT": broken}
        )
        runs = store.runs(outcome.experiment_id, status="all")
        # fast=40 with slow=30 breaks ma_cross's own rule (slow > fast): rejected in the parent
        rejected = runs.filter((pl.col("symbol") == "BTCUSDT") & (pl.col("status") == "error"))
        assert rejected.height == 1
        assert "slow (30) must be > fast (40)" in rejected["error"][0]
        eth = runs.filter(pl.col("symbol") == "ETHUSDT")
        assert eth.height == 6
        assert set(eth["status"]) == {"error"}
        assert all("non-positive price" in e or "must be > fast" in e for e in eth["error"])
        assert any("Traceback" in e for e in eth["error"])  # raised inside a worker
        ok = runs.filter(pl.col("status") == "ok")
        assert ok.height == 5
        assert set(ok["symbol"]) == {"BTCUSDT"}
        assert outcome.errors == 7
        assert outcome.ok == 5
        summary = pl.read_csv(outcome.summary_csv)
        assert summary.height == 12
        assert summary.filter(pl.col("status") == "error")["rank"].null_count() == 7


def test_ray_executor_gives_the_same_results(catalog: str, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    cfg = config(catalog, tmp_path / "results", fast=[5, 10])
    local_cfg = config(catalog, tmp_path / "local", fast=[5, 10])
    with RayExecutor(num_cpus=2) as ray_ex, ResultStore.open(cfg.store_url()) as store:
        outcome = run_experiment(cfg, store=store, executor=ray_ex)
        assert (outcome.ok, outcome.errors, outcome.lost) == (6, 0, 0)
        ray_runs = store.runs(outcome.experiment_id).sort("run_key")
    with LocalExecutor(workers=2) as ex, ResultStore.open(local_cfg.store_url()) as store:
        local = run_experiment(local_cfg, store=store, executor=ex)
        local_runs = store.runs(local.experiment_id).sort("run_key")
    assert ray_runs["run_key"].to_list() == local_runs["run_key"].to_list()
    for column in ("total_return", "sharpe", "n_trades", "pnl_to_max_drawdown"):
        assert ray_runs[column].to_list() == local_runs[column].to_list()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin_url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {str(e.orig).splitlines()[0]}")
    name = f"qf_runner_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_postgresql_store(
    catalog: str, tmp_path: Path, executor: LocalExecutor, postgres_url: str
) -> None:
    cfg = config(catalog, tmp_path / "results", fast=[5, 10], store=postgres_url)
    with ResultStore.open(postgres_url, artifacts_dir=tmp_path / "artifacts") as store:
        outcome = run_experiment(cfg, store=store, executor=executor)
        assert (outcome.total, outcome.ok) == (6, 6)
        again = run_experiment(cfg, store=store, executor=executor)
        assert (again.skipped, again.ran) == (6, 0)
        best = store.get_run(outcome.artifact_runs[0])
        assert set(best.artifacts) == {"trades", "equity"}
        assert rerun(store, best.id).identical


def test_engine_risk_exits_add_to_the_strategies_own(
    catalog: str, tmp_path: Path, executor: LocalExecutor
) -> None:
    # engine.risk.timeout_bars joins ma_cross's percent stop and regime_ma_cross's ATR stop
    # (it used to be dropped silently on the fast path): no trade is held past 4 bars
    cfg = config(catalog, tmp_path / "timeout", risk={"timeout_bars": 4})
    with ResultStore.open(cfg.store_url()) as store:
        outcome = run_experiment(cfg, store=store, executor=executor)
        runs = store.runs(outcome.experiment_id, status="all")
        longest = [store.get_run(int(i)).metrics["longest_holding_bars"] for i in runs["id"]]
    assert outcome.ok == 8, runs["error"].to_list()
    assert runs["n_trades"].min() > 0
    assert max(longest) <= 4

    # a stop in engine.risk next to the strategies' own: each combination fails, saying why
    cfg = config(catalog, tmp_path / "stop", risk={"stop_loss": 0.02})
    with ResultStore.open(cfg.store_url()) as store:
        outcome = run_experiment(cfg, store=store, executor=executor)
        runs = store.runs(outcome.experiment_id, status="all")
    assert outcome.ok == 0
    assert outcome.errors == 8
    assert all("set a stop exit" in e for e in runs["error"])
