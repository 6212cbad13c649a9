"""The metrics of `compute_metrics`, bit for bit, from one compiled pass over the equity curve.

Sweeps compute the metrics of thousands of runs; `compute_metrics` takes ~3 ms of NumPy calls
per 35k-bar curve (returns, moments, drawdowns, a quantile: a dozen temporary arrays). Here the
curve's reductions come from one compiled kernel (`_kernel_metrics.curve_stats_nb`) that
reproduces NumPy's arithmetic exactly (same element-wise operations, NumPy's pairwise summation,
exact order statistics), and this module turns them into metrics with the same scalar formulas,
line for line, as `engine.metrics`. Trade metrics (small arrays) reuse `engine.metrics` itself.

Inputs outside the kernel's domain (ruin, non-finite values, a single equity value) go to
`compute_metrics`, which handles or reports them. tests/parity/test_sweep_metrics_route.py holds
the two routes to identical floats on real data and on Hypothesis series.
"""

from __future__ import annotations

import math

import numpy as np

from quantforge._typing import FloatArray, IntArray
from quantforge.engine import _kernel_metrics as km
from quantforge.engine.metrics import (
    _NAN,
    METRIC_NAMES,
    TAIL_PROBABILITY,
    ZERO_DISPERSION_ATOL,
    ZERO_DISPERSION_RTOL,
    _checked_clock,
    _finite_1d,
    _loss_ratio,
    _normal_cdf,
    _trade_metrics,
    compute_metrics,
)

__all__ = ["lean_metrics"]


def _quantile_index(n: int, q: float) -> tuple[float, float, float]:
    # NumPy's linear method (_get_indexes/_get_gamma): virtual index (n - 1) * q; at or above
    # the last index both neighbours are the last value
    virtual = (n - 1) * q
    prev = math.floor(virtual)
    if virtual >= n - 1:
        return float(n - 1), float(n - 1), virtual + 1.0
    return float(prev), float(prev + 1), virtual - prev


