"""Performance metrics of a backtest: pure, vectorised NumPy functions, no I/O, no state.

Every formula, convention and edge case used here is specified in ``docs/metrics.md``; the
golden tests hold the figures to quantstats and empyrical where their conventions match ours.

Conventions in one breath: per-bar simple returns; periods per year from the bar interval and
the market calendar (`periods_per_year`), overridable; geometric CAGR over ``n_returns /
periods_per_year`` years; sample standard deviation (``ddof=1``); per-bar risk-free rate
``(1 + rf) ** (1 / periods_per_year) - 1``; a ratio over a zero *dispersion* is ``nan``, a ratio
over a zero *loss* (profit factor, payoff ratio, Calmar, Sortino) is ``inf`` when its numerator
is positive and ``nan`` when it is zero.
"""

from __future__ import annotations

import difflib
import logging
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from quantforge._typing import BoolArray, FloatArray, IntArray
from quantforge.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
WEEK_MS: Final = 7 * DAY_MS
#: length of a regular US equity session (09:30-16:00), in milliseconds
EQUITY_SESSION_MS: Final = 23_400_000
CRYPTO_DAYS_PER_YEAR: Final = 365
EQUITY_SESSIONS_PER_YEAR: Final = 252
EQUITY_WEEKS_PER_YEAR: Final = 52
CALENDARS: Final = ("crypto", "equity")
#: left-tail probability of value at risk, CVaR and the tail ratio (95 % confidence)
TAIL_PROBABILITY: Final = 0.05
#: a sample standard deviation at or below ``RTOL * max|x| + ATOL`` counts as exactly zero: a
#: constant series has a rounding-noise deviation of ~1e-16 times its level, and equity that
#: jitters in its last digit gives returns of ~1e-16; neither may yield a Sharpe of 1e14.
#: (1e-12 per bar is an annual volatility under 1e-8 even for 1-second bars.)
ZERO_DISPERSION_RTOL: Final = 1e-12
ZERO_DISPERSION_ATOL: Final = 1e-12
#: `rolling_sharpe` recomputes a window two-pass when its sum of squared deviations is below
#: this fraction of the sum of squares (about the series mean) of the blocks it spans
ROLLING_RECOMPUTE_RATIO: Final = 1e-3
_ROLLING_RECOMPUTE_CHUNK: Final = 4_000_000  # values per batch of recomputed windows

#: every key `compute_metrics` returns, in this order
METRIC_NAMES: Final = (
    "n_bars",
    "final_equity",
    "total_return",
    "annual_return",
    "annual_return_arithmetic",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "pnl_to_max_drawdown",
    "max_drawdown",
    "max_drawdown_abs",
    "max_drawdown_duration_bars",
    "max_drawdown_duration_days",
    "ulcer_index",
    "skew",
    "kurtosis",
    "tail_ratio",
    "value_at_risk",
    "cvar",
    "probabilistic_sharpe_ratio",
    "exposure",
    "turnover",
    "turnover_annual",
    "n_trades",
    "n_wins",
    "n_losses",
    "win_rate",
    "gross_profit",
    "gross_loss",
    "profit_factor",
    "avg_win",
    "avg_loss",
    "payoff_ratio",
    "expectancy",
    "avg_trade_return",
    "best_trade",
    "worst_trade",
    "sqn",
    "avg_holding_bars",
    "longest_holding_bars",
    "max_consecutive_wins",
    "max_consecutive_losses",
)

_NAN: Final = math.nan
_INF: Final = math.inf


@dataclass(frozen=True, slots=True, eq=False)
class MonthlyReturns:
    """Calendar-month and calendar-year returns of an equity curve (UTC).

    Attributes
    ----------
    years : IntArray
        Calendar years covered, ascending, shape ``(n_years,)``.
    table : FloatArray
        Shape ``(n_years, 12)``; ``table[i, m - 1]`` is the return of month ``m`` of
        ``years[i]``; ``nan`` for a month without any bar.
    annual : FloatArray
        Shape ``(n_years,)``; the return of each calendar year (compounded months).
    """

    years: IntArray
    table: FloatArray
    annual: FloatArray


