"""The validation section/page: baseline vs optimised vs walk-forward out-of-sample, side by side.

`validation_section` returns one self-contained ``<section>`` (Plotly divs that need plotly.js in
the page head, as every quantforge report page has); `write_validation_html` writes a whole page
with the same template as the tear sheets (plotly.js inlined, works offline, written atomically).
It renders a `quantforge.experiment.validation.ValidationReport` and recomputes nothing.
"""

from __future__ import annotations

import html
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from quantforge import __version__

if TYPE_CHECKING:
    from quantforge.experiment.montecarlo import MonteCarloResult
    from quantforge.experiment.validation import Curve, ValidationReport

log = logging.getLogger(__name__)

__all__ = ["validation_section", "write_validation_html"]

_CONFIG: Final = {"displaylogo": False, "responsive": True}
_MAX_POINTS: Final = 4000
_SIDE_BY_SIDE: Final = (
    ("total_return", "Total return", "pct"),
    ("annual_return", "Annual return (CAGR)", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("probabilistic_sharpe_ratio", "PSR", "num"),
    ("n_trades", "Trades", "int"),
)


def _fmt(value: object, kind: str = "num") -> str:
    if value is None or isinstance(value, bool):
        return "–"
    x = float(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if kind == "pct":
        return f"{x * 100:.2f} %"
    if kind == "int":
        return f"{int(x):,}"
    return f"{x:.3f}"


def _value(value: object) -> str:
    # parameter values: floats to 6 significant digits (0.0121, not 0.01201975341512912)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in params.items())


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    left = ' class="l"'

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{left if i == 0 else ''}>{html.escape(v)}</{tag}>" for i, v in enumerate(values)
        )

    head = cells("th", header)
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(fig: go.Figure, div_id: str, height: int = 380) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"},
    )
    body: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
    return f'<div class="chart">{body}</div>'


def _thin(n: int) -> np.ndarray[Any, Any]:
    if n <= _MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, _MAX_POINTS).astype(np.int64))


def _dates(ms: np.ndarray[Any, Any]) -> list[str]:
    return [str(d) for d in np.asarray(ms, dtype="datetime64[ms]")]


def _equity_figure(report: ValidationReport) -> go.Figure:
    fig = go.Figure()
    curves: list[tuple[str, Curve | None, np.ndarray[Any, Any], np.ndarray[Any, Any]]] = [
        ("baseline", report.baseline, report.baseline.time_ms, report.baseline.equity),
        (
            "optimised (in sample)",
            report.optimised,
            report.optimised.time_ms,
            report.optimised.equity,
        ),
    ]
    wf = report.walk_forward
    if wf is not None and wf.equity.size:
        curves.append(("walk-forward out of sample", None, wf.equity_time_ms, wf.equity))
    for label, _, t, eq in curves:
        keep = _thin(eq.size)
        fig.add_trace(go.Scatter(x=_dates(t[keep]), y=eq[keep], name=label, mode="lines"))
    fig.update_layout(title="Equity: baseline vs optimised vs walk-forward out-of-sample")
    return fig


def _histogram(mc: MonteCarloResult, which: str, div_id: str) -> str:
    values = mc.total_return if which == "return" else mc.max_drawdown
    interval = mc.return_interval if which == "return" else mc.drawdown_interval
    observed = mc.observed_return if which == "return" else mc.observed_max_drawdown
    fig = go.Figure(go.Histogram(x=values * 100, nbinsx=60, name=mc.method))
    for x, dash in ((interval.low, "dash"), (interval.high, "dash"), (observed, "solid")):
        fig.add_vline(x=x * 100, line_dash=dash, line_color="#444")
    title = "total return" if which == "return" else "max drawdown"
    fig.update_layout(
        title=f"{mc.method}: {title} (%), {mc.confidence:.0%} interval dashed, observed solid",
        showlegend=False,
        hovermode="closest",
    )
    return _chart(fig, div_id, height=300)


