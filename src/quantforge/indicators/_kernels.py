"""Compiled loops behind the indicator functions (Numba, ``@njit(cache=True)``).

Every kernel takes finite float64 arrays (the public wrappers validate, split the input at
non-finite values and check parameter ranges) and returns freshly allocated arrays with NaN
in the warm-up. Where TA-Lib has the indicator, the kernel follows the order of TA-Lib's
floating-point operations (seeding, Wilder smoothing, ``a - a / p + d``) so results agree to
the last few ulps; the reference named in each docstring is the TA-Lib function. TA-Lib's
degenerate-denominator conventions (0/0 -> 0) are kept and listed in ``docs/indicators.md``.

Rolling sums are updated incrementally and recomputed from scratch every
``max(period, RESUM_EVERY)`` bars, so rounding error never accumulates over more than ~1000
updates (TA-Lib's running sums drift over the whole series).

Hot loops index shifted slices (``new = x[period:]``, ``old = x[:-period]``) with a
non-negative loop variable instead of ``x[i - period]``: Numba must handle negative indices
(wraparound), which otherwise costs a branch per access and blocks vectorisation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: exact re-summation interval (in bars) of running sums, when longer than the period
RESUM_EVERY = 1024


@njit(cache=True)
def all_finite_nb(x):
    """Return True when no value is NaN or ±inf (stops at the first one)."""
    for i in range(x.shape[0]):  # noqa: SIM110 (a plain loop compiles; a generator does not)
        if not math.isfinite(x[i]):
            return False
    return True


@njit(cache=True)
def rolling_sum_into_nb(x, period, divisor, out):
    """Write ``sum / divisor`` of each trailing window of ``period`` values into ``out``.

    ``out[period - 1:]`` is written; the caller owns the warm-up part of ``out``.
    """
    n = x.shape[0]
    if n < period:
        return
    m = n - period + 1  # number of windows; window q is x[q : q + period]
    chunk = max(period, RESUM_EVERY)
    new = x[period:]  # new[r] enters window r + 1
    old = x[: n - period]  # old[r] leaves window r + 1
    dst = out[period:]  # dst[r] is window r + 1
    q = 0
    while q < m:
        total = 0.0
        for j in range(q, q + period):
            total += x[j]
        out[q + period - 1] = total / divisor
        end = min(q + chunk, m)
        for r in range(q, end - 1):
            total += new[r] - old[r]
            dst[r] = total / divisor
        q = end


@njit(cache=True)
def rolling_sum_nb(x, period, divisor):
    """Return ``sum / divisor`` over the trailing ``period`` values (first ``period - 1``: NaN).

    ``divisor = period`` gives the SMA (TA-Lib ``SMA``), ``1.0`` the plain rolling sum.
    """
    n = x.shape[0]
    out = np.empty(n)
    for i in range(min(period - 1, n)):
        out[i] = np.nan
    rolling_sum_into_nb(x, period, divisor, out)
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
        # TA-Lib's operation order: (almost always) bit-identical EMAs, same crossover bars
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
    m = n - period + 1
    chunk = max(period, RESUM_EVERY)
    new = x[period:]
    old = x[: n - period]
    dst = out[period:]
    q = 0
    while q < m:
        num = 0.0
        window_sum = 0.0
        for j in range(period):
            v = x[q + j]
            num += (j + 1) * v
            window_sum += v
        out[q + period - 1] = num / divider
        end = min(q + chunk, m)
        for r in range(q, end - 1):
            # every older value loses one unit of weight, the new one enters with weight `period`
            num = num + period * new[r] - window_sum
            window_sum += new[r] - old[r]
            dst[r] = num / divider
        q = end
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
    keep = (period - 1) / period
    inv = 1.0 / period
    for i in range(period + 1, n):
        d = x[i] - prev
        prev = x[i]
        # avg·(p-1)/p + change/p: no division on the dependency chain
        up = d if d > 0.0 else 0.0
        down = -d if d < 0.0 else 0.0
        gain = gain * keep + up * inv
        loss = loss * keep + down * inv
        s = gain + loss
        out[i] = 100.0 * (gain / s) if s != 0.0 else 0.0
    return out


@njit(cache=True)
def true_range_nb(high, low, close):
    """Return the true range; index 0 is NaN (no previous close); reference: TA_TRANGE."""
    n = high.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    out[0] = np.nan
    hi = high[1:]
    lo = low[1:]
    prev_close = close[: n - 1]
    dst = out[1:]
    for j in range(n - 1):
        dst[j] = _true_range_at_nb(hi[j], lo[j], prev_close[j])
    return out


@njit(cache=True)
def atr_nb(high, low, close, period):
    """Return Wilder's ATR; reference: TA_ATR (``period == 1`` is the true range).

    Seed at bar ``period``: the mean of the true ranges of bars ``1..period``; then
    ``prev * (period - 1) / period + tr / period``.
    """
    n = high.shape[0]
    if period == 1:
        return true_range_nb(high, low, close)
    out = np.empty(n)
    for i in range(min(period, n)):
        out[i] = np.nan
    if n <= period:
        return out
    hi = high[1:]
    lo = low[1:]
    prev_close = close[: n - 1]
    dst = out[1:]  # dst[j] is bar j + 1
    total = 0.0
    for j in range(period):
        total += _true_range_at_nb(hi[j], lo[j], prev_close[j])
    prev = total / period
    dst[period - 1] = prev
    keep = (period - 1) / period
    inv = 1.0 / period
    for j in range(period, n - 1):
        prev = prev * keep + _true_range_at_nb(hi[j], lo[j], prev_close[j]) * inv
        dst[j] = prev
    return out


@njit(cache=True)
def _two_pass_nb(x, start, stop, ref):
    # exact mean offset and sum of squared deviations of x[start:stop], shifted by ref
    count = stop - start
    m = 0.0
    for j in range(start, stop):
        m += x[j] - ref
    m /= count
    m2 = 0.0
    for j in range(start, stop):
        d = (x[j] - ref) - m
        m2 += d * d
    return m, m2


@njit(cache=True)
def rolling_moments_nb(x, period, ddof, mode, k_up, k_down):
    """Return rolling-deviation outputs; ``mode`` 0: (std,), 1: (zscore,), 2: Bollinger bands.

    Mode 2 returns ``(middle + k_up * std, middle, middle - k_down * std)`` with ``middle`` from
    `rolling_sum_into_nb` (bit-identical to the SMA). Unused outputs are empty arrays, so only the
    arrays returned are allocated (page faults on fresh arrays dominate at 1M bars).

    Reference: ``np.std(window, ddof=ddof)`` (TA-Lib ``STDDEV``/``BBANDS`` for ``ddof=0``).
    Sums of ``x - ref`` and ``(x - ref)²`` are updated incrementally, with ``ref`` the first value
    of a block and an exact re-sum every ``period`` bars. Where the incremental variance could
    have lost more than ~1e-11 of its value to cancellation (bound ``(period + 2) * eps`` times
    every square added or removed since the block started), the window is recomputed with an
    exact two-pass sum around a value inside it, so a flat window gives exactly 0 and no window
    pays the ``sqrt(eps * price * jump)`` error of ``E[x²] - E[x]²`` or of Welford's replace step.
    """
    n = x.shape[0]
    first = np.full(n, np.nan)
    second = np.full(n if mode == 2 else 0, np.nan)
    third = np.full(n if mode == 2 else 0, np.nan)
    if n < period:
        return first, second, third
    if mode == 2:
        rolling_sum_into_nb(x, period, float(period), second)
    eps = 2.220446049250313e-16
    guard = (period + 2) * eps * 1e11
    denominator = period - ddof
    m = n - period + 1
    new = x[period:]
    old = x[: n - period]
    q = 0
    while q < m:
        ref = x[q]
        s1 = 0.0
        s2 = 0.0
        for j in range(q, q + period):
            d = x[j] - ref
            s1 += d
            s2 += d * d
        # every square added or removed since the block started: the incremental s2 carries
        # rounding error up to ~eps times this, even after the large terms have left the window
        s2_seen = s2
        end = min(q + period, m)
        for w in range(q, end):
            if w > q:
                a = new[w - 1] - ref
                b = old[w - 1] - ref
                s1 += a - b
                s2 += a * a - b * b
                s2_seen += a * a + b * b
            mean_offset = s1 / period
            m2 = s2 - s1 * mean_offset
            i = w + period - 1
            window_ref = ref
            if m2 <= guard * s2_seen:
                # re-sum around a value inside the window: offsets from the block's ref can be
                # large (an outlier that has left the window) and their mean would carry its error
                window_ref = x[i]
                mean_offset, m2 = _two_pass_nb(x, w, w + period, window_ref)
            std = math.sqrt(m2 / denominator)
            if mode == 0:
                first[i] = std
            elif mode == 1:
                if std > 0.0:
                    # deviation in the shifted frame: ref + offset can round a tiny offset away
                    first[i] = ((x[i] - window_ref) - mean_offset) / std
            else:
                middle = second[i]
                first[i] = middle + k_up * std
                third[i] = middle - k_down * std
        q = end
    return first, second, third


@njit(cache=True)
def rolling_max_nb(x, period):
    """Return the maximum over the trailing ``period`` values; reference: TA_MAX.

    van Herk / Gil-Werman in blocks of ``period`` bars: a window ending in block B is the
    maximum of the suffix of block B-1 from the window start and the prefix of B up to the
    window end. O(n) whatever the data (no rescans) and only a ``period``-sized scratch buffer.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    suffix = np.empty(period)  # suffix extremes of the previous block
    for b0 in range(0, n, period):
        b1 = min(b0 + period, n)
        acc = x[b0]
        for i in range(b0, b1):
            v = x[i]
            acc = v if v >= acc else acc
            if i >= period - 1:
                if i == b0 + period - 1:
                    out[i] = acc
                else:
                    a = suffix[i + 1 - b0]
                    out[i] = a if a >= acc else acc
        acc = x[b1 - 1]
        suffix[b1 - 1 - b0] = acc
        for i in range(b1 - 2, b0 - 1, -1):
            v = x[i]
            acc = v if v >= acc else acc
            suffix[i - b0] = acc
    return out


