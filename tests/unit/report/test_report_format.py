"""Console tear sheet: number formatting and the Rich tables (rendered to text)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from rich.console import Console
from tests.unit.report.report_data import ma_cross, synthetic_bars

from quantforge.errors import ConfigError
from quantforge.report.data import run_view_from_result
from quantforge.report.tearsheet import format_metric, metrics_table, tearsheet, top_runs_table


def _text(renderable: object) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("total_return", 0.1234, "12.34 %"),
        ("max_drawdown", 0.5, "50.00 %"),
        ("sharpe", 1.23456, "1.23"),
        ("sharpe", math.inf, "∞"),
        ("profit_factor", -math.inf, "-∞"),
        ("sortino", math.nan, "—"),
        ("calmar", None, "—"),
        ("n_trades", 12.0, "12"),
        ("n_bars", 123456, "123,456"),
        ("max_drawdown_duration_days", 3.5, "3 d 12 h"),
        ("max_drawdown_duration_days", 0.25, "6.0 h"),
        ("max_drawdown_duration_days", 40.0, "40 d"),
        ("avg_holding_bars", 28.0, "28 bars"),
        ("avg_holding_bars", 2.5, "2.5 bars"),
        ("final_equity", 12345.678, "12,345.68"),
        ("turnover_annual", 152.346, "152.35"),
        ("some_new_metric", 0.000123456, "0.0001235"),
    ],
)
def test_format_metric(name: str, value: float | None, expected: str) -> None:
    assert format_metric(name, value) == expected


def test_metrics_table_shows_infinity_and_dash() -> None:
    text = _text(metrics_table({"sharpe": math.inf, "sortino": math.nan, "total_return": 0.1}))
    assert "∞" in text
    assert "—" in text
    assert "10.00 %" in text
    assert "Calmar" not in text  # absent metrics are skipped


def test_tearsheet_of_a_real_backtest() -> None:
    bars = synthetic_bars(600)
    result = ma_cross(bars, 5, 30)
    text = _text(tearsheet(run_view_from_result(result, title="demo", params={"fast": 5})))
    assert "demo" in text
    assert "fast=5" in text
    assert "600 bars" in text
    assert format_metric("total_return", result.metrics["total_return"]) in text
    assert f"{int(result.metrics['n_trades'])}" in text
    assert result.metrics["turnover_annual"] > 0.0
    assert "Turnover (annual)" in text
    assert format_metric("turnover_annual", result.metrics["turnover_annual"]) in text


def test_top_runs_table_orders_and_limits() -> None:
    runs = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "strategy": ["s"] * 4,
            "params": ['{"a": 1}', '{"a": 2}', '{"a": 3}', '{"a": 4}'],
            "sharpe": [0.5, 2.0, None, 1.0],
            "total_return": [0.1, 0.2, 0.3, 0.4],
        }
    )
    text = _text(top_runs_table(runs, metric="sharpe", top_n=2))
    lines = [ln for ln in text.splitlines() if "a=" in ln]
    assert len(lines) == 2
    assert "a=2" in lines[0]
    assert "a=4" in lines[1]
    ascending = _text(top_runs_table(runs, metric="sharpe", descending=False, top_n=4))
    rows = [ln for ln in ascending.splitlines() if "a=" in ln]
    assert "a=1" in rows[0]
    assert "a=3" in rows[-1]
    with pytest.raises(ConfigError, match="cannot rank runs by 'shrape'"):
        top_runs_table(runs, metric="shrape")
