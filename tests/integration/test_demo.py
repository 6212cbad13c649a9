"""``quantforge demo``: real data imported from the shared folder, or labelled synthetic bars.

Both tests use ``--days 14`` (the first two weeks of the demo year) to stay quick; the full-year
demo is the slow-marked test at the end.
"""

from __future__ import annotations

import socket
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.data.catalog import Catalog
from quantforge.store import ResultStore


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo(tmp_path: Path, env: dict[str, str], *extra: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--catalog",
            str(tmp_path / "catalog"),
            "--results",
            str(tmp_path / "results"),
            "--workers",
            "2",
            *extra,
        ],
        env={"COLUMNS": "200", **env},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_demo_imports_the_real_data_and_runs_the_grid(shared_data: Path, tmp_path: Path) -> None:
    env = {"QUANTFORGE_SHARED_DATA": str(shared_data)}
    out = demo(tmp_path, env, "--days", "14")
    assert "REAL DATA" in out
    assert "SYNTHETIC" not in out
    assert "imported into" in out
    bars = Catalog(tmp_path / "catalog").read_bars("BTCUSDT", "15m")
    assert bars.height == 14 * 96
    source = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").filter(
        pl.col("open_time").is_between(1_704_067_200_000, 1_704_067_200_000 + 14 * 86_400_000 - 1)
    )
    assert bars["close"].to_list() == source["close"].to_list()  # imported as is

    with ResultStore.open(f"sqlite:///{tmp_path / 'results' / 'results.db'}") as store:
        experiments = store.experiments()
        assert experiments["name"].to_list() == ["naive-vs-regime-btc-15m-first-14d"]
        runs = store.runs(int(experiments["id"][0]), status="all")
    assert runs.height == 128
    assert set(runs["status"]) == {"ok"}
    assert runs["strategy"].value_counts().sort("strategy")["count"].to_list() == [64, 64]
    folder = tmp_path / "results" / "naive-vs-regime-btc-15m-first-14d"
    assert (folder / "summary.csv").is_file()
    assert len(list((folder / "runs").glob("run-*.json"))) == 128
    files = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert not [p for p in files if "SYNTHETIC" in str(p)]

    again = demo(tmp_path, env, "--days", "14")  # second time: from the catalog, all stored
    assert "from the catalog" in again
    assert "128 already stored, ran 0" in again


def test_demo_without_data_runs_on_labelled_synthetic_bars(tmp_path: Path) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    env = {
        "QUANTFORGE_SHARED_DATA": str(empty),
        # Binance is tried on a real socket that refuses the connection
        "QUANTFORGE_BINANCE_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    out = demo(tmp_path, env, "--days", "14")
    assert "NO MARKET DATA AVAILABLE OFFLINE" in out
    assert "Binance not reachable" in out
    assert "REAL DATA" not in out
    with ResultStore.open(
        f"sqlite:///{tmp_path / 'results' / 'SYNTHETIC' / 'results.db'}"
    ) as store:
        names = store.experiments()["name"].to_list()
    assert names == ["naive-vs-regime-btc-15m-first-14d-SYNTHETIC"]
    files = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    outputs = [p for p in files if p.suffix in (".csv", ".json", ".png")]
    assert outputs
    assert all(p.name.startswith("SYNTHETIC-") for p in outputs), outputs
    assert all("SYNTHETIC" in str(p.relative_to(tmp_path)) for p in files)
    assert not (tmp_path / "catalog").exists() or not Catalog(tmp_path / "catalog").datasets()


@pytest.mark.slow
def test_full_year_demo(shared_data: Path, tmp_path: Path) -> None:
    out = demo(tmp_path, {"QUANTFORGE_SHARED_DATA": str(shared_data)})
    assert "REAL DATA" in out
    assert "ran 128 (128 ok, 0 errors, 0 lost)" in out