@njit(cache=True)
def rolling_min_nb(x, period):
    """Return the minimum over the trailing ``period`` values; reference: TA_MIN.

    van Herk / Gil-Werman in blocks of ``period`` bars: a window ending in block B is the
    minimum of the suffix of block B-1 from the window start and the prefix of B up to the
    window end. O(n) whatever the data (no rescans) and only a ``period``-sized scratch buffer.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    suffix = np.empty(period)  # suffix extremes of the previous block
    for b0 in range(0, n, period):
        b1 = min(b0 + period, n)
        acc = x[b0]
        for i in range(b0, b1):
            v = x[i]
            acc = v if v <= acc else acc
            if i >= period - 1:
                if i == b0 + period - 1:
                    out[i] = acc
                else:
                    a = suffix[i + 1 - b0]
                    out[i] = a if a <= acc else acc
        acc = x[b1 - 1]
        suffix[b1 - 1 - b0] = acc
        for i in range(b1 - 2, b0 - 1, -1):
            v = x[i]
            acc = v if v <= acc else acc
            suffix[i - b0] = acc
    return out


@njit(cache=True)
def _true_range_at_nb(high, low, prev_close):
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
    ``s * (period - 1) / period + new`` (TA-Lib: ``s - s / period + new``, equal to ~1e-15)
    from bar ``period`` on (first DI at ``period``). ADX is the mean of
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
        tr += _true_range_at_nb(high[i], low[i], prev_close)
        prev_high = high[i]
        prev_low = low[i]
        prev_close = close[i]
    sum_dx = 0.0
    adx_value = 0.0
    keep = (period - 1) / period
    inv = 1.0 / period
    for i in range(period, n):
        diff_p = high[i] - prev_high
        diff_m = prev_low - low[i]
        # s·(p-1)/p + new (TA-Lib: s - s/p + new): no division on the dependency chain
        minus_dm *= keep
        plus_dm *= keep
        if diff_m > 0.0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0.0 and diff_p > diff_m:
            plus_dm += diff_p
        tr = tr * keep + _true_range_at_nb(high[i], low[i], prev_close)
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
                adx_value = adx_value * keep + dx * inv
            adx[i] = adx_value
    return plus_di, minus_di, adx


@njit(cache=True)
def linreg_slope_nb(x, period):
    """Return the least-squares slope per bar; reference: TA_LINEARREG_SLOPE.

    Centred form ``sum((j - c) * y_j) / sum((j - c)²)`` with ``c = (period - 1) / 2``, on values
    shifted by a block reference and updated in O(1) per bar (``Σ j·y`` loses the old value's
    window sum and gains ``(period - 1) * y_new``), re-summed exactly every ``period`` bars. This
    avoids TA-Lib's ``n·Σxy - Σx·Σy`` cancellation at price level. ``period >= 2``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    centre = (period - 1) / 2.0
    sxx = period * (period * period - 1) / 12.0
    m = n - period + 1
    new = x[period:]
    old = x[: n - period]
    dst = out[period:]
    q = 0
    while q < m:
        ref = x[q]
        sum_y = 0.0
        sum_jy = 0.0
        for j in range(period):
            d = x[q + j] - ref
            sum_y += d
            sum_jy += j * d
        out[q + period - 1] = (sum_jy - centre * sum_y) / sxx
        end = min(q + period, m)
        for r in range(q, end - 1):
            gone = old[r] - ref
            came = new[r] - ref
            # every value in the window moves one position down; the oldest leaves
            sum_jy = sum_jy - (sum_y - gone) + (period - 1) * came
            sum_y += came - gone
            dst[r] = (sum_jy - centre * sum_y) / sxx
        q = end
    return out


