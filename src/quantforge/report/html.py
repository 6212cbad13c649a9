"""Self-contained HTML reports: a run's tear sheet, a sweep report, a two-run comparison.

Each page is one file that works offline: plotly.js is inlined once in the page head, every
chart is a Plotly div drawn from stored results. Files are written atomically (temp file in the
target folder, then rename), so a reader never sees half a report.

Big series are thinned before drawing (see ``docs/reports.md``): line charts keep, per bucket of
consecutive bars, the first, last, lowest and highest point (so peaks and troughs survive);
price candles are merged into buckets of ``k`` consecutive bars (open of the first, highest
high, lowest low, close of the last).
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Final

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from quantforge import __version__
from quantforge._typing import FloatArray, IntArray
from quantforge.data.schema import BAR_TIME
from quantforge.engine.metrics import (
    METRIC_NAMES,
    drawdown_series,
    monthly_returns,
    returns_from_equity,
    rolling_sharpe,
)
from quantforge.errors import ConfigError
from quantforge.report.data import RunView, thin_indices
from quantforge.report.sweep import (
    ParamHeatmap,
    Sensitivity,
    heatmap_pairs,
    param_heatmap,
    param_names,
    runs_of_strategy,
    sensitivity,
    strategies_of,
)
from quantforge.report.tearsheet import HEADLINE_METRICS, METRIC_LABELS, format_metric

log = logging.getLogger(__name__)

__all__ = [
    "MAX_CANDLES",
    "MAX_LINE_POINTS",
    "MAX_TRADE_ROWS",
    "write_comparison_html",
    "write_sweep_html",
    "write_tearsheet_html",
]

#: line charts with more bars than this are thinned (min/max per bucket)
MAX_LINE_POINTS: Final = 4000
#: price charts with more bars than this merge consecutive bars into bigger candles
MAX_CANDLES: Final = 1500
#: trade table rows written (the first ones; the page says when more exist)
MAX_TRADE_ROWS: Final = 1000

_GREEN: Final = "#1a7f37"
_RED: Final = "#cf222e"
_BLUE: Final = "#1f6feb"
_GREY: Final = "#8b949e"
_ORANGE: Final = "#bc4c00"
_PLOT_CONFIG: Final = {"displaylogo": False, "responsive": True}
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


# -- page assembly -------------------------------------------------------------------------------


def _write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d kB)", path, len(text) // 1024)
    return path


def _page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    template = Template(
        resources.files("quantforge.report").joinpath("_templates/page.html").read_text("utf-8")
    )
    return template.substitute(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        version=html.escape(__version__),
        # "</script>" cannot occur in the bundle, but guard the tag anyway
        plotlyjs=get_plotlyjs().replace("</script>", "<\\/script>"),
        body="\n".join(sections),
    )


def _section(heading: str, *parts: str, note: str | None = None) -> str:
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<section><h2>{html.escape(heading)}</h2>{note_html}{''.join(parts)}</section>"


def _chart(fig: go.Figure, div_id: str, height: int = 420) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"},
        hovermode="x unified" if fig.layout.hovermode is None else fig.layout.hovermode,
    )
    body: str = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOT_CONFIG
    )
    return f'<div class="chart">{body}</div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " ").capitalize())


def _cards(metrics: Mapping[str, float | int | None], names: Sequence[str]) -> str:
    out = []
    for name in names:
        if name not in metrics:
            continue
        value = metrics[name]
        cls = ""
        if name in ("total_return", "annual_return", "sharpe") and value is not None:
            v = float(value)
            cls = " pos" if v > 0 else " neg" if v < 0 else ""
        out.append(
            f'<div class="card"><div class="k">{html.escape(_label(name))}</div>'
            f'<div class="v{cls}">{html.escape(format_metric(name, value))}</div></div>'
        )
    return f'<div class="cards">{"".join(out)}</div>'


def _metric_rows(metrics: Mapping[str, float | int | None]) -> list[list[str]]:
    ordered = [n for n in METRIC_NAMES if n in metrics] + sorted(
        n for n in metrics if n not in METRIC_NAMES
    )
    return [[_label(n), format_metric(n, metrics[n]), n] for n in ordered]


# -- series shaping (line thinning: report.data.thin_indices) ---------------------------------


def _merge_candles(bars: pl.DataFrame, max_candles: int) -> tuple[pl.DataFrame, int]:
    n = bars.height
    k = max(1, math.ceil(n / max_candles))
    if k == 1:
        return bars, 1
    merged = (
        bars.with_row_index("_i")
        .with_columns((pl.col("_i") // k).alias("_g"))
        .group_by("_g", maintain_order=True)
        .agg(
            pl.col(BAR_TIME).first(),
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
        )
        .drop("_g")
    )
    return merged, k


def _dates(ms: IntArray) -> list[str]:
    # ISO strings: plotly reads them as dates; exact and JSON-friendly
    return [str(v) for v in ms.astype("datetime64[ms]")]


# -- tear sheet charts -----------------------------------------------------------------------


def _equity_figure(run: RunView, max_points: int) -> go.Figure:
    equity = run.equity_values
    bench = run.buy_and_hold()
    idx = thin_indices(equity, max_points)
    x = _dates(run.time_ms[idx])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=x, y=equity[idx], name="strategy", line={"color": _BLUE, "width": 1.6})
    )
    if bench is not None:
        fig.add_trace(
            go.Scatter(x=x, y=bench[idx], name="buy & hold", line={"color": _GREY, "width": 1.2})
        )
    fig.update_layout(
        title={"text": "Equity", "x": 0},
        yaxis_title="equity",
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.12,
                "yanchor": "bottom",
                "buttons": [
                    {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                    {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
                ],
            }
        ],
    )
    return fig


def _drawdown_figure(run: RunView, max_points: int) -> go.Figure:
    dd = drawdown_series(run.equity_values) * 100.0
    idx = thin_indices(dd, max_points)
    fig = go.Figure(
        go.Scatter(
            x=_dates(run.time_ms[idx]),
            y=dd[idx],
            name="drawdown",
            fill="tozeroy",
            line={"color": _RED, "width": 1},
        )
    )
    fig.update_layout(title={"text": "Underwater (drawdown from peak)", "x": 0}, yaxis_title="%")
    return fig


def _monthly_figure(run: RunView) -> go.Figure:
    m = monthly_returns(run.time_ms, run.equity_values)
    z = np.column_stack([m.table, m.annual]) * 100.0
    text = [["" if np.isnan(v) else f"{v:.1f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[*_MONTHS, "Year"],
            y=[str(int(y)) for y in m.years],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0.0,
            colorbar={"title": "%"},
            hovertemplate="%{y} %{x}: %{z:.2f} %<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        title={"text": "Monthly and yearly returns (%)", "x": 0},
        yaxis={"type": "category", "autorange": "reversed"},
        hovermode="closest",
    )
    return fig


def _rolling_window(run: RunView) -> int:
    n_returns = run.equity.height - 1
    # about one month of bars, but at least 2 and leaving at least 5 windows
    month = round(run.periods_per_year / 12.0)
    return int(max(2, min(month, n_returns // 5)))


def _rolling_volatility(r: FloatArray, window: int, ppy: float) -> FloatArray:
    out = np.full(r.size, np.nan)
    if r.size < window:
        return out
    x = r - r.mean()
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    var = np.maximum(s2 - s1 * s1 / window, 0.0) / (window - 1)
    out[window - 1 :] = np.sqrt(var * ppy)
    return out


def _rolling_figure(run: RunView, max_points: int) -> go.Figure | None:
    window = _rolling_window(run)
    r = returns_from_equity(run.equity_values)
    if r.size < window + 1:
        return None
    ppy = run.periods_per_year
    sharpe = rolling_sharpe(r, window, ppy)
    vol = _rolling_volatility(r, window, ppy) * 100.0
    t = run.time_ms[1:]
    ok = np.flatnonzero(np.isfinite(sharpe) | np.isfinite(vol))
    if ok.size == 0:
        return None
    t, sharpe, vol = t[ok], sharpe[ok], vol[ok]
    idx = thin_indices(np.nan_to_num(sharpe), max_points)
    x = _dates(t[idx])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=sharpe[idx], name="rolling Sharpe", line={"color": _BLUE}))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=vol[idx],
            name="rolling volatility (%, annualised)",
            line={"color": _ORANGE},
            yaxis="y2",
        )
    )
    fig.update_layout(
        title={"text": f"Rolling Sharpe and volatility ({window:,}-bar window)", "x": 0},
        yaxis={"title": "Sharpe"},
        yaxis2={"title": "volatility %", "overlaying": "y", "side": "right", "showgrid": False},
    )
    return fig


def _bin_size(values: FloatArray) -> float:
    span = float(values.max() - values.min())
    if span <= 0.0:
        return 1.0
    return span / min(60, max(10, round(math.sqrt(values.size) * 2)))


def _pnl_figure(trades: pl.DataFrame) -> go.Figure:
    pnl = trades["pnl"].cast(pl.Float64).to_numpy()
    fig = go.Figure()
    # one bin grid for both traces, so wins and losses bars line up
    bins = {"start": float(pnl.min()), "end": float(pnl.max()), "size": _bin_size(pnl)}
    for mask, name, colour in ((pnl > 0, "wins", _GREEN), (pnl <= 0, "losses", _RED)):
        if mask.any():
            fig.add_trace(
                go.Histogram(x=pnl[mask], name=name, marker_color=colour, opacity=0.85, xbins=bins)
            )
    fig.update_layout(
        title={"text": f"Trade PnL distribution ({pnl.size:,} trades)", "x": 0},
        barmode="overlay",
        xaxis_title="PnL per trade",
        yaxis_title="trades",
        hovermode="closest",
    )
    return fig


def _price_figure(run: RunView, max_candles: int) -> tuple[go.Figure, str]:
    assert run.bars is not None
    bars = run.bars.select(BAR_TIME, "open", "high", "low", "close")
    merged, k = _merge_candles(bars, max_candles)
    t = _dates(_to_ms(merged[BAR_TIME]))
    fig = go.Figure(
        go.Candlestick(
            x=t,
            open=merged["open"].to_numpy(),
            high=merged["high"].to_numpy(),
            low=merged["low"].to_numpy(),
            close=merged["close"].to_numpy(),
            name="price",
            increasing_line_color="#57ab5a",
            decreasing_line_color="#e5534b",
            opacity=0.75,
        )
    )
    trades = run.trades
    if trades.height:
        pnl = trades["pnl"].cast(pl.Float64).to_numpy()
        side = trades["side"].to_list() if "side" in trades.columns else ["long"] * trades.height
        hover = [f"{s} trade, PnL {p:,.2f}" for s, p in zip(side, pnl, strict=True)]
        # green for a winning trade, red for a losing one (both its entry and its exit)
        colour = {"color": np.where(pnl > 0, _GREEN, np.where(pnl < 0, _RED, _GREY)).tolist()}
        fig.add_trace(
            go.Scatter(
                x=_dates(_to_ms(trades["entry_time"])),
                y=trades["entry_price"].to_numpy(),
                mode="markers",
                name="entries",
                text=hover,
                hovertemplate="entry %{x}<br>%{y:.6g}<br>%{text}<extra></extra>",
                marker={
                    **colour,
                    "symbol": ["triangle-up" if s == "long" else "triangle-down" for s in side],
                    "size": 10,
                    "line": {"width": 1, "color": "#24292f"},
                },
            )
        )
        fig.add_trace(
            go.Scatter(
                x=_dates(_to_ms(trades["exit_time"])),
                y=trades["exit_price"].to_numpy(),
                mode="markers",
                name="exits",
                text=hover,
                hovertemplate="exit %{x}<br>%{y:.6g}<br>%{text}<extra></extra>",
                marker={
                    **colour,
                    "symbol": "x",
                    "size": 9,
                    "line": {"width": 1, "color": "#24292f"},
                },
            )
        )
    fig.update_layout(
        title={
            "text": "Price with entries (▲ long, ▼ short) and exits (×): green won, red lost",
            "x": 0,
        },
        xaxis_rangeslider_visible=False,
        yaxis_title="price",
        hovermode="closest",
    )
    note = (
        f"{bars.height:,} bars drawn as {merged.height:,} candles of {k} bars each "
        "(open of the first, highest high, lowest low, close of the last)."
        if k > 1
        else f"{bars.height:,} bars."
    )
    return fig, note


def _to_ms(series: pl.Series) -> IntArray:
    if isinstance(series.dtype, pl.Datetime):
        out: IntArray = series.dt.cast_time_unit("ms").cast(pl.Int64).to_numpy()
        return out
    return series.cast(pl.Int64).to_numpy()


def _trades_table(trades: pl.DataFrame) -> tuple[str, str | None]:
    columns = [
        c
        for c in (
            "side",
            "entry_time",
            "exit_time",
            "entry_price",
            "exit_price",
            "qty",
            "fees",
            "pnl",
            "return",
            "bars_held",
            "exit_reason",
        )
        if c in trades.columns
    ]
    shown = trades.head(MAX_TRADE_ROWS).select(columns)
    rows: list[list[str]] = []
    for row in shown.iter_rows(named=True):
        cells = []
        for c in columns:
            v = row[c]
            if c == "return":
                cells.append(format_metric("total_return", v))
            elif isinstance(v, float):
                cells.append(
                    f"{v:,.6g}" if c in ("entry_price", "exit_price", "qty") else f"{v:,.2f}"
                )
            elif hasattr(v, "strftime"):
                cells.append(v.strftime("%Y-%m-%d %H:%M"))
            else:
                cells.append("—" if v is None else str(v))
        rows.append(["#" + str(len(rows) + 1), *cells])
    table = _table(["#", *[c.replace("_", " ") for c in columns]], rows, left=2)
    note = (
        f"showing the first {MAX_TRADE_ROWS:,} of {trades.height:,} trades"
        if trades.height > MAX_TRADE_ROWS
        else None
    )
    return f'<div class="scroll" id="trades">{table}</div>', note


def _config_section(run: RunView) -> str:
    rows = [[k, str(v)] for k, v in run.fingerprint.items()]
    rows += [[f"param {k}", json.dumps(v)] for k, v in run.params.items()]
    parts = [_table(["what", "value"], rows, left=2)] if rows else []
    if run.config:
        text = json.dumps(run.config, indent=2, sort_keys=True, default=str)
        parts.append(f"<pre>{html.escape(text)}</pre>")
    if not parts:
        parts.append('<p class="note">no configuration recorded</p>')
    return _section("Configuration and data fingerprint", *parts)


def _period(run: RunView) -> str:
    t = run.time_ms
    start, end = (str(v)[:16].replace("T", " ") for v in t[[0, -1]].astype("datetime64[ms]"))
    return f"{start} → {end} UTC · {t.size:,} bars"


def _tearsheet_sections(run: RunView, max_points: int, max_candles: int) -> list[str]:
    n = run.equity.height
    thinned = (
        f"{n:,} bars thinned to at most {max_points:,} points (first, last, low and high of "
        "each bucket kept)."
        if n > max_points
        else None
    )
    bench_note = (
        "Buy & hold: starting equity invested at the first bar's close."
        if run.buy_and_hold() is not None
        else "No bars attached: buy & hold not shown."
    )
    sections = [
        _section("Headline", _cards(run.metrics, HEADLINE_METRICS)),
        _section(
            "Equity",
            _chart(_equity_figure(run, max_points), "chart-equity", 460),
            note=" ".join(s for s in (bench_note, thinned) if s),
        ),
        _section("Drawdown", _chart(_drawdown_figure(run, max_points), "chart-drawdown", 300)),
        _section("Returns by month", _chart(_monthly_figure(run), "chart-monthly", 360)),
    ]
    rolling = _rolling_figure(run, max_points)
    if rolling is not None:
        sections.append(_section("Rolling risk", _chart(rolling, "chart-rolling", 340)))
    if run.trades.height:
        sections.append(_section("Trades", _chart(_pnl_figure(run.trades), "chart-pnl", 340)))
    if run.bars is not None and run.bars.height:
        fig, note = _price_figure(run, max_candles)
        sections.append(_section("Price", _chart(fig, "chart-price", 520), note=note))
    else:
        sections.append(
            _section(
                "Price",
                '<p class="note">The bars this run used are not available (pass bars=, or '
                "point --catalog at the experiment's data) — no price chart.</p>",
            )
        )
    if run.trades.height:
        table, more = _trades_table(run.trades)
        sections.append(_section("Trade list", table, note=more))
    sections.append(
        _section("All metrics", _table(["metric", "value", "key"], _metric_rows(run.metrics)))
    )
    sections.append(_config_section(run))
    return sections


def write_tearsheet_html(
    run: RunView,
    path: str | Path,
    *,
    max_points: int = MAX_LINE_POINTS,
    max_candles: int = MAX_CANDLES,
) -> Path:
    """Write one run's tear sheet as a self-contained HTML file.

    Charts: equity against buy-and-hold (linear/log toggle), underwater drawdown, monthly and
    yearly returns heatmap, rolling Sharpe and volatility, trade PnL distribution, price with
    entries and exits coloured by PnL; tables: trades, all metrics, configuration and data
    fingerprint.

    Parameters
    ----------
    run
        From `run_view_from_result` or `run_view_from_store`.
    path
        Target ``.html`` file (folders are created; written atomically).
    max_points
        Line charts with more bars are thinned to about this many points.
    max_candles
        Price charts with more bars merge consecutive bars into at most this many candles.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> view = run_view_from_result(result, bars=bars)  # doctest: +SKIP
    >>> write_tearsheet_html(view, "report.html")  # doctest: +SKIP
    """
    if max_points < 8 or max_candles < 2:
        raise ConfigError(
            f"max_points must be >= 8 and max_candles >= 2; got {max_points}, {max_candles}"
        )
    page = _page(run.title, _period(run), _tearsheet_sections(run, max_points, max_candles))
    return _write_atomic(Path(path), page)


# -- comparison --------------------------------------------------------------------------------


def write_comparison_html(
    a: RunView, b: RunView, path: str | Path, *, max_points: int = MAX_LINE_POINTS
) -> Path:
    """Write a side-by-side comparison of two runs (e.g. naive baseline vs regime-aware).

    Shows both equity curves as growth of 1 (so different starting cash compares), both
    drawdowns, and every metric of the two runs next to each other.

    Parameters
    ----------
    a, b
        The two runs (``a`` is the baseline).
    path
        Target ``.html`` file.
    max_points
        Line charts with more bars are thinned to about this many points.

    Returns
    -------
    Path
        The file written.
    """
    growth = go.Figure()
    drawdown = go.Figure()
    for run, colour in ((a, _GREY), (b, _BLUE)):
        e = run.equity_values
        idx = thin_indices(e, max_points)
        x = _dates(run.time_ms[idx])
        growth.add_trace(
            go.Scatter(x=x, y=(e / e[0])[idx], name=run.title, line={"color": colour, "width": 1.6})
        )
        dd = drawdown_series(e) * 100.0
        drawdown.add_trace(
            go.Scatter(x=x, y=dd[idx], name=run.title, line={"color": colour, "width": 1.2})
        )
    growth.update_layout(title={"text": "Growth of 1", "x": 0}, yaxis_title="× starting equity")
    drawdown.update_layout(title={"text": "Drawdown (%)", "x": 0}, yaxis_title="%")
    names = [n for n in METRIC_NAMES if n in a.metrics or n in b.metrics]
    rows = [
        [_label(n), format_metric(n, a.metrics.get(n)), format_metric(n, b.metrics.get(n))]
        for n in names
    ]
    params = [
        [k, json.dumps(a.params.get(k, "—")), json.dumps(b.params.get(k, "—"))]
        for k in dict.fromkeys([*a.params, *b.params])
    ]
    sections = [
        _section(f"A: {a.title}", _cards(a.metrics, HEADLINE_METRICS[:8])),
        _section(f"B: {b.title}", _cards(b.metrics, HEADLINE_METRICS[:8])),
        _section("Equity", _chart(growth, "chart-growth", 440)),
        _section("Drawdown", _chart(drawdown, "chart-drawdown", 300)),
        _section("Metrics", _table(["metric", "A", "B"], rows)),
    ]
    if params:
        sections.append(_section("Parameters", _table(["parameter", "A", "B"], params)))
    title = f"{a.title} vs {b.title}"
    return _write_atomic(Path(path), _page(title, "comparison of two runs", sections))


# -- sweep -----------------------------------------------------------------------------------


def _heatmap_figure(hm: ParamHeatmap) -> go.Figure:
    text = [["" if np.isnan(v) else f"{v:.3g}" for v in row] for row in hm.z]
    fig = go.Figure(
        go.Heatmap(
            z=hm.z,
            x=[str(v) for v in hm.x_values],
            y=[str(v) for v in hm.y_values],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar={"title": _label(hm.metric)},
            hovertemplate=f"{hm.x_param}=%{{x}}<br>{hm.y_param}=%{{y}}<br>"
            f"{hm.metric}=%{{z:.4g}}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title={"text": f"{_label(hm.metric)}: {hm.y_param} × {hm.x_param} ({hm.how})", "x": 0},
        xaxis={"title": hm.x_param, "type": "category"},
        yaxis={"title": hm.y_param, "type": "category"},
        hovermode="closest",
    )
    return fig


def _profiles_figure(sens: Sensitivity) -> go.Figure:
    fig = go.Figure()
    for name, (values, metric) in sens.profiles.items():
        best = sens.best_params.get(name)
        sizes = [14 if v == best else 7 for v in values]
        fig.add_trace(
            go.Scatter(
                x=[str(v) for v in values],
                y=metric,
                name=name,
                mode="lines+markers",
                marker={"size": sizes},
                xaxis="x",
            )
        )
    fig.update_layout(
        title={
            "text": "One parameter at a time, the others held at the best run (big dot)",
            "x": 0,
        },
        xaxis={"title": "parameter value", "type": "category"},
        yaxis_title=_label(sens.metric),
        hovermode="closest",
    )
    return fig


def _sensitivity_section(sens: Sensitivity) -> str:
    score = sens.plateau_score
    verdict = (
        "no neighbours with a value"
        if math.isnan(score)
        else "plateau"
        if score >= 0.75
        else "shoulder"
        if score >= 0.4
        else "spike"
    )
    rows = [
        ["best run", str(sens.best_run_id)],
        ["best params", ", ".join(f"{k}={v}" for k, v in sens.best_params.items())],
        [f"best {sens.metric}", format_metric(sens.metric, sens.best_value)],
        ["neighbours (one grid step)", str(sens.neighbours.height)],
        ["neighbour median", format_metric(sens.metric, sens.neighbour_median)],
        ["grid median", format_metric(sens.metric, sens.grid_median)],
        ["plateau score", "—" if math.isnan(score) else f"{score:.3f} ({verdict})"],
    ]
    parts = [f'<div id="plateau-score" data-score="{score!r}">' + _table(["", ""], rows) + "</div>"]
    charts = ""
    if sens.profiles:
        charts = _chart(_profiles_figure(sens), "chart-profiles", 380)
    nb_cols = [c for c in sens.neighbours.columns if c != sens.metric]
    nb_rows = [
        [*(str(v) for v in row[:-1]), format_metric(sens.metric, row[-1])]
        for row in sens.neighbours.select(*nb_cols, sens.metric).iter_rows()
    ]
    parts.append(charts)
    if nb_rows:
        header = [c.removeprefix("param.") for c in nb_cols] + [_label(sens.metric)]
        parts.append('<div class="scroll">' + _table(header, nb_rows) + "</div>")
    return _section(
        "Sensitivity: plateau or spike?",
        *parts,
        note="plateau score = (median of neighbours − grid median) / (best − grid median): "
        "1 = neighbours as good as the best, 0 = no better than a typical combination.",
    )


def _top_table(runs: pl.DataFrame, metric: str, descending: bool, top_n: int) -> str:
    ranked = runs.sort(metric, descending=descending, nulls_last=True).head(top_n)
    shown = [
        c
        for c in ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate", "profit_factor")
        if c != metric and c in runs.columns
    ]
    rows = []
    for rank, row in enumerate(ranked.iter_rows(named=True), start=1):
        params = json.loads(row["params"]) if row.get("params") else {}
        rows.append(
            [
                str(rank),
                str(row["id"]),
                str(row.get("strategy") or ""),
                str(row.get("symbol") or ""),
                ", ".join(f"{k}={v}" for k, v in params.items()),
                format_metric(metric, row[metric]),
                *(format_metric(c, row[c]) for c in shown),
            ]
        )
    header = ["#", "run", "strategy", "symbol", "params", _label(metric), *map(_label, shown)]
    return '<div class="scroll">' + _table(header, rows, left=5) + "</div>"


def write_sweep_html(
    runs: pl.DataFrame,
    path: str | Path,
    *,
    title: str = "sweep",
    metric: str = "pnl_to_max_drawdown",
    descending: bool = True,
    top_n: int = 10,
    pairs: Sequence[tuple[str, str]] | None = None,
    fixed: Mapping[str, Any] | None = None,
    aggregate: str = "max",
    top_equity: Sequence[RunView] = (),
    max_points: int = MAX_LINE_POINTS,
) -> Path:
    """Write a sweep report: top runs, parameter heatmaps, sensitivity, top equity curves.

    Parameters
    ----------
    runs
        The experiment's runs table (`ResultStore.runs`).
    path
        Target ``.html`` file.
    title
        Page title.
    metric, descending
        The ranking metric and its direction.
    top_n
        Rows of the top-runs table.
    pairs
        Parameter pairs (x, y) to draw; default the first three pairs of varying parameters,
        per strategy.
    fixed, aggregate
        Passed to `param_heatmap` for the parameters not on the axes.
    top_equity
        Runs whose equity curves are overlaid (e.g. the top few, loaded from the store).
    max_points
        Line charts with more bars are thinned to about this many points.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        Unknown metric or parameter, or an empty runs table.
    """
    if aggregate not in ("max", "median", "min", "mean"):
        raise ConfigError(f"aggregate must be max, median, min or mean; got {aggregate!r}")
    if runs.height == 0:
        raise ConfigError(f"sweep report {title!r}: there are no successful runs to show")
    known = set(param_names(runs))
    for x, y in pairs or ():
        for name in (x, y):
            if name not in known:
                raise ConfigError(
                    f"heatmap parameter {name!r} is not a parameter of these runs "
                    f"({', '.join(sorted(known)) or 'none'})"
                )
    if metric not in runs.columns:
        raise ConfigError(f"cannot rank by {metric!r}: not a column of the runs table")
    sections = [
        _section(
            f"Top {min(top_n, runs.height)} of {runs.height} runs by {_label(metric)}",
            _top_table(runs, metric, descending, top_n),
        )
    ]
    chart_no = 0
    groups: list[str | None] = [*strategies_of(runs)] or [None]
    for strategy in groups:
        frame = runs if strategy is None else runs_of_strategy(runs, strategy)
        if not param_names(frame):
            continue
        names = param_names(frame)
        if pairs is None:
            chosen = heatmap_pairs(frame)
        else:
            # a pair only applies to the strategies that have both parameters
            chosen = [(x, y) for x, y in pairs if x in names and y in names]
        charts = []
        for x, y in chosen:
            hm = param_heatmap(
                frame,
                x,
                y,
                metric=metric,
                fixed={k: v for k, v in (fixed or {}).items() if k in names},
                aggregate=aggregate,  # type: ignore[arg-type]
            )
            chart_no += 1
            charts.append(_chart(_heatmap_figure(hm), f"chart-heatmap-{chart_no}", 440))
        if charts:
            sections.append(
                _section(
                    f"Parameter heatmaps: {strategy or 'all runs'}",
                    '<div class="grid2">' + "".join(charts) + "</div>",
                )
            )
    sens = sensitivity(runs, metric=metric, descending=descending)
    sections.append(_sensitivity_section(sens))
    if top_equity:
        fig = go.Figure()
        for run in top_equity:
            e = run.equity_values
            idx = thin_indices(e, max_points)
            fig.add_trace(go.Scatter(x=_dates(run.time_ms[idx]), y=(e / e[0])[idx], name=run.title))
        fig.update_layout(title={"text": "Top runs: growth of 1", "x": 0})
        sections.append(_section("Equity of the top runs", _chart(fig, "chart-top-equity", 440)))
    subtitle = (
        f"{runs.height:,} runs · ranked by {_label(metric)} ({'max' if descending else 'min'})"
    )
    return _write_atomic(Path(path), _page(title, subtitle, sections))
