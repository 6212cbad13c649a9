"""Volatility and range: true range, ATR, rolling std / z-score, Bollinger and Donchian bands."""

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
    check_float,
    check_int,
    single,
)
from quantforge.indicators._kernels import (
    atr_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_moments_nb,
    true_range_nb,
)

log = logging.getLogger(__name__)


class BollingerBands(NamedTuple):
    """Bollinger bands: ``middle ± num_std * std``."""

    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


class DonchianChannel(NamedTuple):
    """Donchian channel: highest high, midpoint, lowest low."""

    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


def _check_ddof(ddof: object, period: int) -> int:
    value = check_int("ddof", ddof, minimum=0)
    if value >= period:
        msg = f"ddof must be in [0, period - 1] = [0, {period - 1}]; got {value}"
        raise ConfigError(msg)
    return value


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """Return the true range ``max(high, prev_close) - min(low, prev_close)`` (TA-Lib ``TRANGE``).

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.

    Returns
    -------
    numpy.ndarray
        float64, same length; index 0 is NaN (no previous close, as in TA-Lib).

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length.

    Examples
    --------
    >>> true_range([10.0, 12.0], [9.0, 11.0], [9.5, 11.5]).tolist()
    [nan, 2.5]
    """
    h, lo, c = as_float_arrays(high=high, low=low, close=close)
    return single(true_range_nb, [h, lo, c])