@njit(cache=True)
def rolling_vwap_nb(price, volume, period):
    """Return ``Σ price·volume / Σ volume`` over the trailing window; NaN when the volume is 0."""
    n = price.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    m = n - period + 1
    chunk = max(period, RESUM_EVERY)
    new_p = price[period:]
    new_v = volume[period:]
    old_p = price[: n - period]
    old_v = volume[: n - period]
    dst = out[period:]
    q = 0
    while q < m:
        pv = 0.0
        vol = 0.0
        for j in range(q, q + period):
            pv += price[j] * volume[j]
            vol += volume[j]
        if vol > 0.0:
            out[q + period - 1] = pv / vol
        end = min(q + chunk, m)
        for r in range(q, end - 1):
            pv += new_p[r] * new_v[r] - old_p[r] * old_v[r]
            vol += new_v[r] - old_v[r]
            if vol > 0.0:
                dst[r] = pv / vol
        q = end
    return out


@njit(cache=True)
def stoch_fast_k_nb(high, low, close, period):
    """Return fast %K = ``(close - lowest) / ((highest - lowest) / 100)``; reference: TA_STOCHF.

    0 when the range is 0 (TA-Lib). Highest high / lowest low over the window as in
    `rolling_max_nb` / `rolling_min_nb` (blockwise, O(n)).
    """
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    suffix_hi = np.empty(period)
    suffix_lo = np.empty(period)
    for b0 in range(0, n, period):
        b1 = min(b0 + period, n)
        hi = high[b0]
        lo = low[b0]
        for i in range(b0, b1):
            v = high[i]
            hi = v if v >= hi else hi
            v = low[i]
            lo = v if v <= lo else lo
            if i >= period - 1:
                highest = hi
                lowest = lo
                if i != b0 + period - 1:
                    a = suffix_hi[i + 1 - b0]
                    highest = a if a >= hi else hi
                    a = suffix_lo[i + 1 - b0]
                    lowest = a if a <= lo else lo
                diff = (highest - lowest) / 100.0
                out[i] = (close[i] - lowest) / diff if diff != 0.0 else 0.0
        hi = high[b1 - 1]
        lo = low[b1 - 1]
        suffix_hi[b1 - 1 - b0] = hi
        suffix_lo[b1 - 1 - b0] = lo
        for i in range(b1 - 2, b0 - 1, -1):
            v = high[i]
            hi = v if v >= hi else hi
            v = low[i]
            lo = v if v <= lo else lo
            suffix_hi[i - b0] = hi
            suffix_lo[i - b0] = lo
    return out