def periods_per_year(interval_ms: int, calendar: str = "crypto") -> float:
    """Return how many bars of ``interval_ms`` make one year on a market's calendar.

    ``crypto`` trades 24/7/365: ``365 * 86_400_000 / interval_ms``. ``equity`` trades 252
    regular 6.5-hour sessions a year: intraday bars give ``252 * ceil(6.5 h / interval)`` (a
    1 h bar grid has 7 bars a session, the last one short), whole weeks give
    ``52 / weeks`` and other intervals of a day or more give ``252 / days``.

    Parameters
    ----------
    interval_ms : int
        Bar length in milliseconds (see `quantforge.data.schema.interval_ms`).
    calendar : str
        ``"crypto"`` or ``"equity"``.

    Returns
    -------
    float
        Bars per year; pass it (or any number you prefer) to `compute_metrics`.

    Raises
    ------
    ConfigError
        If ``interval_ms`` is not a positive integer or the calendar is unknown.

    Examples
    --------
    >>> periods_per_year(3_600_000)
    8760.0
    >>> periods_per_year(300_000, "equity")
    19656.0
    """
    if isinstance(interval_ms, bool) or int(interval_ms) != interval_ms or interval_ms <= 0:
        msg = f"interval_ms must be a positive whole number of milliseconds, got {interval_ms!r}"
        raise ConfigError(msg)
    ms = int(interval_ms)
    if calendar == "crypto":
        return CRYPTO_DAYS_PER_YEAR * DAY_MS / ms
    if calendar == "equity":
        if ms < DAY_MS:
            return float(EQUITY_SESSIONS_PER_YEAR * math.ceil(EQUITY_SESSION_MS / ms))
        if ms % WEEK_MS == 0:
            return EQUITY_WEEKS_PER_YEAR / (ms // WEEK_MS)
        return EQUITY_SESSIONS_PER_YEAR * DAY_MS / ms
    close = difflib.get_close_matches(str(calendar), CALENDARS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    msg = f"unknown calendar {calendar!r}; use one of {', '.join(CALENDARS)}.{hint}"
    raise ConfigError(msg)


def returns_from_equity(equity: FloatArray) -> FloatArray:
    """Return the per-bar simple returns ``equity[i+1] / equity[i] - 1`` (length ``n - 1``).

    Once equity reaches zero or below (ruin) it is taken as 0 from that bar on: the ruin bar's
    return is -1 and later returns are 0 (no capital, no return).

    Parameters
    ----------
    equity : FloatArray
        Per-bar equity, first value = starting cash (> 0), all finite.

    Returns
    -------
    FloatArray
        Simple returns, one per bar after the first.

    Raises
    ------
    DataValidationError
        If equity is empty, not 1-D, non-finite or does not start positive.

    Examples
    --------
    >>> returns_from_equity(np.array([100.0, 110.0, 99.0])).round(6).tolist()
    [0.1, -0.1]
    """
    return _returns(_clean_equity(equity))


def drawdown_series(equity: FloatArray) -> FloatArray:
    """Return ``equity / running_peak - 1`` per bar: 0 at a new high, -0.25 when 25 % below it.

    Parameters
    ----------
    equity : FloatArray
        Per-bar equity, first value = starting cash (> 0), all finite.

    Returns
    -------
    FloatArray
        Same length as ``equity``, values in [-1, 0] (ruin floors equity at 0, see
        `returns_from_equity`).

    Raises
    ------
    DataValidationError
        If equity is empty, not 1-D, non-finite or does not start positive.

    Examples
    --------
    >>> drawdown_series(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
    [0.0, 0.0, -0.25, 0.0]
    """
    e = _clean_equity(equity)
    return e / np.maximum.accumulate(e) - 1.0


def rolling_sharpe(returns: FloatArray, window: int, periods_per_year: float) -> FloatArray:
    """Return the annualised Sharpe ratio of each trailing ``window`` of returns.

    ``mean / std(ddof=1) * sqrt(periods_per_year)`` over ``returns[i - window + 1 : i + 1]``;
    pass excess returns to account for a risk-free rate. Runs in O(n) whatever the window.

    Parameters
    ----------
    returns : FloatArray
        Per-bar returns (e.g. from `returns_from_equity`), all finite.
    window : int
        Bars per window, at least 2.
    periods_per_year : float
        Annualisation factor (see `periods_per_year`).

    Returns
    -------
    FloatArray
        Same length as ``returns``; ``nan`` for the first ``window - 1`` bars and for
        windows whose returns do not vary (zero dispersion, see ``docs/metrics.md``).

    Raises
    ------
    ConfigError
        If ``window < 2`` or ``periods_per_year`` is not positive and finite.
    DataValidationError
        If returns are not 1-D or not finite.

    Examples
    --------
    >>> rolling_sharpe(np.array([0.01, 0.03, -0.01, 0.02]), 3, 1.0).round(4).tolist()
    [nan, nan, 0.5, 0.6405]
    """
    if isinstance(window, bool) or int(window) != window or window < 2:
        msg = f"rolling_sharpe window must be an integer >= 2, got {window!r}"
        raise ConfigError(msg)
    w = int(window)
    ppy = _positive_finite("periods_per_year", periods_per_year)
    r = _finite_1d("returns", returns)
    n = r.size
    out = np.full(n, _NAN)
    if n < w:
        return out
    # Centre on the global mean, then take window sums from prefix sums restarted every
    # `w` bars: each term then stays of window size, so rounding does not grow with n.
    centre = float(r.mean())
    x = r - centre
    xx = x * x
    sum_x = _window_sums(x, w)
    sum_xx = _window_sums(xx, w)
    mean = sum_x / w
    ssd = np.maximum(sum_xx - sum_x * mean, 0.0)  # sum of squared deviations
    mean += centre
    # A window of identical values has no dispersion: found exactly, not through ssd.
    changed = np.empty(n, dtype=np.bool_)
    changed[0] = True
    changed[1:] = r[1:] != r[:-1]
    last_change = np.maximum.accumulate(np.where(changed, np.arange(n), 0))
    zero = last_change[w - 1 :] <= np.arange(n - w + 1)
    # Running sums carry an error of a few ulps of the squares in the two blocks a window
    # spans; where the window's own ssd is small against them, recompute it two-pass.
    block_ss = np.add.reduceat(xx, np.arange(0, n, w))
    block = np.arange(w - 1, n) // w
    span_ss = block_ss[block] + np.where(block > 0, block_ss[block - 1], 0.0)
    redo = np.flatnonzero(~zero & (ssd <= ROLLING_RECOMPUTE_RATIO * span_ss))
    std = np.sqrt(ssd / (w - 1))
    zero |= std <= ZERO_DISPERSION_ATOL  # well-conditioned windows: only the absolute floor
    if redo.size:
        windows = np.lib.stride_tricks.sliding_window_view(r, w)
        step = max(1, _ROLLING_RECOMPUTE_CHUNK // w)
        for lo in range(0, redo.size, step):
            sel = redo[lo : lo + step]
            win = windows[sel]
            mean[sel] = win.mean(axis=1)
            std[sel] = win.std(axis=1, ddof=1)
            limit = ZERO_DISPERSION_RTOL * np.abs(win).max(axis=1) + ZERO_DISPERSION_ATOL
            zero[sel] = std[sel] <= limit
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / std * math.sqrt(ppy)
    out[w - 1 :] = np.where(zero, _NAN, sharpe)
    return out


def monthly_returns(timestamps_ms: IntArray, equity: FloatArray) -> MonthlyReturns:
    """Return the calendar-month and calendar-year returns (UTC) of an equity curve.

    A bar belongs to the month of its timestamp (its ``open_time``). A month's return is the
    equity of its last bar over the equity of the last bar of the previous month that has
    bars (for the first month: over ``equity[0]``, the starting cash), minus 1; years alike.
    So compounding every month (or year) gives the total return.

    Parameters
    ----------
    timestamps_ms : IntArray
        Bar times, int64 milliseconds since the epoch (UTC), non-decreasing.
    equity : FloatArray
        Per-bar equity, same length, first value = starting cash.

    Returns
    -------
    MonthlyReturns
        ``years``, the ``(n_years, 12)`` ``table`` (``nan`` for months without bars) and
        ``annual``.

    Raises
    ------
    DataValidationError
        On length mismatch, unsorted timestamps or invalid equity.

    Examples
    --------
    >>> ts = np.array([1_704_067_200_000, 1_706_745_600_000])  # 2024-01-01, 2024-02-01
    >>> m = monthly_returns(ts, np.array([100.0, 110.0]))
    >>> m.table[0, :3].round(6).tolist()
    [0.0, 0.1, nan]
    """
    e = _clean_equity(equity)
    ts = np.asarray(timestamps_ms)
    if ts.ndim != 1 or ts.size != e.size:
        msg = (
            f"timestamps_ms has shape {ts.shape} but equity has {e.size} values; pass one "
            "timestamp per equity value"
        )
        raise DataValidationError(msg)
    if not np.issubdtype(ts.dtype, np.integer):
        msg = f"timestamps_ms must be integer milliseconds since the epoch, got dtype {ts.dtype}"
        raise DataValidationError(msg)
    ts = ts.astype(np.int64, copy=False)
    back = np.flatnonzero(ts[1:] < ts[:-1])
    if back.size:
        i = int(back[0]) + 1
        msg = (
            f"timestamps_ms must be non-decreasing; index {i} ({int(ts[i])}) is before index "
            f"{i - 1} ({int(ts[i - 1])}); sort the bars by open_time first"
        )
        raise DataValidationError(msg)
    month_index = ts.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    first_year = 1970 + int(month_index[0] // 12)
    n_years = 1970 + int(month_index[-1] // 12) - first_year + 1
    years = np.arange(first_year, first_year + n_years, dtype=np.int64)

    def period_returns(period: IntArray) -> tuple[IntArray, FloatArray]:
        # last bar of each period present; its return is relative to the previous one's
        last = np.append(np.flatnonzero(period[1:] != period[:-1]), period.size - 1)
        end_equity = e[last]
        start_equity = np.concatenate(([e[0]], end_equity[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ret = np.where(start_equity > 0.0, end_equity / start_equity - 1.0, 0.0)
        return period[last], ret

    months, month_ret = period_returns(month_index)
    table = np.full((n_years, 12), _NAN)
    table[months // 12 + 1970 - first_year, months % 12] = month_ret
    year_ids, year_ret = period_returns(month_index // 12)
    annual = np.full(n_years, _NAN)
    annual[year_ids + 1970 - first_year] = year_ret
    return MonthlyReturns(years=years, table=table, annual=annual)


def compute_metrics(
    equity: FloatArray,
    *,
    periods_per_year: float,
    trade_pnl: FloatArray,
    trade_returns: FloatArray,
    trade_bars_held: IntArray,
    exposure: FloatArray,
    bar_seconds: float,
    risk_free_rate: float = 0.0,
    fill_notional: FloatArray | None = None,
) -> dict[str, float]:
    """Return every performance metric of a backtest as a flat ``name -> float`` dict.

    Formulas, conventions and edge cases are specified in ``docs/metrics.md``. A metric that
    is not defined for the input (e.g. win rate without trades) is ``nan``; counts and
    streaks are 0 then. Turnover needs the traded notional of every fill, which only the
    engine knows: without ``fill_notional`` the two turnover metrics are ``nan``.

    Parameters
    ----------
    equity : FloatArray
        Per-bar equity curve, first value = starting cash (> 0), all finite.
    periods_per_year : float
        Bars per year used to annualise (see `periods_per_year`).
    trade_pnl : FloatArray
        Net profit of each round trip in currency, in the order trades closed.
    trade_returns : FloatArray
        Net return of each round trip (fraction of the capital committed), same order.
    trade_bars_held : IntArray
        Bars each round trip was open, same order.
    exposure : FloatArray
        Per bar: fraction of equity in positions (or 0/1 in the market); shorts may be
        negative, gross exposure ``|x|`` is averaged. Same length as ``equity``.
    bar_seconds : float
        Bar length in seconds, to turn drawdown durations into days.
    risk_free_rate : float
        Annual risk-free rate (0.04 = 4 %), compounded down to a per-bar rate.
    fill_notional : FloatArray or None
        Traded notional ``qty * price`` of every fill, in execution order (the sign is
        ignored); an empty array when nothing traded. None: turnover unknown (``nan``).

    Returns
    -------
    dict[str, float]
        Keys `METRIC_NAMES`, in that order.

    Raises
    ------
    ConfigError
        If ``periods_per_year`` or ``bar_seconds`` is not positive and finite, or the
        risk-free rate is not finite and above -1.
    DataValidationError
        If an array is not 1-D or finite, lengths disagree, or equity does not start positive.

    Examples
    --------
    >>> m = compute_metrics(
    ...     np.array([100.0, 110.0, 99.0, 121.0]), periods_per_year=3.0,
    ...     trade_pnl=np.array([10.0, -11.0, 22.0]), trade_returns=np.array([0.1, -0.1, 0.2]),
    ...     trade_bars_held=np.array([1, 1, 1]), exposure=np.array([0.0, 1.0, 1.0, 1.0]),
    ...     bar_seconds=86_400.0)
    >>> round(m["total_return"], 6), round(m["max_drawdown"], 6), m["win_rate"]
    (0.21, 0.1, 0.6666666666666666)
    """
    ppy, bar_s, rf = _checked_clock(periods_per_year, bar_seconds, risk_free_rate)
    e = _clean_equity(equity)
    gross = np.abs(_finite_1d("exposure", exposure))
    if gross.size != e.size:
        msg = (
            f"exposure has {gross.size} values but equity has {e.size}; pass one exposure "
            "value per bar"
        )
        raise DataValidationError(msg)
    pnl = _finite_1d("trade_pnl", trade_pnl)
    trade_ret = _finite_1d("trade_returns", trade_returns)
    held = _finite_1d("trade_bars_held", trade_bars_held)
    if not pnl.size == trade_ret.size == held.size:
        msg = (
            f"trade arrays disagree in length: trade_pnl {pnl.size}, trade_returns "
            f"{trade_ret.size}, trade_bars_held {held.size}; pass one entry per round trip"
        )
        raise DataValidationError(msg)

    traded = None if fill_notional is None else _finite_1d("fill_notional", fill_notional)

    r = _returns(e)
    out: dict[str, float] = {"n_bars": float(e.size), "final_equity": float(e[-1])}
    out.update(_return_metrics(e, r, ppy, rf))
    out.update(_drawdown_metrics(e, bar_s))
    out["calmar"] = _loss_ratio(out["annual_return"], out["max_drawdown"])
    # in units of the starting cash, so the zero rule does not depend on the currency
    out["pnl_to_max_drawdown"] = _loss_ratio(
        out["total_return"], out["max_drawdown_abs"] / float(e[0])
    )
    out["exposure"] = float(gross.mean())
    out.update(_turnover_metrics(e, traded, ppy))
    out.update(_trade_metrics(pnl, trade_ret, held))
    return {name: out[name] for name in METRIC_NAMES}


# --- internals ------------------------------------------------------------------------------


def _checked_clock(
    periods_per_year: float, bar_seconds: float, risk_free_rate: float
) -> tuple[float, float, float]:
    """Return (periods per year, bar seconds, annual risk-free rate), checked, as floats."""
    ppy = _positive_finite("periods_per_year", periods_per_year)
    bar_s = _positive_finite("bar_seconds", bar_seconds)
    rf = float(risk_free_rate)
    if not math.isfinite(rf) or rf <= -1.0:
        msg = f"risk_free_rate must be a finite annual rate above -1 (0.04 = 4 %), got {rf!r}"
        raise ConfigError(msg)
    return ppy, bar_s, rf


def _positive_finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        msg = f"{name} must be a positive finite number, got {value!r}"
        raise ConfigError(msg)
    return v


def _finite_1d(name: str, values: FloatArray | IntArray) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        msg = f"{name} must be a 1-D array, got shape {arr.shape}"
        raise DataValidationError(msg)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        msg = (
            f"{name} has {int(bad.sum())} non-finite values (first at index {i}: {arr[i]}); "
            "metrics need finite numbers, fix the producer of this array"
        )
        raise DataValidationError(msg)
    return arr


def _clean_equity(equity: FloatArray) -> FloatArray:
    e = _finite_1d("equity", equity)
    if e.size == 0:
        msg = "equity is empty; pass at least one value (the starting cash)"
        raise DataValidationError(msg)
    if e[0] <= 0.0:
        msg = f"equity must start positive (it is the starting cash), got {e[0]}"
        raise DataValidationError(msg)
    ruined = e <= 0.0
    if ruined.any():
        k = int(np.argmax(ruined))
        log.debug("equity reaches %s at bar %d: ruin, equity taken as 0 from there", e[k], k)
        e = e.copy()
        e[k:] = 0.0
    return e


def _returns(e: FloatArray) -> FloatArray:
    prev = e[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / prev - 1.0
    r[prev == 0.0] = 0.0  # after ruin: no capital, no return
    return r


def _is_zero_dispersion(std: float, x: FloatArray) -> bool:
    return std <= ZERO_DISPERSION_RTOL * float(np.max(np.abs(x))) + ZERO_DISPERSION_ATOL


def _loss_ratio(numerator: float, denominator: float, atol: float = ZERO_DISPERSION_ATOL) -> float:
    """Ratio over a loss-like quantity >= 0; a loss <= atol is none: +inf, or nan if the
    numerator is not above atol either (both rounding noise: nothing happened)."""
    if math.isnan(numerator) or math.isnan(denominator):
        return _NAN
    if denominator > atol:
        return numerator / denominator
    return _INF if numerator > atol else _NAN


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _window_sums(x: FloatArray, w: int) -> FloatArray:
    # Sum of x[i-w+1 .. i] for i >= w-1 from prefix sums that restart every w bars: the
    # window ending at i is the head of i's block plus the tail of the block before it.
    n = x.size
    n_blocks = -(-n // w)
    padded = np.zeros(n_blocks * w)
    padded[:n] = x
    local = np.cumsum(padded.reshape(n_blocks, w), axis=1)
    totals = local[:, -1]
    prefix = local.ravel()[:n]
    sums = np.empty(n - w + 1)
    sums[0] = totals[0]
    # for i >= w, the block before i's is block (i - w) // w
    sums[1:] = prefix[w:] + (np.repeat(totals, w)[: n - w] - prefix[:-w])
    return sums


def _sample_moments(x: FloatArray, std: float) -> tuple[float, float]:
    """Bias-corrected sample skewness G1 and excess kurtosis G2 (pandas/Excel estimators)."""
    n = x.size
    d = x - x.mean()
    d2 = d * d
    m2 = float(np.mean(d2))
    skew = _NAN
    kurt = _NAN
    if n >= 3 and m2 > 0.0 and not _is_zero_dispersion(std, x):
        g1 = float(np.mean(d2 * d)) / m2**1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
        if n >= 4:
            g2 = float(np.mean(d2 * d2)) / m2**2 - 3.0
            kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    return skew, kurt


def _return_metrics(e: FloatArray, r: FloatArray, ppy: float, rf: float) -> dict[str, float]:
    n = r.size
    growth = float(e[-1] / e[0])
    res: dict[str, float] = {"total_return": growth - 1.0}
    nan_keys = (
        "annual_return",
        "annual_return_arithmetic",
        "annual_volatility",
        "sharpe",
        "sortino",
        "skew",
        "kurtosis",
        "tail_ratio",
        "value_at_risk",
        "cvar",
        "probabilistic_sharpe_ratio",
    )
    res.update(dict.fromkeys(nan_keys, _NAN))
    if n == 0:
        return res
    with np.errstate(over="ignore"):
        res["annual_return"] = float(np.power(growth, ppy / n)) - 1.0
    mean = float(r.mean())
    res["annual_return_arithmetic"] = mean * ppy
    rf_bar = (1.0 + rf) ** (1.0 / ppy) - 1.0
    excess = r - rf_bar
    mean_excess = float(excess.mean())
    below = np.minimum(excess, 0.0)
    downside = math.sqrt(float(np.mean(below * below)))
    res["sortino"] = _loss_ratio(mean_excess, downside) * math.sqrt(ppy)
    q_low, q_high = (float(q) for q in np.quantile(r, [TAIL_PROBABILITY, 1 - TAIL_PROBABILITY]))
    res["value_at_risk"] = q_low
    res["cvar"] = float(r[r <= q_low].mean())
    res["tail_ratio"] = abs(q_high) / abs(q_low) if q_low != 0.0 else _NAN
    if n < 2:
        return res
    std = float(r.std(ddof=1))
    if _is_zero_dispersion(std, r):
        res["annual_volatility"] = 0.0
        return res
    res["annual_volatility"] = std * math.sqrt(ppy)
    sharpe_bar = mean_excess / std
    res["sharpe"] = sharpe_bar * math.sqrt(ppy)
    skew, kurt = _sample_moments(r, std)
    res["skew"], res["kurtosis"] = skew, kurt
    if not math.isnan(kurt):
        # Bailey & Lopez de Prado (2012) use raw kurtosis g4 = excess + 3: (g4 - 1) / 4
        radicand = 1.0 - skew * sharpe_bar + (kurt + 2.0) / 4.0 * sharpe_bar**2
        if radicand > 0.0:
            res["probabilistic_sharpe_ratio"] = _normal_cdf(
                sharpe_bar * math.sqrt(n - 1) / math.sqrt(radicand)
            )
    return res


def _drawdown_metrics(e: FloatArray, bar_s: float) -> dict[str, float]:
    peak = np.maximum.accumulate(e)
    dd = e / peak - 1.0
    idx = np.arange(e.size)
    # bars since the last bar at the running peak; its maximum is the longest underwater run
    last_peak = np.maximum.accumulate(np.where(e >= peak, idx, 0))
    duration = int(np.max(idx - last_peak))
    return {
        "max_drawdown": max(0.0, -float(dd.min())),
        "max_drawdown_abs": float(np.max(peak - e)),
        "max_drawdown_duration_bars": float(duration),
        "max_drawdown_duration_days": duration * bar_s / 86_400.0,
        "ulcer_index": math.sqrt(float(np.mean(dd * dd))),
    }


def _turnover_metrics(e: FloatArray, traded: FloatArray | None, ppy: float) -> dict[str, float]:
    # two-sided: buys and sells both count; over the mean equity of all N values (> 0, since
    # E_0 > 0 and ruin floors at 0); annualised over the same Y = n / P years as CAGR
    if traded is None:
        return {"turnover": _NAN, "turnover_annual": _NAN}
    turnover = float(np.sum(np.abs(traded))) / float(e.mean())
    n = e.size - 1
    return {"turnover": turnover, "turnover_annual": turnover * ppy / n if n else _NAN}


def _longest_run(mask: BoolArray) -> int:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    if starts.size == 0:
        return 0
    return int(np.max(np.flatnonzero(edges == -1) - starts))


def _trade_metrics(pnl: FloatArray, trade_ret: FloatArray, held: FloatArray) -> dict[str, float]:
    n = pnl.size
    wins = pnl > 0.0
    losses = pnl < 0.0
    n_wins = int(wins.sum())
    n_losses = int(losses.sum())
    gross_profit = float(pnl[wins].sum())
    gross_loss = -float(pnl[losses].sum())
    res: dict[str, float] = {
        "n_trades": float(n),
        "n_wins": float(n_wins),
        "n_losses": float(n_losses),
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        # trade P&L is classified by its exact sign, so its ratios use exact zeros too
        "profit_factor": _loss_ratio(gross_profit, gross_loss, atol=0.0),
        "avg_win": gross_profit / n_wins if n_wins else _NAN,
        "avg_loss": -gross_loss / n_losses if n_losses else _NAN,
        "max_consecutive_wins": float(_longest_run(wins)),
        "max_consecutive_losses": float(_longest_run(losses)),
    }
    if n_wins == 0:
        res["payoff_ratio"] = _NAN
    else:
        avg_loss = -res["avg_loss"] if n_losses else 0.0
        res["payoff_ratio"] = _loss_ratio(res["avg_win"], avg_loss, atol=0.0)
    if n == 0:
        undefined = ("win_rate", "expectancy", "avg_trade_return", "best_trade", "worst_trade")
        res.update(dict.fromkeys(undefined, _NAN))
        res.update(sqn=_NAN, avg_holding_bars=_NAN, longest_holding_bars=_NAN)
        return res
    res["win_rate"] = n_wins / n
    res["expectancy"] = float(pnl.mean())
    res["avg_trade_return"] = float(trade_ret.mean())
    res["best_trade"] = float(trade_ret.max())
    res["worst_trade"] = float(trade_ret.min())
    res["avg_holding_bars"] = float(held.mean())
    res["longest_holding_bars"] = float(held.max())
    res["sqn"] = _NAN
    if n >= 2:
        std = float(trade_ret.std(ddof=1))
        if not _is_zero_dispersion(std, trade_ret):
            res["sqn"] = math.sqrt(n) * float(trade_ret.mean()) / std
    return res
