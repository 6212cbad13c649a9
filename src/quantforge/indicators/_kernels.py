"""Compiled loops behind the indicator functions (Numba, ``@njit(cache=True)``).

Every kernel takes finite float64 arrays (the public wrappers validate, split the input at
non-finite values and check parameter ranges) and returns freshly allocated arrays with NaN
in the warm-up. Where TA-Lib has the indicator, the kernel follows the order of TA-Lib's
floating-point operations (seeding, Wilder smoothing, ``a - a / p + d``) so results agree to
the last few ulps; the reference named in each docstring is the TA-Lib function. TA-Lib's
degenerate-denominator conventions (0/0 -> 0) are kept and listed in ``docs/indicators.md``.

Rolling sums are updated incrementally and recomputed from scratch every ``period`` steps,
so rounding error never accumulates over more than one window (TA-Lib's running sums drift
over the whole series).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def rolling_sum_nb(x, period):
    """Return the sum over the trailing ``period`` values; NaN for the first ``period - 1``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    total = 0.0
    for i in range(period - 1, n):
        if (i - period + 1) % period == 0:
            total = 0.0
            for j in range(i - period + 1, i + 1):
                total += x[j]
        else:
            total += x[i] - x[i - period]
        out[i] = total
    return out


@njit(cache=True)
def ema_nb(x, period, seed_end):
    """Return an EMA with ``k = 2 / (period + 1)`` seeded at ``seed_end``; reference: TA_EMA.

    The seed is the mean of ``x[seed_end - period + 1 : seed_end + 1]`` (TA-Lib's classic
    seeding; ``seed_end = period - 1`` for a plain EMA, ``slow - 1`` for MACD's fast EMA).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if seed_end >= n:
        return out
    total = 0.0
    for j in range(seed_end - period + 1, seed_end + 1):
        total += x[j]
    prev = total / period
    out[seed_end] = prev
    k = 2.0 / (period + 1)
    for i in range(seed_end + 1, n):
        prev = ((x[i] - prev) * k) + prev
        out[i] = prev
    return out


@njit(cache=True)
def wma_nb(x, period):
    """Return the linearly weighted mean (weights 1..period, newest heaviest); reference: TA_WMA."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    divider = period * (period + 1) / 2.0
    num = 0.0
    window_sum = 0.0
    for i in range(period - 1, n):
        if (i - period + 1) % period == 0:
            num = 0.0
            window_sum = 0.0
            for j in range(period):
                v = x[i - period + 1 + j]
                num += (j + 1) * v
                window_sum += v
        else:
            # every older value loses one unit of weight, the new one enters with weight `period`
            num = num + period * x[i] - window_sum
            window_sum += x[i] - x[i - period]
        out[i] = num / divider
    return out