@njit(cache=True)
def _sma_into_nb(src, start, period, out):
    # SMA of src[start:] written to out[start + period - 1:], identical to sma(src[start:])
    rolling_sum_into_nb(src[start:], period, float(period), out[start:])


@njit(cache=True)
def stoch_nb(high, low, close, k_period, slowing, d_period):
    """Return (slow %K, %D); reference: TA_STOCH with SMA smoothing (``slowing=1``: TA_STOCHF).

    %K = SMA(fast %K, ``slowing``), %D = SMA(%K, ``d_period``); both NaN for the first
    ``k_period + slowing + d_period - 3`` bars (TA-Lib's lookback, also for %K).
    """
    n = high.shape[0]
    fast = stoch_fast_k_nb(high, low, close, k_period)
    if slowing == 1:
        k = fast
    else:
        k = np.full(n, np.nan)
        _sma_into_nb(fast, k_period - 1, slowing, k)
    d = np.full(n, np.nan)
    _sma_into_nb(k, k_period + slowing - 2, d_period, d)
    lookback = k_period + slowing + d_period - 3
    for i in range(min(lookback, n)):
        k[i] = np.nan
    return k, d


@njit(cache=True)
def macd_nb(x, fast, slow, signal):
    """Return (macd, signal, histogram); reference: TA_MACD.

    Both EMAs are seeded at bar ``slow - 1`` (the fast one with the mean of the ``fast`` values
    ending there); the signal EMA is seeded with the mean of the first ``signal`` MACD values;
    all three outputs start at bar ``slow + signal - 2``.
    """
    n = x.shape[0]
    line = np.empty(n)
    sig = np.empty(n)
    hist = np.empty(n)
    lookback = slow + signal - 2
    for i in range(min(lookback, n)):
        line[i] = np.nan
        sig[i] = np.nan
        hist[i] = np.nan
    if n <= lookback:
        return line, sig, hist
    # TA-Lib's operation order (see ema_nb): the MACD line crosses zero on the same bar
    k_fast = 2.0 / (fast + 1)
    k_slow = 2.0 / (slow + 1)
    k_sig = 2.0 / (signal + 1)
    total = 0.0
    for j in range(0, slow):
        total += x[j]
    e_slow = total / slow
    total = 0.0
    for j in range(slow - fast, slow):
        total += x[j]
    e_fast = total / fast
    sig_sum = e_fast - e_slow
    for i in range(slow, lookback + 1):
        e_fast = ((x[i] - e_fast) * k_fast) + e_fast
        e_slow = ((x[i] - e_slow) * k_slow) + e_slow
        sig_sum += e_fast - e_slow
    e_sig = sig_sum / signal
    value = e_fast - e_slow
    line[lookback] = value
    sig[lookback] = e_sig
    hist[lookback] = value - e_sig
    for i in range(lookback + 1, n):
        e_fast = ((x[i] - e_fast) * k_fast) + e_fast
        e_slow = ((x[i] - e_slow) * k_slow) + e_slow
        value = e_fast - e_slow
        e_sig = ((value - e_sig) * k_sig) + e_sig
        line[i] = value
        sig[i] = e_sig
        hist[i] = value - e_sig
    return line, sig, hist