def lean_metrics(
    equity: FloatArray,
    gross_value: FloatArray,
    *,
    periods_per_year: float,
    trade_pnl: FloatArray,
    trade_returns: FloatArray,
    trade_bars_held: IntArray,
    fill_qty: FloatArray,
    fill_price: FloatArray,
    bar_seconds: float,
    risk_free_rate: float = 0.0,
) -> dict[str, float]:
    """Return `compute_metrics` of a backtest, equal bit for bit, from one compiled pass.

    Parameters
    ----------
    equity : FloatArray
        Per-bar equity at each close, first value = starting cash.
    gross_value : FloatArray
        Per-bar value of the position(s); exposure is ``|gross_value| / equity``.
    periods_per_year, trade_pnl, trade_returns, trade_bars_held, bar_seconds, risk_free_rate
        As for `compute_metrics`.
    fill_qty, fill_price : FloatArray
        Quantity and price of every fill, in execution order (turnover).

    Returns
    -------
    dict[str, float]
        What ``compute_metrics(equity, exposure=where(equity > 0, |gross_value| / equity, 0),
        fill_notional=|fill_qty * fill_price|, ...)`` returns, in `METRIC_NAMES` order.

    Raises
    ------
    ConfigError, DataValidationError
        As `compute_metrics`.

    Examples
    --------
    >>> m = lean_metrics(
    ...     np.array([100.0, 110.0, 99.0, 121.0]), np.array([0.0, 110.0, 99.0, 121.0]),
    ...     periods_per_year=3.0, trade_pnl=np.array([21.0]), trade_returns=np.array([0.21]),
    ...     trade_bars_held=np.array([3]), fill_qty=np.array([1.0]),
    ...     fill_price=np.array([100.0]), bar_seconds=86_400.0)
    >>> round(m["total_return"], 6), round(m["max_drawdown"], 6), m["exposure"]
    (0.21, 0.1, 0.75)
    """
    ppy, bar_s, rf = _checked_clock(periods_per_year, bar_seconds, risk_free_rate)
    e = np.ascontiguousarray(equity, dtype=np.float64)
    g = np.ascontiguousarray(gross_value, dtype=np.float64)
    qty = np.ascontiguousarray(fill_qty, dtype=np.float64)
    price = np.ascontiguousarray(fill_price, dtype=np.float64)
    big_n = e.shape[0]
    ok = e.ndim == 1 and g.shape == e.shape and big_n >= 2 and qty.shape == price.shape
    stats = np.zeros(km.N_STATS)
    if ok:
        rf_bar = (1.0 + rf) ** (1.0 / ppy) - 1.0
        low = _quantile_index(big_n - 1, TAIL_PROBABILITY)
        high = _quantile_index(big_n - 1, 1 - TAIL_PROBABILITY)
        km.curve_stats_nb(e, g, qty, price, rf_bar, np.array([*low, *high]), stats)
        ok = stats[km.S_OK] == 1.0 and bool(np.isfinite(stats[km.S_SUM_NOTIONAL]))
    if not ok:
        return _numpy_route(
            e, g, ppy, trade_pnl, trade_returns, trade_bars_held, qty, price, bar_s, rf
        )
    # contiguous, as the full result's frames give them (NumPy sums strided arrays differently)
    pnl = _finite_1d("trade_pnl", np.ascontiguousarray(trade_pnl, dtype=np.float64))
    trade_ret = _finite_1d("trade_returns", np.ascontiguousarray(trade_returns, dtype=np.float64))
    held = _finite_1d("trade_bars_held", np.ascontiguousarray(trade_bars_held, dtype=np.int64))
    if not pnl.size == trade_ret.size == held.size:
        return _numpy_route(
            e, g, ppy, trade_pnl, trade_returns, trade_bars_held, qty, price, bar_s, rf
        )
    out: dict[str, float] = {"n_bars": float(big_n), "final_equity": float(e[-1])}
    out.update(_return_metrics(e, stats, ppy, rf_bar))
    # _drawdown_metrics
    duration = int(stats[km.S_DURATION])
    out["max_drawdown"] = max(0.0, -float(stats[km.S_MIN_DD]))
    out["max_drawdown_abs"] = float(stats[km.S_MAX_DD_ABS])
    out["max_drawdown_duration_bars"] = float(duration)
    out["max_drawdown_duration_days"] = duration * bar_s / 86_400.0
    out["ulcer_index"] = math.sqrt(float(stats[km.S_SUM_DD2] / big_n))
    out["calmar"] = _loss_ratio(out["annual_return"], out["max_drawdown"])
    out["pnl_to_max_drawdown"] = _loss_ratio(
        out["total_return"], out["max_drawdown_abs"] / float(e[0])
    )
    out["exposure"] = float(stats[km.S_SUM_X] / big_n)
    # _turnover_metrics
    turnover = float(stats[km.S_SUM_NOTIONAL]) / float(stats[km.S_SUM_E] / big_n)
    out["turnover"] = turnover
    out["turnover_annual"] = turnover * ppy / (big_n - 1)
    out.update(
        _lean_trade_metrics(pnl, trade_ret, held)
        if pnl.size
        else _trade_metrics(pnl, trade_ret, held)
    )
    return {name: out[name] for name in METRIC_NAMES}


def _lean_trade_metrics(
    pnl: FloatArray, trade_ret: FloatArray, held: FloatArray
) -> dict[str, float]:
    # engine.metrics._trade_metrics for n >= 1, the reductions taken from trade_stats_nb
    t = np.empty(km.N_TRADE_STATS)
    km.trade_stats_nb(pnl, trade_ret, held, t)
    n = pnl.size
    n_wins = int(t[km.T_N_WINS])
    n_losses = int(t[km.T_N_LOSSES])
    gross_profit = float(t[km.T_SUM_WINS])
    gross_loss = -float(t[km.T_SUM_LOSSES])
    res: dict[str, float] = {
        "n_trades": float(n),
        "n_wins": float(n_wins),
        "n_losses": float(n_losses),
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "profit_factor": _loss_ratio(gross_profit, gross_loss, atol=0.0),
        "avg_win": gross_profit / n_wins if n_wins else _NAN,
        "avg_loss": -gross_loss / n_losses if n_losses else _NAN,
        "max_consecutive_wins": float(int(t[km.T_WIN_RUN])),
        "max_consecutive_losses": float(int(t[km.T_LOSS_RUN])),
    }
    if n_wins == 0:
        res["payoff_ratio"] = _NAN
    else:
        avg_loss = -res["avg_loss"] if n_losses else 0.0
        res["payoff_ratio"] = _loss_ratio(res["avg_win"], avg_loss, atol=0.0)
    mean_ret = float(t[km.T_SUM_RET] / n)
    res["win_rate"] = n_wins / n
    res["expectancy"] = float(t[km.T_SUM_PNL] / n)
    res["avg_trade_return"] = mean_ret
    # NumPy's own reductions, as in compute_metrics: which of -0.0 and 0.0 a max returns is
    # NumPy's business (a compiled max picked the other zero on a flat trade)
    contiguous = np.ascontiguousarray(trade_ret, dtype=np.float64)
    res["best_trade"] = float(contiguous.max())
    res["worst_trade"] = float(contiguous.min())
    res["avg_holding_bars"] = float(t[km.T_SUM_HELD] / n)
    res["longest_holding_bars"] = float(t[km.T_MAX_HELD])
    res["sqn"] = _NAN
    if n >= 2:
        std = math.sqrt(float(t[km.T_SUM_RET_D2]) / (n - 1))
        limit = ZERO_DISPERSION_RTOL * float(t[km.T_MAX_ABS_RET]) + ZERO_DISPERSION_ATOL
        if not std <= limit:
            res["sqn"] = math.sqrt(n) * mean_ret / std
    return res


