"""Console tear sheets (Rich): headline metrics of one run, the top runs of a sweep.

The functions return Rich renderables; only the CLI prints them. Values are formatted by kind:
fractions as percentages, ratios with two decimals, durations in days/hours, counts as
integers; ``inf`` shows as "∞" and ``nan``/missing as "—".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import polars as pl
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from quantforge.errors import ConfigError
from quantforge.report.data import RunView

__all__ = [
    "HEADLINE_METRICS",
    "METRIC_LABELS",
    "format_metric",
    "metric_kind",
    "metrics_table",
    "tearsheet",
    "top_runs_table",
]

MetricKind = Literal["percent", "ratio", "days", "bars", "count", "money", "number"]

_PERCENT: Final = frozenset(
    {
        "total_return",
        "annual_return",
        "annual_return_arithmetic",
        "annual_volatility",
        "max_drawdown",
        "ulcer_index",
        "value_at_risk",
        "cvar",
        "probabilistic_sharpe_ratio",
        "exposure",
        "win_rate",
        "avg_trade_return",
        "best_trade",
        "worst_trade",
    }
)
_RATIO: Final = frozenset(
    {
        "sharpe",
        "sortino",
        "calmar",
        "pnl_to_max_drawdown",
        "skew",
        "kurtosis",
        "tail_ratio",
        "turnover",
        "turnover_annual",
        "profit_factor",
        "payoff_ratio",
        "sqn",
    }
)
_COUNT: Final = frozenset(
    {
        "n_bars",
        "n_trades",
        "n_wins",
        "n_losses",
        "max_consecutive_wins",
        "max_consecutive_losses",
    }
)
_BARS: Final = frozenset({"max_drawdown_duration_bars", "avg_holding_bars", "longest_holding_bars"})
_MONEY: Final = frozenset(
    {
        "final_equity",
        "max_drawdown_abs",
        "gross_profit",
        "gross_loss",
        "avg_win",
        "avg_loss",
        "expectancy",
    }
)

#: metrics shown in the console tear sheet and at the top of the HTML one, in this order
HEADLINE_METRICS: Final = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_days",
    "pnl_to_max_drawdown",
    "n_trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_holding_bars",
    "exposure",
    "turnover_annual",
    "final_equity",
)

#: human labels of metric keys (keys not listed show as the key with spaces)
METRIC_LABELS: Final[dict[str, str]] = {
    "total_return": "Total return",
    "annual_return": "CAGR",
    "annual_return_arithmetic": "Annual return (arithmetic)",
    "annual_volatility": "Annual volatility",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "calmar": "Calmar",
    "pnl_to_max_drawdown": "PnL / max drawdown",
    "max_drawdown": "Max drawdown",
    "max_drawdown_abs": "Max drawdown (currency)",
    "max_drawdown_duration_bars": "Longest drawdown (bars)",
    "max_drawdown_duration_days": "Longest drawdown",
    "probabilistic_sharpe_ratio": "Probabilistic Sharpe",
    "value_at_risk": "VaR 95 % (per bar)",
    "cvar": "CVaR 95 % (per bar)",
    "n_trades": "Trades",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy",
    "avg_holding_bars": "Avg holding",
    "exposure": "Exposure",
    "turnover": "Turnover",
    "turnover_annual": "Turnover (annual)",
    "final_equity": "Final equity",
    "sqn": "SQN",
}


def metric_kind(name: str) -> MetricKind:
    """Return how a metric is formatted: percent, ratio, days, bars, count, money or number."""
    if name in _PERCENT:
        return "percent"
    if name in _RATIO:
        return "ratio"
    if name in _COUNT:
        return "count"
    if name in _BARS:
        return "bars"
    if name in _MONEY:
        return "money"
    if name.endswith("_days"):
        return "days"
    return "number"


def _label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " ").capitalize())


def _days(value: float) -> str:
    if value < 1.0:
        hours = value * 24.0
        return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"
    whole = int(value)
    hours = round((value - whole) * 24.0)
    if hours == 24:
        whole, hours = whole + 1, 0
    return f"{whole} d {hours} h" if hours and whole < 10 else f"{whole:,} d"


def format_metric(name: str, value: float | int | None) -> str:
    """Format one metric value for people.

    Parameters
    ----------
    name
        Metric key (decides the kind, see `metric_kind`).
    value
        The value; None and ``nan`` give "—", ``±inf`` gives "∞"/"-∞".

    Returns
    -------
    str

    Examples
    --------
    >>> format_metric("total_return", 0.1234), format_metric("sharpe", math.inf)
    ('12.34 %', '∞')
    >>> format_metric("max_drawdown_duration_days", 3.5), format_metric("n_trades", 12.0)
    ('3 d 12 h', '12')
    """
    if value is None:
        return "—"
    v = float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    kind = metric_kind(name)
    if kind == "percent":
        return f"{v * 100:.2f} %"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "count":
        return f"{round(v):,}"
    if kind == "bars":
        return f"{v:,.1f} bars" if v != round(v) else f"{round(v):,} bars"
    if kind == "days":
        return _days(v)
    if kind == "money":
        return f"{v:,.2f}"
    return f"{v:,.4g}"


def _style(name: str, value: float | int | None) -> str:
    if value is None or not math.isfinite(float(value)):
        return "dim"
    if name in ("total_return", "annual_return", "sharpe", "sortino", "pnl_to_max_drawdown"):
        return "green" if float(value) > 0 else "red" if float(value) < 0 else ""
    return ""


def metrics_table(
    metrics: Mapping[str, float | int | None],
    *,
    names: Sequence[str] = HEADLINE_METRICS,
    title: str | None = None,
) -> Table:
    """Return a two-column Rich table (metric, formatted value) of ``names`` found in ``metrics``.

    Parameters
    ----------
    metrics
        Metric name to value.
    names
        Which metrics, in order (absent ones are skipped).
    title
        Table title.
    """
    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for name in names:
        if name in metrics:
            value = metrics[name]
            table.add_row(_label(name), Text(format_metric(name, value), style=_style(name, value)))
    return table


def tearsheet(run: RunView) -> RenderableType:
    """Return the console tear sheet of one run: its parameters and headline metrics.

    Parameters
    ----------
    run
        From `run_view_from_result` or `run_view_from_store`.

    Returns
    -------
    rich.console.RenderableType
        Print it with a Rich console.

    Examples
    --------
    >>> console.print(tearsheet(run_view_from_result(result)))  # doctest: +SKIP
    """
    t = run.time_ms
    start = _iso(int(t[0]))
    end = _iso(int(t[-1]))
    parts: list[RenderableType] = [
        Text(f"{run.title}  ·  {start} → {end}  ·  {t.size:,} bars", style="bold")
    ]
    if run.params:
        parts.append(Text("params: " + _params_text(run.params), style="cyan"))
    parts.append(metrics_table(run.metrics))
    return Group(*parts)


def _iso(ms: int) -> str:
    return str(pl.Series([ms]).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%d %H:%M")[0])


def _params_text(params: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def top_runs_table(
    runs: pl.DataFrame,
    *,
    metric: str = "pnl_to_max_drawdown",
    descending: bool = True,
    top_n: int = 10,
    columns: Sequence[str] = (
        "total_return",
        "sharpe",
        "max_drawdown",
        "n_trades",
        "win_rate",
        "profit_factor",
    ),
    title: str | None = None,
) -> Table:
    """Return the top ``top_n`` runs of a sweep: rank, id, strategy, params, ranking metric, more.

    Parameters
    ----------
    runs
        `ResultStore.runs` output (``id``, ``strategy``, ``params`` JSON, headline metrics).
    metric
        Ranking metric (a headline metric column).
    descending
        Larger is better (default) or smaller is better.
    top_n
        Rows shown.
    columns
        Further headline metrics shown after the ranking metric.
    title
        Table title.

    Raises
    ------
    ConfigError
        When ``metric`` is not a column of ``runs``.
    """
    if metric not in runs.columns:
        raise ConfigError(
            f"cannot rank runs by {metric!r}: not a column of the runs table "
            f"(columns: {', '.join(c for c in runs.columns if not c.startswith('param.'))})"
        )
    if top_n < 1:
        raise ConfigError(f"top_n must be >= 1; got {top_n}")
    ranked = runs.sort(metric, descending=descending, nulls_last=True).head(top_n)
    table = Table(
        title=title or f"top {min(top_n, runs.height)} of {runs.height} runs by {_label(metric)}",
        header_style="bold",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("run", justify="right")
    table.add_column("strategy")
    table.add_column("params")
    table.add_column(_label(metric), justify="right", style="bold")
    shown = [c for c in columns if c != metric and c in runs.columns]
    for c in shown:
        table.add_column(_label(c), justify="right")
    for rank, row in enumerate(ranked.iter_rows(named=True), start=1):
        params = json.loads(row["params"]) if row.get("params") else {}
        table.add_row(
            str(rank),
            str(row["id"]),
            str(row.get("strategy", "")),
            _params_text(params),
            format_metric(metric, row[metric]),
            *(format_metric(c, row[c]) for c in shown),
        )
    return table