@njit(cache=True)
def rsi_nb(x, period):
    """Return Wilder's RSI; reference: TA_RSI (classic seeding, first value at ``period``).

    Seed: the average gain and loss over the first ``period`` changes; then
    ``avg = (avg * (period - 1) + change) / period``. No movement at all (gain + loss = 0)
    gives 0, as in TA-Lib.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    prev = x[0]
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        d = x[i] - prev
        prev = x[i]
        if d < 0.0:
            loss -= d
        else:
            gain += d
    loss /= period
    gain /= period
    s = gain + loss
    out[period] = 100.0 * (gain / s) if s != 0.0 else 0.0
    for i in range(period + 1, n):
        d = x[i] - prev
        prev = x[i]
        loss *= period - 1
        gain *= period - 1
        if d < 0.0:
            loss -= d
        else:
            gain += d
        loss /= period
        gain /= period
        s = gain + loss
        out[i] = 100.0 * (gain / s) if s != 0.0 else 0.0
    return out


@njit(cache=True)
def wilder_average_nb(tr, period):
    """Return Wilder's average of ``tr[1:]`` (``tr[0]`` is warm-up NaN); reference: TA_ATR.

    Seed at index ``period``: the mean of ``tr[1 : period + 1]``; then
    ``(prev * (period - 1) + tr) / period``.
    """
    n = tr.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    total = 0.0
    for i in range(1, period + 1):
        total += tr[i]
    prev = total / period
    out[period] = prev
    for i in range(period + 1, n):
        prev = (prev * (period - 1) + tr[i]) / period
        out[i] = prev
    return out


@njit(cache=True)
def rolling_mean_std_nb(x, period, ddof):
    """Return the rolling mean and standard deviation (divisor ``period - ddof``).

    Reference: ``np.std(window, ddof=ddof)``. Exact two-pass sum per window, O(n * period):
    incremental formulas (``E[x²] - E[x]²``, Welford's replace step) leave an absolute error of
    order ``sqrt(eps * |x| * jump)`` in the deviation, e.g. 2e-5 instead of 0 for a flat window at
    BTC prices; the two-pass error is of order ``eps * |x|``.
    """
    n = x.shape[0]
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    for i in range(period - 1, n):
        start = i - period + 1
        # shift by the window's first value: a flat window gives exactly 0, and the sums work on
        # deviations rather than on price levels
        ref = x[start]
        m = 0.0
        for j in range(start, i + 1):
            m += x[j] - ref
        m /= period
        m2 = 0.0
        for j in range(start, i + 1):
            d = (x[j] - ref) - m
            m2 += d * d
        mean[i] = ref + m
        std[i] = math.sqrt(m2 / (period - ddof))
    return mean, std


@njit(cache=True)
def rolling_max_nb(x, period):
    """Return the maximum over the trailing ``period`` values (monotonic deque, O(n))."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for i in range(n):
        while tail > head and x[dq[tail - 1]] <= x[i]:
            tail -= 1
        dq[tail] = i
        tail += 1
        if dq[head] <= i - period:
            head += 1
        if i >= period - 1:
            out[i] = x[dq[head]]
    return out


@njit(cache=True)
def rolling_min_nb(x, period):
    """Return the minimum over the trailing ``period`` values (monotonic deque, O(n))."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for i in range(n):
        while tail > head and x[dq[tail - 1]] >= x[i]:
            tail -= 1
        dq[tail] = i
        tail += 1
        if dq[head] <= i - period:
            head += 1
        if i >= period - 1:
            out[i] = x[dq[head]]
    return out


@njit(cache=True)
def _true_range_at(high, low, prev_close):
    greatest = high - low
    v = abs(prev_close - high)
    if v > greatest:
        greatest = v
    v = abs(prev_close - low)
    if v > greatest:
        greatest = v
    return greatest


@njit(cache=True)
def dmi_nb(high, low, close, period):
    """Return (+DI, -DI, ADX) with Wilder smoothing; reference: TA_PLUS_DI, TA_MINUS_DI, TA_ADX.

    +DM/-DM/TR are summed over bars ``1 .. period - 1``, then smoothed with
    ``s - s / period + new`` from bar ``period`` on (first DI at ``period``). ADX is the mean of
    the first ``period`` DX values (first ADX at ``2 * period - 1``), then Wilder-smoothed. As in
    TA-Lib: DI = 0 when the smoothed TR is 0; a bar whose DX is undefined (TR = 0 or
    +DI + -DI = 0) adds 0 to the seed sum and leaves the smoothed ADX unchanged afterwards.
    """
    n = high.shape[0]
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    adx = np.full(n, np.nan)
    if n <= period:
        return plus_di, minus_di, adx
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    prev_high = high[0]
    prev_low = low[0]
    prev_close = close[0]
    for i in range(1, period):
        diff_p = high[i] - prev_high
        diff_m = prev_low - low[i]
        if diff_m > 0.0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0.0 and diff_p > diff_m:
            plus_dm += diff_p
        tr += _true_range_at(high[i], low[i], prev_close)
        prev_high = high[i]
        prev_low = low[i]
        prev_close = close[i]
    sum_dx = 0.0
    adx_value = 0.0
    for i in range(period, n):
        diff_p = high[i] - prev_high
        diff_m = prev_low - low[i]
        minus_dm -= minus_dm / period
        plus_dm -= plus_dm / period
        if diff_m > 0.0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0.0 and diff_p > diff_m:
            plus_dm += diff_p
        tr = tr - (tr / period) + _true_range_at(high[i], low[i], prev_close)
        prev_high = high[i]
        prev_low = low[i]
        prev_close = close[i]
        dx_defined = False
        dx = 0.0
        if tr != 0.0:
            m_di = 100.0 * (minus_dm / tr)
            p_di = 100.0 * (plus_dm / tr)
            s = m_di + p_di
            if s != 0.0:
                dx = 100.0 * (abs(m_di - p_di) / s)
                dx_defined = True
        else:
            m_di = 0.0
            p_di = 0.0
        plus_di[i] = p_di
        minus_di[i] = m_di
        if i < 2 * period - 1:
            sum_dx += dx
        elif i == 2 * period - 1:
            sum_dx += dx
            adx_value = sum_dx / period
            adx[i] = adx_value
        else:
            if dx_defined:
                adx_value = ((adx_value * (period - 1)) + dx) / period
            adx[i] = adx_value
    return plus_di, minus_di, adx


@njit(cache=True)
def linreg_slope_nb(x, period):
    """Return the least-squares slope per bar; reference: TA_LINEARREG_SLOPE.

    Centred form ``sum((j - mean_j) * y_j) / sum((j - mean_j)²)``, which avoids TA-Lib's
    ``n·Σxy - Σx·Σy`` cancellation. ``period >= 2``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    centre = (period - 1) / 2.0
    sxx = period * (period * period - 1) / 12.0
    for i in range(period - 1, n):
        acc = 0.0
        base = i - period + 1
        for j in range(period):
            acc += (j - centre) * x[base + j]
        out[i] = acc / sxx
    return out


@njit(cache=True)
def session_vwap_nb(pv, volume, starts):
    """Return the cumulative VWAP that restarts where ``starts`` is True; NaN while volume is 0."""
    n = pv.shape[0]
    out = np.full(n, np.nan)
    cum_pv = 0.0
    cum_v = 0.0
    for i in range(n):
        if starts[i]:
            cum_pv = 0.0
            cum_v = 0.0
        cum_pv += pv[i]
        cum_v += volume[i]
        if cum_v > 0.0:
            out[i] = cum_pv / cum_v
    return out
