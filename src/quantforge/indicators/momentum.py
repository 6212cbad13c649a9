"""Momentum oscillators: RSI, MACD, stochastic, rate of change."""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError
from quantforge.indicators._common import (
    as_float_array,
    as_float_arrays,
    by_finite_segments,
    check_int,
    single,
)
from quantforge.indicators._kernels import macd_nb, roc_nb, rsi_nb, stoch_nb

log = logging.getLogger(__name__)


class Macd(NamedTuple):
    """MACD line, signal line and histogram (``macd - signal``)."""

    macd: FloatArray
    signal: FloatArray
    histogram: FloatArray


class Stochastic(NamedTuple):
    """Stochastic oscillator %K and %D (both in [0, 100])."""

    k: FloatArray
    d: FloatArray


def rsi(values: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Return Wilder's relative strength index in [0, 100] (TA-Lib ``RSI``).

    Average gain/loss are seeded with the plain mean of the first ``period`` price changes and
    then smoothed with ``avg = (avg * (period - 1) + change) / period``. A window with no
    movement at all gives 0 (TA-Lib's convention).

    Parameters
    ----------
    values : array_like
        1-D price series.
    period : int, default 14
        Smoothing length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 1``.

    Examples
    --------
    >>> rsi([1.0, 2.0, 1.0, 2.0], 2).tolist()
    [nan, nan, 50.0, 75.0]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(rsi_nb, [x], period)


def macd(values: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """Return the MACD line, its signal line and the histogram (TA-Lib ``MACD``).

    ``macd = EMA(fast) - EMA(slow)``; both EMAs are seeded at bar ``slow - 1`` (the fast EMA with
    the mean of the ``fast`` values ending there, as TA-Lib does), ``signal = EMA(macd, signal)``
    and ``histogram = macd - signal``.

    Parameters
    ----------
    values : array_like
        1-D price series.
    fast, slow : int, default 12, 26
        EMA spans, ``1 <= fast < slow``.
    signal : int, default 9
        Signal EMA span, ``>= 1``.

    Returns
    -------
    Macd
        ``(macd, signal, histogram)``; all three are NaN for the first ``slow + signal - 2`` bars
        (TA-Lib's lookback, also for the MACD line).

    Raises
    ------
    ConfigError
        If a period is not a positive integer or ``fast >= slow``.

    Examples
    --------
    >>> out = macd([float(i) for i in range(40)], 3, 6, 2)
    >>> int(np.isnan(out.macd).sum()), float(out.macd[-1])
    (6, 1.5)
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow, minimum=2)
    signal = check_int("signal", signal)
    if fast >= slow:
        msg = f"fast must be smaller than slow; got fast={fast}, slow={slow} (swap them)"
        raise ConfigError(msg)
    x = as_float_array("values", values)

    def run(arr: FloatArray) -> tuple[FloatArray, ...]:
        result: tuple[FloatArray, FloatArray, FloatArray] = macd_nb(arr, fast, slow, signal)
        return result

    line, sig, hist = by_finite_segments(run, [x], 3)
    return Macd(line, sig, hist)


def stochastic(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    k_period: int = 14,
    slowing: int = 3,
    d_period: int = 3,
) -> Stochastic:
    """Return the slow stochastic oscillator (TA-Lib ``STOCH`` with SMA smoothing).

    Fast %K = ``100 * (close - lowest_low) / (highest_high - lowest_low)`` over ``k_period``
    bars (0 when the range is 0, as in TA-Lib); slow %K = SMA(fast %K, ``slowing``);
    %D = SMA(slow %K, ``d_period``). ``slowing=1`` gives the fast stochastic's %K.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    k_period : int, default 14
        Look-back of the high/low range (TA-Lib ``fastk_period``), ``>= 1``.
    slowing : int, default 3
        SMA length applied to fast %K (TA-Lib ``slowk_period``), ``>= 1``.
    d_period : int, default 3
        SMA length of %D (TA-Lib ``slowd_period``), ``>= 1``.

    Returns
    -------
    Stochastic
        ``(k, d)``; both NaN for the first ``k_period + slowing + d_period - 3`` bars (TA-Lib's
        lookback, also for %K).

    Raises
    ------
    ConfigError
        If the arrays differ in length or a period is not an integer ``>= 1``.

    Examples
    --------
    >>> h = [3.0, 4.0, 5.0, 6.0]; lo = [1.0, 2.0, 3.0, 4.0]; c = [2.0, 3.0, 4.0, 6.0]
    >>> stochastic(h, lo, c, 2, 1, 2).k.tolist()
    [nan, nan, 66.66666666666667, 100.0]
    """
    k_period = check_int("k_period", k_period)
    slowing = check_int("slowing", slowing)
    d_period = check_int("d_period", d_period)
    h, lo, c = as_float_arrays(high=high, low=low, close=close)

    def run(hh: FloatArray, ll: FloatArray, cc: FloatArray) -> tuple[FloatArray, ...]:
        result: tuple[FloatArray, FloatArray] = stoch_nb(hh, ll, cc, k_period, slowing, d_period)
        return result

    k, d = by_finite_segments(run, [h, lo, c], 2)
    return Stochastic(k, d)


def stochastic_fast(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    k_period: int = 14,
    d_period: int = 3,
) -> Stochastic:
    """Return the fast stochastic oscillator (TA-Lib ``STOCHF`` with SMA %D).

    Same as ``stochastic(high, low, close, k_period, slowing=1, d_period=d_period)``.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    k_period : int, default 14
        Look-back of the high/low range, ``>= 1``.
    d_period : int, default 3
        SMA length of %D, ``>= 1``.

    Returns
    -------
    Stochastic
        ``(k, d)``; both NaN for the first ``k_period + d_period - 2`` bars.

    Raises
    ------
    ConfigError
        If the arrays differ in length or a period is not an integer ``>= 1``.

    Examples
    --------
    >>> h = [3.0, 4.0, 5.0]; lo = [1.0, 2.0, 3.0]; c = [2.0, 4.0, 3.0]
    >>> stochastic_fast(h, lo, c, 2, 1).k.tolist()
    [nan, 100.0, 33.333333333333336]
    """
    return stochastic(high, low, close, k_period, 1, d_period)


def roc(values: npt.ArrayLike, period: int = 10) -> FloatArray:
    """Return the rate of change in percent, ``(x / x[-period] - 1) * 100`` (TA-Lib ``ROC``).

    A zero reference value gives 0 (TA-Lib's convention).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int, default 10
        Distance in bars, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 1``.

    Examples
    --------
    >>> roc([100.0, 110.0, 99.0], 1).tolist()
    [nan, 10.000000000000009, -9.999999999999998]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(roc_nb, [x], period)
