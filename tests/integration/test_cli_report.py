"""`quantforge report` end to end on a real temporary store (Typer's CliRunner)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.report.report_data import build_store
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.cli.report import parse_target
from quantforge.errors import ConfigError, NotFoundError


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-report")
    store, _, _ = build_store(root)
    store.close()
    return f"sqlite:///{root / 'results.db'}"


def test_parse_target() -> None:
    assert parse_target("3") == (None, 3)
    assert parse_target("exp:3") == ("experiment", 3)
    assert parse_target("run:12") == ("run", 12)
    assert parse_target("R12") == ("run", 12)
    with pytest.raises(ConfigError, match="run:12"):
        parse_target("twelve")


def test_report_experiment(store_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "1", "--store", store_url, "--out", str(tmp_path), "--top", "3"]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "experiment-1"
    assert "top 3 of 18 runs by Sharpe" in result.output
    assert f"wrote {folder / 'sweep.html'}" in result.output.replace("\n", "")
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert len(pngs) == 6  # equity + drawdown for each of the top 3
    assert (folder / "compare.html").is_file()
    best = next(folder.glob("run-*.html"))
    assert "chart-price" in best.read_text("utf-8")  # bars read from the experiment's catalog


def test_report_run_with_comparison(store_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["report", "run:2", "--store", store_url, "--out", str(tmp_path), "--compare", "run:11"],
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "run-2"
    assert (folder / "tearsheet.html").is_file()
    assert (folder / "compare-2-vs-11.html").is_file()
    assert {p.name for p in folder.glob("*.png")} == {"run-2_equity.png", "run-2_drawdown.png"}
    assert "Total return" in result.output


def test_unknown_ids_are_clear_errors(store_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    for target, message in (("999", "no run with id 999"), ("exp:42", "no experiment with id 42")):
        result = runner.invoke(
            app, ["report", target, "--store", store_url, "--out", str(tmp_path)]
        )
        assert isinstance(result.exception, NotFoundError)
        assert message in str(result.exception)
    result = runner.invoke(
        app, ["report", "run:1", "--store", store_url, "--out", str(tmp_path), "--compare", "77"]
    )
    assert isinstance(result.exception, NotFoundError)
    assert "--compare" in str(result.exception)
    assert not list(tmp_path.iterdir())  # nothing written for a bad request


def test_main_prints_message_and_exits_1(store_url: str, tmp_path: Path) -> None:
    code = "import sys; from quantforge.cli import main; sys.argv[0] = 'quantforge'; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "report", "run:555", "--store", store_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "no run with id 555" in proc.stderr


def test_heatmap_pair_option(store_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["report", "exp:1", "--store", store_url, "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--heatmap", "slow:fast", "--aggregate", "median"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "experiment-1" / "sweep.html").read_text("utf-8")
    # in the figure's JSON (plotly encodes it with orjson when installed: non-ASCII left as is)
    assert "Sharpe: fast × slow (every run)" in page
    bad = runner.invoke(app, [*args, "--heatmap", "fast:nope"])
    assert isinstance(bad.exception, ConfigError)
    assert "'nope' is not a parameter" in str(bad.exception)
    worse = runner.invoke(app, [*args, "--aggregate", "mode"])
    assert isinstance(worse.exception, ConfigError)


def test_fix_values_are_json_or_text() -> None:
    from quantforge.cli.report import _fixed, _pair

    assert _fixed("atr=14") == ("atr", 14)
    assert _fixed("ratio=0.5") == ("ratio", 0.5)
    assert _fixed("mode=fast") == ("mode", "fast")
    assert _pair("fast:slow") == ("fast", "slow")
    with pytest.raises(ConfigError):
        _fixed("atr")
    with pytest.raises(ConfigError):
        _pair("fast")
