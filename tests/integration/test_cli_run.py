"""``quantforge run``, ``rerun`` and ``results ...`` through the real command (Typer CliRunner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.cli.run import best_run_tearsheet
from quantforge.data.catalog import Catalog
from quantforge.store import ResultStore


@pytest.fixture(scope="module")
def catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("catalog")
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").filter(
        pl.col("open_time").is_between(1_709_251_200_000, 1_712_000_000_000)  # March 2024
    )
    Catalog(root).write_bars(bars, symbol="BTCUSDT", interval="15m")
    return str(root)


@pytest.fixture
def experiment_file(tmp_path: Path, catalog: str) -> Path:
    document = {
        "name": "cli-test",
        "data": {
            "catalog": catalog,
            "symbols": ["BTCUSDT"],
            "interval": "15m",
            "start": "2024-03-01",
            "end": "2024-04-01",
        },
        "strategies": [
            {"name": "ma_cross", "params": {"fast": [5, 10, 20], "slow": [40, 80]}},
            {"name": "regime_ma_cross", "params": {"fast": [10], "slow": [40, 80]}},
        ],
        "engine": {"fees": {"maker": 0.001, "taker": 0.001}},
        "ranking": {"metric": "sharpe", "top_n": 3},
        "outputs": {"results_dir": "results", "plots_top_n": 0},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_run_results_and_rerun(experiment_file: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    code, out = invoke("run", str(experiment_file), "--store", store, "--workers", "2")
    assert code == 0, out
    assert "top 3 of cli-test by sharpe" in out
    assert "ran 8 (8 ok, 0 errors, 0 lost)" in out
    summary = tmp_path / "results" / "cli-test" / "summary.csv"
    assert summary.is_file()

    with ResultStore.open(store) as db:
        (experiment_id,) = db.experiments()["id"].to_list()
        ranked = db.runs(experiment_id, order_by="sharpe")
    best_id = int(ranked["id"][0])
    assert pl.read_csv(summary)["id"].to_list() == ranked["id"].to_list()
    # the best run's console tear sheet follows the top-N table: title with its dates, metrics
    sheet = out[out.index(f"run {best_id}: ") :]
    assert "2024-03-01 00:00 →" in sheet
    for label in ("Total return", "Sharpe", "Max drawdown", "Trades", "Final equity"):
        assert label in sheet, label

    # a run outside the top N keeps no equity artifact: its tear sheet is the metrics table
    with ResultStore.open(store) as db:
        worst_id = int(ranked["id"][-1])
        assert "equity" not in db.get_run(worst_id).artifacts
        console = Console(width=120, record=True)
        console.print(best_run_tearsheet(db, worst_id))
        text = console.export_text()
        assert f"run {worst_id}: " in text
        assert "Total return" in text

    code, out = invoke("results", "list", "--store", store)
    assert code == 0, out
    assert "cli-test" in out
    code, out = invoke("results", "list", "-e", str(experiment_id), "--store", store)
    assert code == 0, out
    assert out.count("ma_cross") >= 6

    code, out = invoke("results", "show", str(best_id), "--json", "--store", store)
    assert code == 0, out
    shown = json.loads(out)
    assert shown["run_id"] == best_id
    assert shown["metrics"]["sharpe"] == pytest.approx(float(ranked["sharpe"][0]), abs=0)
    assert len(shown["data_fingerprint"]) == 32
    assert shown["package_version"]
    assert set(shown["artifacts"]) == {"trades", "equity"}

    code, out = invoke("results", "best", str(experiment_id), "--top", "2", "--store", store)
    assert code == 0, out
    assert "best 2 of experiment" in out

    target = tmp_path / "out.parquet"
    code, out = invoke(
        "results", "export", str(experiment_id), "--format", "parquet", "--out", str(target),
        "--store", store,
    )  # fmt: skip
    assert code == 0, out
    assert pl.read_parquet(target)["id"].to_list() == ranked["id"].to_list()

    code, out = invoke("rerun", str(best_id), "--store", store)
    assert code == 0, out
    assert "identical" in out
    assert "≠" not in out

    code, out = invoke("run", str(experiment_file), "--store", store, "--workers", "2")
    assert code == 0, out
    assert "8 already stored, ran 0" in out


def test_errors_become_messages_and_exit_codes(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {symbols: [BTCUSDT], interval: 15m, start: 2024-01-01}\n")
    result = CliRunner().invoke(app, ["run", str(bad), "--store", store])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "missing key 'end'" in str(result.exception)
    result = CliRunner().invoke(app, ["results", "show", "999", "--store", store])
    assert "no run with id 999" in str(result.exception)


def test_an_unwritable_results_folder_is_a_message_not_a_traceback(
    experiment_file: Path, tmp_path: Path
) -> None:
    # results_dir below a regular file: creating it fails with NotADirectoryError (an OSError),
    # whoever runs the test (root ignores permission bits, not this)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    document = yaml.safe_load(experiment_file.read_text())
    document["outputs"]["results_dir"] = str(blocker / "results")
    bad = tmp_path / "bad-results.yaml"
    bad.write_text(yaml.safe_dump(document))
    store = f"sqlite:///{tmp_path / 'store.db'}"
    done = subprocess.run(
        [sys.executable, "-c", "from quantforge.cli import main; main()", "run", str(bad),
         "--store", store, "--workers", "1"],
        capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: Not a directory" in done.stderr
    assert str(blocker) in done.stderr
