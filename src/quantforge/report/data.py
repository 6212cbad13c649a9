"""What a report renders: one run's stored results, gathered from a result or from the store.

A report never runs a simulation. `RunView` holds what a backtest already produced (metrics,
equity curve, trades) plus, optionally, the bars it ran on (for the price chart and the
buy-and-hold line), the run's parameters and the experiment's configuration and fingerprint.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from quantforge._typing import FloatArray, IntArray
from quantforge.data.schema import BAR_TIME
from quantforge.engine.metrics import periods_per_year
from quantforge.engine.result import BacktestResult
from quantforge.errors import ConfigError, DataValidationError, QuantforgeError
from quantforge.store import ResultStore

log = logging.getLogger(__name__)

__all__ = [
    "RunView",
    "load_bars_for_run",
    "run_view_from_result",
    "run_view_from_store",
    "thin_indices",
]


@dataclass(frozen=True, slots=True)
class RunView:
    """One run's stored results, ready to render.

    Attributes
    ----------
    title
        Heading of the report (strategy, symbol, run id …).
    metrics
        Metric name to value (``inf``/``nan`` allowed).
    equity
        Per-bar frame with at least ``open_time`` and ``equity``.
    trades
        One row per round trip (``entry_time``, ``exit_time``, ``entry_price``, ``exit_price``,
        ``pnl``, … as in `BacktestResult.trades`); may be empty.
    bars
        The OHLCV bars the run used, or None when they are not available (no price chart
        and no buy-and-hold line then).
    params
        Strategy parameters of the run.
    config
        The experiment configuration (JSON-like), or empty.
    fingerprint
        Provenance lines shown in the report: data fingerprint, code version, git revision,
        run key … (label to value).
    calendar
        ``"crypto"`` (24/7) or ``"equity"``: annualisation of the rolling views.
    """

    title: str
    metrics: Mapping[str, float | int | None]
    equity: pl.DataFrame
    trades: pl.DataFrame
    bars: pl.DataFrame | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: Mapping[str, str] = field(default_factory=dict)
    calendar: str = "crypto"

    def __post_init__(self) -> None:
        """Check the equity frame has what every view needs."""
        missing = [c for c in (BAR_TIME, "equity") if c not in self.equity.columns]
        if missing:
            raise DataValidationError(
                f"report {self.title!r}: equity frame lacks column(s) {missing}; "
                "pass BacktestResult.equity or the stored equity artifact"
            )
        if self.equity.height == 0:
            raise DataValidationError(f"report {self.title!r}: the equity curve is empty")

    # -- arrays the views share -------------------------------------------------------------

    @property
    def time_ms(self) -> IntArray:
        """Bar times as int64 milliseconds since the epoch (UTC)."""
        return _to_ms(self.equity[BAR_TIME])

    @property
    def equity_values(self) -> FloatArray:
        """Per-bar equity as float64."""
        return self.equity["equity"].cast(pl.Float64).to_numpy()

    @property
    def periods_per_year(self) -> float:
        """Bars per year, from the median bar spacing and the calendar."""
        t = self.time_ms
        bar_ms = int(np.median(np.diff(t))) if t.size > 1 else 86_400_000
        return periods_per_year(max(bar_ms, 1), self.calendar)

    def metric(self, name: str) -> float:
        """Return a metric as float (``nan`` when missing or None)."""
        value = self.metrics.get(name)
        return math.nan if value is None else float(value)

    def buy_and_hold(self) -> FloatArray | None:
        """Return starting equity invested in the asset at bar 0's close, per bar (or None).

        None when no bars are attached or they do not cover the equity curve's times.
        """
        if self.bars is None or self.bars.height == 0:
            return None
        bars = self.bars.select(pl.col(BAR_TIME), pl.col("close").cast(pl.Float64))
        bars = bars.with_columns(pl.Series(BAR_TIME, _to_ms(bars[BAR_TIME])))
        times = pl.DataFrame({BAR_TIME: self.time_ms})
        joined = times.join(bars, on=BAR_TIME, how="left")
        close = joined["close"].to_numpy()
        if np.isnan(close).any() or close[0] <= 0:
            log.info("bars do not cover the equity curve of %s; no buy-and-hold line", self.title)
            return None
        out: FloatArray = self.equity_values[0] * close / close[0]
        return out


def _to_ms(series: pl.Series) -> IntArray:
    if series.dtype == pl.Int64:
        return series.to_numpy()
    if isinstance(series.dtype, pl.Datetime):
        out: IntArray = series.dt.cast_time_unit("ms").cast(pl.Int64).to_numpy()
        return out
    raise DataValidationError(
        f"column {series.name!r} must be a UTC Datetime or int64 milliseconds; got {series.dtype}"
    )


def run_view_from_result(
    result: BacktestResult,
    *,
    title: str = "backtest",
    bars: pl.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    fingerprint: Mapping[str, str] | None = None,
    calendar: str = "crypto",
) -> RunView:
    """Wrap a `BacktestResult` (and optionally the bars it ran on) for the report functions.

    Parameters
    ----------
    result
        What `quantforge.backtest` returned.
    title
        Report heading.
    bars
        The bars passed to the backtest (enables the price chart and buy-and-hold).
    params, config, fingerprint
        Shown in the report's configuration section.
    calendar
        ``"crypto"`` or ``"equity"`` (annualisation of rolling views).

    Returns
    -------
    RunView

    Examples
    --------
    >>> view = run_view_from_result(result, title="ma_cross BTCUSDT", bars=bars)  # doctest: +SKIP
    """
    return RunView(
        title=title,
        metrics=dict(result.metrics),
        equity=result.equity,
        trades=result.trades,
        bars=bars,
        params=dict(params or {}),
        config=dict(config or {}),
        fingerprint=dict(fingerprint or {}),
        calendar=calendar,
    )


def load_bars_for_run(
    config: Mapping[str, Any],
    symbol: str | None,
    *,
    catalog: str | None = None,
    default_catalog: str | None = None,
) -> pl.DataFrame | None:
    """Read the bars an experiment ran on from its catalog, or return None if they are not there.

    Reading market data is not a simulation: the report only draws the prices. A missing
    catalog or dataset is logged and gives None (the report then leaves the price chart out).

    Parameters
    ----------
    config
        The stored experiment configuration (its ``data`` section names catalog, exchange,
        interval, start and end).
    symbol
        The run's symbol (default: the first of ``data.symbols``).
    catalog
        Catalog location overriding ``data.catalog`` (e.g. the CLI's ``--catalog``).
    default_catalog
        Catalog used when the config names none (the settings' catalog, as the experiment
        runner does).
    """
    from quantforge.data.catalog import Catalog

    data = config.get("data")
    if not isinstance(data, Mapping):
        return None
    root = catalog or data.get("catalog") or default_catalog
    symbols = data.get("symbols") or []
    sym = symbol or (symbols[0] if symbols else None)
    interval = data.get("interval")
    if root is None or sym is None or interval is None:
        return None
    try:
        bars = Catalog(str(root)).read_bars(
            str(sym),
            str(interval),
            exchange=str(data.get("exchange", "binance")),
            start=data.get("start"),
            end=data.get("end"),
        )
    except (QuantforgeError, OSError) as e:
        log.warning("no price chart: cannot read %s %s from %s: %s", sym, interval, root, e)
        return None
    return bars if bars.height else None


def run_view_from_store(
    store: ResultStore,
    run_id: int,
    *,
    bars: pl.DataFrame | None = None,
    catalog: str | None = None,
    default_catalog: str | None = None,
    load_bars: bool = True,
    calendar: str = "crypto",
) -> RunView:
    """Gather a stored run (metrics, equity and trades artifacts, experiment config).

    Parameters
    ----------
    store
        The results store.
    run_id
        The run.
    bars
        Bars to draw; default: read them from the experiment's catalog when ``load_bars``.
    catalog
        Catalog location overriding the experiment's ``data.catalog``.
    default_catalog
        Catalog used when the experiment names none.
    load_bars
        Try the catalog when ``bars`` is None.
    calendar
        ``"crypto"`` or ``"equity"``.

    Returns
    -------
    RunView

    Raises
    ------
    NotFoundError
        Unknown run id, or the run has no equity artifact (nothing to draw).
    """
    run = store.get_run(run_id)
    if run.status != "ok":
        raise ConfigError(
            f"run {run_id} failed ({run.error or 'no message'}); there is nothing to report"
        )
    equity = store.load_artifact(run_id, "equity")
    trades = store.load_artifact(run_id, "trades") if "trades" in run.artifacts else pl.DataFrame()
    experiment = store.get_experiment(run.experiment_id)
    config = dict(experiment.get("config") or {})
    if bars is None and load_bars:
        bars = load_bars_for_run(
            config, run.symbol, catalog=catalog, default_catalog=default_catalog
        )
    fingerprint = {
        "run id": str(run.id),
        "run key": run.run_key,
        "experiment": f"{experiment['id']} ({experiment['name']})",
        "data fingerprint": str(experiment.get("data_fingerprint") or "—"),
        "code version": str(experiment.get("code_version") or "—"),
        "git revision": str(experiment.get("git_revision") or "—"),
    }
    title = f"run {run.id}: {run.strategy}" + (f" {run.symbol}" if run.symbol else "")
    return RunView(
        title=title,
        metrics=dict(run.metrics),
        equity=equity,
        trades=trades,
        bars=bars,
        params=dict(run.params),
        config=config,
        fingerprint=fingerprint,
        calendar=calendar,
    )


def thin_indices(y: FloatArray, max_points: int) -> IntArray:
    """Return indices that keep the first, last, min and max of each bucket, sorted.

    ``max_points // 4`` equal buckets of consecutive points; all indices when ``y`` has at most
    ``max_points`` values. Drawn at a resolution of one bucket per pixel column or finer, the
    kept points trace the same line as all of them (the envelope of every column is kept).
    NaNs never win a bucket's min or max.
    """
    n = y.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [edges[:-1], edges[1:] - 1]
    starts = edges[:-1]
    safe = np.where(np.isnan(y), np.nanmean(y) if np.isfinite(y).any() else 0.0, y)
    pairs = list(itertools.pairwise(edges.tolist()))
    keep.append(starts + np.array([np.argmin(safe[a:b]) for a, b in pairs]))
    keep.append(starts + np.array([np.argmax(safe[a:b]) for a, b in pairs]))
    out: IntArray = np.unique(np.concatenate(keep))
    return out