def atr(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Return Wilder's average true range (TA-Lib ``ATR``).

    Seeded at bar ``period`` with the mean of the first ``period`` true ranges (bars
    ``1..period``), then ``atr = (atr * (period - 1) + tr) / period``.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    period : int, default 14
        Smoothing length, ``>= 1`` (``period=1`` is the true range).

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period`` values are NaN.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> atr([2.0, 3.0, 4.0, 4.0], [1.0, 1.0, 2.0, 3.0], [1.5, 2.0, 3.0, 3.5], 2).tolist()
    [nan, nan, 2.0, 1.5]
    """
    period = check_int("period", period)
    h, lo, c = as_float_arrays(high=high, low=low, close=close)
    return single(atr_nb, [h, lo, c], period)


def _std_segment(x: FloatArray, period: int, ddof: int) -> FloatArray:
    std: FloatArray = rolling_moments_nb(x, period, ddof, 0, 0.0, 0.0)[0]
    return std


def rolling_std(values: npt.ArrayLike, period: int, ddof: int = 0) -> FloatArray:
    """Return the rolling standard deviation (TA-Lib ``STDDEV`` with ``nbdev=1`` when ``ddof=0``).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int
        Window length, ``>= 1``.
    ddof : int, default 0
        Delta degrees of freedom: the divisor is ``period - ddof``. TA-Lib's STDDEV is the
        population deviation (``ddof=0``); pandas' ``rolling().std()`` uses ``ddof=1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric, ``period < 1`` or ``ddof`` is not in
        ``[0, period - 1]``.

    Examples
    --------
    >>> rolling_std([1.0, 3.0, 5.0], 2).tolist()
    [nan, 1.0, 1.0]
    """
    period = check_int("period", period)
    ddof = _check_ddof(ddof, period)
    x = as_float_array("values", values)
    return single(_std_segment, [x], period, ddof)


def _zscore_segment(x: FloatArray, period: int, ddof: int) -> FloatArray:
    z: FloatArray = rolling_moments_nb(x, period, ddof, 1, 0.0, 0.0)[0]
    return z


def zscore(values: npt.ArrayLike, period: int, ddof: int = 0) -> FloatArray:
    """Return the rolling z-score ``(x - mean) / std`` over the trailing window (incl. ``x``).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int
        Window length, ``>= 2``.
    ddof : int, default 0
        Delta degrees of freedom of the standard deviation (see `rolling_std`).

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN, and so is every bar whose
        window has zero deviation (a flat window has no z-score).

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric, ``period < 2`` or ``ddof`` is not in
        ``[0, period - 1]``.

    Examples
    --------
    >>> zscore([1.0, 3.0, 2.0, 2.0], 2).tolist()
    [nan, 1.0, -1.0, nan]
    """
    period = check_int("period", period, minimum=2)
    ddof = _check_ddof(ddof, period)
    x = as_float_array("values", values)
    return single(_zscore_segment, [x], period, ddof)


def bollinger_bands(
    values: npt.ArrayLike,
    period: int = 20,
    num_std_up: float = 2.0,
    num_std_down: float = 2.0,
) -> BollingerBands:
    """Return Bollinger bands around the SMA (TA-Lib ``BBANDS`` with ``matype=0``).

    ``middle = SMA(period)``, ``upper = middle + num_std_up * std``,
    ``lower = middle - num_std_down * std``, with the population deviation (``ddof=0``) as in
    TA-Lib.

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int, default 20
        Window length, ``>= 1``.
    num_std_up, num_std_down : float, default 2.0
        Band widths in standard deviations, ``>= 0`` (TA-Lib ``nbdevup`` / ``nbdevdn``).

    Returns
    -------
    BollingerBands
        ``(upper, middle, lower)``; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric, ``period < 1`` or a width is negative or not finite.

    Examples
    --------
    >>> bollinger_bands([1.0, 3.0], 2, 1.0, 1.0).upper.tolist()
    [nan, 3.0]
    """
    period = check_int("period", period)
    up = check_float("num_std_up", num_std_up, minimum=0.0)
    down = check_float("num_std_down", num_std_down, minimum=0.0)
    x = as_float_array("values", values)

    def run(arr: FloatArray) -> tuple[FloatArray, ...]:
        # the middle band is bit-for-bit `sma`, so comparisons with an SMA line are consistent
        result: tuple[FloatArray, FloatArray, FloatArray] = rolling_moments_nb(
            arr, period, 0, 2, up, down
        )
        return result

    upper, middle, lower = by_finite_segments(run, [x], 3)
    return BollingerBands(upper, middle, lower)


def rolling_max(values: npt.ArrayLike, period: int) -> FloatArray:
    """Return the highest value over the trailing ``period`` bars (TA-Lib ``MAX``).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int
        Window length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 1``.

    Examples
    --------
    >>> rolling_max([1.0, 3.0, 2.0], 2).tolist()
    [nan, 3.0, 3.0]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(rolling_max_nb, [x], period)


def rolling_min(values: npt.ArrayLike, period: int) -> FloatArray:
    """Return the lowest value over the trailing ``period`` bars (TA-Lib ``MIN``).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int
        Window length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 1``.

    Examples
    --------
    >>> rolling_min([1.0, 3.0, 2.0], 2).tolist()
    [nan, 1.0, 2.0]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(rolling_min_nb, [x], period)


def donchian(high: npt.ArrayLike, low: npt.ArrayLike, period: int = 20) -> DonchianChannel:
    """Return the Donchian channel over the trailing ``period`` bars, current bar included.

    ``upper = max(high)``, ``lower = min(low)``, ``middle = (upper + lower) / 2``. For a breakout
    rule compare the close with the *previous* bar's channel (shift by one), since the current
    bar is inside its own channel by construction.

    Parameters
    ----------
    high, low : array_like
        1-D arrays of equal length.
    period : int, default 20
        Window length, ``>= 1``.

    Returns
    -------
    DonchianChannel
        ``(upper, middle, lower)``; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> donchian([3.0, 5.0, 4.0], [1.0, 2.0, 3.0], 2).upper.tolist()
    [nan, 5.0, 5.0]
    """
    period = check_int("period", period)
    h, lo = as_float_arrays(high=high, low=low)

    def run(hh: FloatArray, ll: FloatArray) -> tuple[FloatArray, ...]:
        upper = rolling_max_nb(hh, period)
        lower = rolling_min_nb(ll, period)
        return upper, (upper + lower) / 2.0, lower

    upper, middle, lower = by_finite_segments(run, [h, lo], 3)
    return DonchianChannel(upper, middle, lower)