def _return_metrics(
    e: FloatArray,
    stats: FloatArray,
    ppy: float,
    rf_bar: float,
) -> dict[str, float]:
    # engine.metrics._return_metrics for n >= 1, the reductions taken from `stats`
    n = e.shape[0] - 1
    growth = float(e[-1] / e[0])
    res: dict[str, float] = {"total_return": growth - 1.0}
    with np.errstate(over="ignore"):
        res["annual_return"] = float(np.power(growth, ppy / n)) - 1.0
    mean = float(stats[km.S_SUM_R] / n)
    res["annual_return_arithmetic"] = mean * ppy
    mean_excess = float(stats[km.S_SUM_EX] / n)
    downside = math.sqrt(float(stats[km.S_SUM_BELOW2] / n))
    res["sortino"] = _loss_ratio(mean_excess, downside) * math.sqrt(ppy)
    q_low = float(stats[km.S_Q_LOW])
    q_high = float(stats[km.S_Q_HIGH])
    res["value_at_risk"] = q_low
    n_tail = int(stats[km.S_N_TAIL])
    res["cvar"] = float(stats[km.S_SUM_TAIL] / n_tail) if n_tail else _NAN
    res["tail_ratio"] = abs(q_high) / abs(q_low) if q_low != 0.0 else _NAN
    nan_keys = (
        "annual_volatility", "sharpe", "skew", "kurtosis", "probabilistic_sharpe_ratio",
    )  # fmt: skip
    res.update(dict.fromkeys(nan_keys, _NAN))
    if n < 2:
        return res
    sum_d2 = float(stats[km.S_SUM_D2])
    std = math.sqrt(sum_d2 / (n - 1))
    max_abs = float(stats[km.S_MAX_ABS_R])
    if std <= ZERO_DISPERSION_RTOL * max_abs + ZERO_DISPERSION_ATOL:
        res["annual_volatility"] = 0.0
        return res
    res["annual_volatility"] = std * math.sqrt(ppy)
    sharpe_bar = mean_excess / std
    res["sharpe"] = sharpe_bar * math.sqrt(ppy)
    # _sample_moments (dispersion is known not to be zero here)
    m2 = sum_d2 / n
    skew = kurt = _NAN
    if n >= 3 and m2 > 0.0:
        g1 = float(stats[km.S_SUM_D3] / n) / m2**1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
        if n >= 4:
            g2 = float(stats[km.S_SUM_D4] / n) / m2**2 - 3.0
            kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    res["skew"], res["kurtosis"] = skew, kurt
    if not math.isnan(kurt):
        radicand = 1.0 - skew * sharpe_bar + (kurt + 2.0) / 4.0 * sharpe_bar**2
        if radicand > 0.0:
            res["probabilistic_sharpe_ratio"] = _normal_cdf(
                sharpe_bar * math.sqrt(n - 1) / math.sqrt(radicand)
            )
    return res


def _numpy_route(
    e: FloatArray,
    g: FloatArray,
    ppy: float,
    trade_pnl: FloatArray,
    trade_returns: FloatArray,
    trade_bars_held: IntArray,
    qty: FloatArray,
    price: FloatArray,
    bar_s: float,
    rf: float,
) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(e > 0.0, np.abs(g) / e, 0.0)
    return compute_metrics(
        e,
        periods_per_year=ppy,
        trade_pnl=trade_pnl,
        trade_returns=trade_returns,
        trade_bars_held=trade_bars_held,
        exposure=exposure,
        bar_seconds=bar_s,
        risk_free_rate=rf,
        fill_notional=np.abs(qty * price),
    )
