"""`quantforge strategies list|show` through CliRunner (and the real entry point for errors)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.strategies import registry


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_list_shows_every_strategy() -> None:
    result = run("strategies", "list")
    assert result.exit_code == 0, result.output
    for name in registry.names():
        assert name in result.output
    assert "signals, events" in result.output
    rows = json.loads(run("strategies", "list", "--json").output)
    assert [r["name"] for r in rows] == registry.names()
    assert rows[0]["paths"] == ["signals", "events"]


def test_show_prints_params_defaults_ranges_and_rules() -> None:
    result = run("strategies", "show", "ma_cross")
    assert result.exit_code == 0, result.output
    out = result.output
    for needle in ("fast", "slow", "ma_type", "stop_pct", "int >= 1", "one of sma, ema",
                   "float > 0 and <= 0.5", "slow must be > fast", "crosses above"):  # fmt: skip
        assert needle in out, needle
    data = json.loads(run("strategies", "show", "regime_ma_cross", "--json").output)
    params = {p["name"]: p for p in data["params"]}
    assert params["atr_stop"]["default"] == 2.5
    assert params["trend_period"]["default"] == 200
    assert params["rsi_max"]["allowed"] == "float >= 0 and <= 100"
    assert "2.5" in data["rules"]
    assert data["paths"] == ["signals", "events"]


def test_unknown_strategy_exits_non_zero_with_a_suggestion() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from quantforge.cli import main; main()", "strategies", "show",
         "ema_rsi"],
        capture_output=True, text=True, check=False, env={"COLUMNS": "200", "NO_COLOR": "1",
                                                          "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "unknown strategy 'ema_rsi'" in proc.stderr
    assert "did you mean 'ema_rsi_atr'" in proc.stderr