@njit(cache=True)
def roc_nb(x, period):
    """Return ``((x / x[-period]) - 1) * 100``, 0 where the reference is 0; reference: TA_ROC."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(min(period, n)):
        out[i] = np.nan
    if n <= period:
        return out
    cur = x[period:]
    prev = x[: n - period]
    dst = out[period:]
    for j in range(n - period):
        p = prev[j]
        dst[j] = ((cur[j] / p) - 1.0) * 100.0 if p != 0.0 else 0.0
    return out


@njit(cache=True)
def obv_nb(close, volume):
    """Return on-balance volume starting at ``volume[0]``; reference: TA_OBV."""
    n = close.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    total = volume[0]
    out[0] = total
    for i in range(1, n):
        if close[i] > close[i - 1]:
            total += volume[i]
        elif close[i] < close[i - 1]:
            total -= volume[i]
        out[i] = total
    return out


@njit(cache=True)
def session_vwap_nb(price, volume, starts):
    """Return the cumulative VWAP that restarts where ``starts`` is True (and at bar 0).

    NaN while the session's cumulative volume is 0.
    """
    n = price.shape[0]
    out = np.full(n, np.nan)
    cum_pv = 0.0
    cum_v = 0.0
    for i in range(n):
        if starts[i] or i == 0:
            cum_pv = 0.0
            cum_v = 0.0
        cum_pv += price[i] * volume[i]
        cum_v += volume[i]
        if cum_v > 0.0:
            out[i] = cum_pv / cum_v
    return out
