"""Trend strength and direction: ADX / +DI / -DI and the linear-regression slope."""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.indicators._common import (
    as_float_array,
    as_float_arrays,
    by_finite_segments,
    check_int,
    single,
)
from quantforge.indicators._kernels import dmi_nb, linreg_slope_nb

log = logging.getLogger(__name__)


class Dmi(NamedTuple):
    """Wilder's directional movement system: +DI, -DI (first at ``period``), ADX (``2p - 1``)."""

    plus_di: FloatArray
    minus_di: FloatArray
    adx: FloatArray


def dmi(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> Dmi:
    """Return +DI, -DI and ADX in one pass (TA-Lib ``PLUS_DI``, ``MINUS_DI``, ``ADX``).

    +DM/-DM and the true range are summed over bars ``1..period-1`` and then Wilder-smoothed
    (``s * (period - 1) / period + new``); ``DI = 100 * DM / TR`` (0 when TR is 0);
    ``DX = 100 * |+DI - -DI| / (+DI + -DI)``; ADX is the mean of the first ``period`` DX values,
    then ``adx = (adx * (period - 1) + dx) / period``.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    period : int, default 14
        Smoothing length, ``>= 1``.

    Returns
    -------
    Dmi
        ``(plus_di, minus_di, adx)``; the DIs are NaN for the first ``period`` bars, ADX for the
        first ``2 * period - 1``.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> out = dmi([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.5, 2.5, 3.5], 1)
    >>> out.plus_di.tolist(), out.adx.tolist()
    ([nan, 66.66666666666666, 66.66666666666666], [nan, 100.0, 100.0])
    """
    period = check_int("period", period)
    h, lo, c = as_float_arrays(high=high, low=low, close=close)

    def run(hh: FloatArray, ll: FloatArray, cc: FloatArray) -> tuple[FloatArray, ...]:
        result: tuple[FloatArray, FloatArray, FloatArray] = dmi_nb(hh, ll, cc, period)
        return result

    plus, minus, adx_values = by_finite_segments(run, [h, lo, c], 3)
    return Dmi(plus, minus, adx_values)


def adx(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Return Wilder's average directional index (TA-Lib ``ADX``); see `dmi`.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    period : int, default 14
        Smoothing length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64 in [0, 100]; the first ``2 * period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> adx([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.5, 2.5, 3.5], 1).tolist()
    [nan, 100.0, 100.0]
    """
    return dmi(high, low, close, period).adx


def plus_di(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Return the plus directional indicator +DI (TA-Lib ``PLUS_DI``); see `dmi`.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    period : int, default 14
        Smoothing length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64 in [0, 100]; the first ``period`` values are NaN.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> plus_di([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.5, 2.5, 3.5], 1).tolist()
    [nan, 66.66666666666666, 66.66666666666666]
    """
    return dmi(high, low, close, period).plus_di


def minus_di(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Return the minus directional indicator -DI (TA-Lib ``MINUS_DI``); see `dmi`.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.
    period : int, default 14
        Smoothing length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64 in [0, 100]; the first ``period`` values are NaN.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> minus_di([4.0, 3.0, 2.0], [3.0, 2.0, 1.0], [3.5, 2.5, 1.5], 1).tolist()
    [nan, 66.66666666666666, 66.66666666666666]
    """
    return dmi(high, low, close, period).minus_di


def linreg_slope(values: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Return the least-squares slope per bar over the trailing window (TA-Lib ``LINEARREG_SLOPE``).

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int, default 14
        Window length, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN.

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 2``.

    Examples
    --------
    >>> linreg_slope([1.0, 3.0, 5.0, 4.0], 3).tolist()
    [nan, nan, 2.0, 0.5]
    """
    period = check_int("period", period, minimum=2)
    x = as_float_array("values", values)
    return single(linreg_slope_nb, [x], period)
