"""Volume-based indicators: on-balance volume and VWAP (rolling and session-anchored)."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError
from quantforge.indicators._common import (
    as_float_arrays,
    by_finite_segments,
    check_int,
    single,
)
from quantforge.indicators._kernels import obv_nb, rolling_vwap_nb, session_vwap_nb

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000


def obv(close: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """Return on-balance volume (TA-Lib ``OBV``).

    Starts at ``volume[0]``; each bar adds its volume when the close rises, subtracts it when the
    close falls and leaves the total unchanged when the close is equal.

    Parameters
    ----------
    close, volume : array_like
        1-D arrays of equal length.

    Returns
    -------
    numpy.ndarray
        float64, same length; no warm-up (TA-Lib lookback 0).

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length.

    Examples
    --------
    >>> obv([1.0, 2.0, 1.0, 1.0], [5.0, 6.0, 7.0, 8.0]).tolist()
    [5.0, 11.0, 4.0, 4.0]
    """
    c, v = as_float_arrays(close=close, volume=volume)
    return single(obv_nb, [c, v])


def typical_price(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """Return ``(high + low + close) / 3`` (TA-Lib ``TYPPRICE``), the usual VWAP price.

    Parameters
    ----------
    high, low, close : array_like
        1-D arrays of equal length.

    Returns
    -------
    numpy.ndarray
        float64, same length; no warm-up.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length.

    Examples
    --------
    >>> typical_price([3.0], [1.0], [2.0]).tolist()
    [2.0]
    """
    h, lo, c = as_float_arrays(high=high, low=low, close=close)
    out: FloatArray = (h + lo + c) / 3.0
    return out


def rolling_vwap(price: npt.ArrayLike, volume: npt.ArrayLike, period: int) -> FloatArray:
    """Return the volume-weighted average price over the trailing ``period`` bars.

    ``sum(price * volume) / sum(volume)`` over the window, current bar included.

    Parameters
    ----------
    price, volume : array_like
        1-D arrays of equal length (``price`` is usually `typical_price` or the close).
    period : int
        Window length, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        float64, same length; the first ``period - 1`` values are NaN, and so is any window whose
        total volume is 0.

    Raises
    ------
    ConfigError
        If the arrays are not 1-D numeric of equal length or ``period < 1``.

    Examples
    --------
    >>> rolling_vwap([10.0, 20.0, 30.0], [1.0, 3.0, 0.0], 2).tolist()
    [nan, 17.5, 20.0]
    """
    period = check_int("period", period)
    p, v = as_float_arrays(price=price, volume=volume)
    return single(rolling_vwap_nb, [p, v], period)


def _session_starts(
    n: int, open_time: npt.ArrayLike | None, session: npt.ArrayLike | None
) -> npt.NDArray[np.bool_]:
    if (open_time is None) == (session is None):
        msg = (
            "session_vwap needs exactly one anchor: open_time=<bar start times> (anchors at each "
            "UTC day) or session=<one key per bar>"
        )
        raise ConfigError(msg)
    if open_time is not None:
        times = np.asarray(open_time)
        if np.issubdtype(times.dtype, np.datetime64):
            keys = times.astype("datetime64[D]").astype(np.int64)
        elif np.issubdtype(times.dtype, np.integer):
            keys = np.floor_divide(times.astype(np.int64), _DAY_MS)
        else:
            msg = (
                f"open_time must be int64 milliseconds since the epoch (UTC) or datetime64; "
                f"got dtype {times.dtype}"
            )
            raise ConfigError(msg)
        name = "open_time"
    else:
        keys = np.asarray(session)
        name = "session"
    if keys.ndim != 1 or keys.shape[0] != n:
        msg = f"{name} must be 1-D with one value per bar ({n}); got shape {keys.shape}"
        raise ConfigError(msg)
    starts = np.ones(n, dtype=np.bool_)
    if n > 1:
        starts[1:] = keys[1:] != keys[:-1]
    return starts


def session_vwap(
    price: npt.ArrayLike,
    volume: npt.ArrayLike,
    *,
    open_time: npt.ArrayLike | None = None,
    session: npt.ArrayLike | None = None,
) -> FloatArray:
    """Return the VWAP anchored at the start of each session (cumulative within the session).

    Give exactly one anchor: ``open_time`` (bar start, int64 ms since the epoch or datetime64)
    starts a session at every UTC midnight; ``session`` is any per-bar key (e.g. an exchange
    trading date) and a new session starts wherever the key changes from the previous bar.

    Parameters
    ----------
    price, volume : array_like
        1-D arrays of equal length (``price`` is usually `typical_price`).
    open_time : array_like, optional
        Bar start times; anchors at UTC day boundaries.
    session : array_like, optional
        Session key per bar (any dtype comparable with ``!=``).

    Returns
    -------
    numpy.ndarray
        float64, same length; no warm-up (the first bar of a session is its own price), NaN while
        the session's cumulative volume is 0.

    Raises
    ------
    ConfigError
        If both or neither anchor is given, lengths differ, or ``open_time`` has another dtype.

    Examples
    --------
    >>> t = [0, 60_000, 86_400_000]
    >>> session_vwap([10.0, 20.0, 30.0], [1.0, 1.0, 2.0], open_time=t).tolist()
    [10.0, 15.0, 30.0]
    """
    p, v = as_float_arrays(price=price, volume=volume)
    starts = _session_starts(p.shape[0], open_time, session)

    def run(pp: FloatArray, vv: FloatArray, ss: npt.NDArray[np.bool_]) -> tuple[FloatArray, ...]:
        return (session_vwap_nb(pp, vv, ss),)

    return by_finite_segments(run, [p, v], 1, extra=[starts])[0]