def validation_section(report: ValidationReport) -> str:
    """Return the validation ``<section>`` HTML (needs plotly.js loaded by the page)."""
    parts: list[str] = []
    wf = report.walk_forward
    header = ["metric", "baseline", "optimised (in sample)"]
    if wf is not None:
        header.append("walk-forward OOS")
    rows = []
    for key, label, kind in _SIDE_BY_SIDE:
        row = [label, _fmt(report.baseline.metrics.get(key), kind)]
        row.append(_fmt(report.optimised.metrics.get(key), kind))
        if wf is not None:
            row.append(_fmt(wf.oos_metrics.get(key), kind))
        rows.append(row)
    params = [
        ["baseline", _params(report.baseline.params)],
        ["optimised", _params(report.optimised.params)],
    ]
    parts.append("<h3>Side by side</h3>" + _table(header, rows))
    parts.append("<h3>Parameters</h3>" + _table(["run", "parameters"], params))
    parts.append(_chart(_equity_figure(report), "validation-equity", height=420))

    d = report.dsr
    stats = [
        ["trials the search ran (N)", f"{report.n_trials:,}"],
        ["Sharpe of the optimised run (annualised)", _fmt(report.optimised.metrics.get("sharpe"))],
        ["expected max Sharpe of N skill-less trials (per bar)", f"{d.sr0:.5f}"],
        ["PSR (vs 0)", _fmt(d.psr)],
        ["deflated Sharpe ratio (DSR)", _fmt(d.dsr)],
    ]
    if report.pbo is not None:
        p = report.pbo
        stats += [
            [
                f"PBO (CSCV, S={p.n_splits}, {p.n_combinations:,} splits, {p.n_trials} candidates)",
                _fmt(p.pbo),
            ],
            ["probability of an out-of-sample loss of the IS winner", _fmt(p.probability_of_loss)],
            ["degradation slope (OOS vs IS Sharpe of the winner)", _fmt(p.degradation_slope)],
        ]
    stats += [
        ["minimum backtest length for N trials (years)", f"{report.min_backtest_years:.2f}"],
        ["data length (years)", f"{report.data_years:.2f}"],
    ]
    parts.append("<h3>Overfitting statistics</h3>" + _table(["statistic", "value"], stats))
    if report.pbo is not None and report.pbo.logits.size:
        fig = go.Figure(go.Histogram(x=report.pbo.logits, nbinsx=40))
        fig.add_vline(x=0.0, line_color="#c0392b")
        fig.update_layout(
            title="CSCV logits of the in-sample winner's out-of-sample rank (left of 0 = overfit)",
            showlegend=False,
            hovermode="closest",
        )
        parts.append(_chart(fig, "validation-pbo", height=300))

    if wf is not None:
        spec = wf.spec
        summary = [
            [
                "windows",
                f"{len(wf.windows)} ({spec.mode}, {spec.in_sample}/{spec.out_of_sample} "
                f"{spec.unit}, step {spec.stride})",
            ],
            ["walk-forward efficiency", _fmt(wf.efficiency)],
            ["consistency (profitable OOS windows)", _fmt(wf.consistency, "pct")],
            [f"mean IS {wf.metric}", _fmt(wf.is_metric_mean)],
            [f"mean OOS {wf.metric}", _fmt(wf.oos_metric_mean)],
            ["IS → OOS degradation", _fmt(wf.degradation, "pct")],
            ["flagged windows (too few trades)", ", ".join(map(str, wf.flagged)) or "none"],
        ]
        parts.append("<h3>Walk-forward</h3>" + _table(["", ""], summary))
        window_rows = []
        for w in wf.windows:
            window_rows.append(
                [
                    str(w.window.index),
                    _dates(np.array([w.start_ms[1]]))[0][:16],
                    _params(w.params),
                    _fmt(w.is_metrics.get(wf.metric)),
                    _fmt(w.oos_metrics.get(wf.metric)),
                    _fmt(w.oos_metrics.get("total_return"), "pct"),
                    _fmt(w.oos_metrics.get("n_trades"), "int"),
                    "yes" if w.flagged else "",
                ]
            )
        parts.append(
            "<h3>Windows</h3>"
            + _table(
                [
                    "window",
                    "OOS start",
                    "parameters",
                    f"IS {wf.metric}",
                    f"OOS {wf.metric}",
                    "OOS return",
                    "OOS trades",
                    "flagged",
                ],
                window_rows,
            )
        )
        stability = [
            [
                s.name,
                ", ".join(map(_value, s.values)),
                str(s.distinct),
                _fmt(s.modal_share, "pct"),
                _fmt(s.cv),
            ]
            for s in wf.stability
        ]
        parts.append(
            "<h3>Parameter stability across windows</h3>"
            + _table(["parameter", "chosen", "distinct", "modal share", "CV"], stability)
        )

    for mc in (report.bootstrap, report.shuffle):
        if mc is None:
            continue
        ri, di = mc.return_interval, mc.drawdown_interval
        parts.append(
            f"<h3>Monte Carlo ({html.escape(mc.method)}, {mc.n_samples:,} samples of "
            f"{mc.n_trades:,} trades)</h3>"
            + _table(
                ["", "low", "median", "high", "observed"],
                [
                    [
                        "total return",
                        _fmt(ri.low, "pct"),
                        _fmt(ri.median, "pct"),
                        _fmt(ri.high, "pct"),
                        _fmt(mc.observed_return, "pct"),
                    ],
                    [
                        "max drawdown",
                        _fmt(di.low, "pct"),
                        _fmt(di.median, "pct"),
                        _fmt(di.high, "pct"),
                        _fmt(mc.observed_max_drawdown, "pct"),
                    ],
                ],
            )
        )
        if mc.method == "bootstrap":
            parts.append(_histogram(mc, "return", f"validation-mc-{mc.method}-return"))
        parts.append(_histogram(mc, "drawdown", f"validation-mc-{mc.method}-drawdown"))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    if notes:
        parts.append(f"<h3>Notes</h3><ul>{notes}</ul>")
    return f'<section id="validation"><h2>Validation</h2>{"".join(parts)}</section>'


def _write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_validation_html(
    report: ValidationReport, path: str | Path, extra_sections: Mapping[str, str] | None = None
) -> Path:
    """Write a self-contained validation page (plotly.js inlined) and return its path.

    Parameters
    ----------
    report
        What `quantforge.experiment.validation.run_validation` returned.
    path
        The HTML file to write.
    extra_sections
        Optional heading -> HTML sections appended after the validation section.
    """
    template = Template(
        resources.files("quantforge.report").joinpath("_templates/page.html").read_text("utf-8")
    )
    sections = [validation_section(report)]
    for heading, body in (extra_sections or {}).items():
        sections.append(f"<section><h2>{html.escape(heading)}</h2>{body}</section>")
    text = template.substitute(
        title=html.escape(f"Validation: {report.experiment}"),
        subtitle=html.escape(f"{report.strategy} on {report.symbol}, ranked by {report.metric}"),
        version=html.escape(__version__),
        plotlyjs=get_plotlyjs().replace("</script>", "<\\/script>"),
        body="\n".join(sections),
    )
    written = _write_atomic(Path(path), text)
    log.info("wrote %s", written)
    return written
