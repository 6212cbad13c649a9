"""Moving averages: simple, exponential and linearly weighted."""

from __future__ import annotations

import logging

import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.indicators._common import as_float_array, check_int, single
from quantforge.indicators._kernels import ema_nb, rolling_sum_nb, wma_nb

log = logging.getLogger(__name__)


def _sma_segment(x: FloatArray, period: int) -> FloatArray:
    out: FloatArray = rolling_sum_nb(x, period, float(period))
    return out


def sma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Return the simple moving average (TA-Lib ``SMA``).

    Parameters
    ----------
    values : array_like
        1-D series (e.g. close prices).
    period : int
        Window length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN (warm-up).

    Raises
    ------
    ConfigError
        If ``values`` is not 1-D numeric or ``period < 1``.

    Examples
    --------
    >>> sma([1.0, 2.0, 3.0, 4.0], 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(_sma_segment, [x], period)


def _ema_segment(x: FloatArray, period: int) -> FloatArray:
    out: FloatArray = ema_nb(x, period, period - 1)
    return out


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Return the exponential moving average with ``k = 2 / (period + 1)`` (TA-Lib ``EMA``).

    The first value, at index ``period - 1``, is the simple mean of the first ``period`` values
    (TA-Lib's classic seeding); then ``ema = (x - ema) * k + ema``.

    Parameters
    ----------
    values : array_like
        1-D series.
    period : int
        Span, ``>= 1``.

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
    >>> ema([1.0, 2.0, 3.0, 4.0], 3).tolist()
    [nan, nan, 2.0, 3.0]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(_ema_segment, [x], period)


def wma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Return the linearly weighted moving average (TA-Lib ``WMA``).

    Weights are ``1, 2, ..., period`` from the oldest to the newest value, divided by
    ``period * (period + 1) / 2``.

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
    >>> wma([1.0, 2.0, 4.0], 2).tolist()
    [nan, 1.6666666666666667, 3.3333333333333335]
    """
    period = check_int("period", period)
    x = as_float_array("values", values)
    return single(wma_nb, [x], period)
