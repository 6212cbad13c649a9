"""Indicators on Polars bar frames: describe them with `spec`, add them with `with_indicators`.

>>> import polars as pl
>>> bars = pl.DataFrame({"close": [1.0, 2.0, 3.0, 4.0, 5.0]})
>>> with_indicators(bars, fast=("sma", 2), slow=spec("ema", 3)).row(4)
(5.0, 4.5, 4.0)

Single-input indicators read ``close`` unless told otherwise (``spec("sma", 20, column="open")``);
multi-input ones read the canonical bar columns (``high``, ``low``, ``close``, ``volume``,
``open_time``), renamed with ``columns={"close": "mid"}``. A multi-output indicator named ``bb``
adds ``bb_upper``, ``bb_middle``, ``bb_lower``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from quantforge.errors import ConfigError
from quantforge.indicators.cache import IndicatorCache
from quantforge.indicators.registry import IndicatorInfo, IndicatorResult, Params, lookup

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """A named indicator with bound parameters and the frame columns it reads.

    Attributes
    ----------
    name : str
        Registry name (``"ema"``, ``"bollinger_bands"``, ...).
    params : tuple of (str, value)
        Canonical parameters, defaults filled in.
    columns : tuple of str
        Frame column for each input, in the registry's order.
    """

    name: str
    params: Params
    columns: tuple[str, ...]

    @property
    def info(self) -> IndicatorInfo:
        """Return the registry entry."""
        return lookup(self.name)

    def warmup(self) -> int:
        """Return the number of leading NaN bars (the longest over all outputs).

        For NaN-free input this is TA-Lib's lookback, e.g. 25 for ``spec("ema", 26)`` and
        33 for ``spec("macd")``; a strategy needs at least ``warmup() + 1`` bars per signal.

        Examples
        --------
        >>> spec("macd").warmup(), spec("dmi", 14).warmup()
        (33, 27)
        """
        return max(self.info.warmup(dict(self.params)))

    def output_names(self, key: str) -> tuple[str, ...]:
        """Return the column names this indicator adds under ``key``."""
        outputs = self.info.outputs
        return (key,) if not outputs else tuple(f"{key}_{out}" for out in outputs)


#: what `with_indicators` accepts per output: a spec, or the shorthand ``("ema", 20, ...)``
SpecLike: TypeAlias = IndicatorSpec | tuple[Any, ...]


def spec(
    name: str,
    *args: Any,
    column: str | None = None,
    columns: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> IndicatorSpec:
    """Return an `IndicatorSpec`: indicator ``name`` with parameters ``args``/``kwargs``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"ema"``, ``"rsi"``, ``"bollinger_bands"``, ``"session_vwap"``.
    *args, **kwargs
        The indicator's parameters (those after its input arrays), e.g. ``period=20``.
    column : str, optional
        Source column of a single-input indicator (default ``"close"``).
    columns : mapping, optional
        Renames of inputs, e.g. ``{"close": "mid"}``.

    Returns
    -------
    IndicatorSpec

    Raises
    ------
    ConfigError
        For an unknown indicator or bad parameters (validated when computed).

    Examples
    --------
    >>> spec("ema", 20).params
    (('period', 20),)
    >>> spec("atr", period=10, columns={"close": "mid"}).columns
    ('high', 'low', 'mid')
    """
    info = lookup(name)
    params = info.canonical_params(args, kwargs)
    renames = dict(columns or {})
    if column is not None:
        if len(info.inputs) != 1:
            msg = (
                f"{name} reads {len(info.inputs)} columns ({', '.join(info.inputs)}); "
                "use columns={...} to rename them"
            )
            raise ConfigError(msg)
        renames[info.inputs[0]] = column
    unknown = [k for k in renames if k not in info.inputs]
    if unknown:
        msg = f"{name} has no input {unknown[0]!r}; its inputs are {', '.join(info.inputs)}"
        raise ConfigError(msg)
    return IndicatorSpec(name, params, tuple(renames.get(i, i) for i in info.inputs))


def _as_spec(value: SpecLike) -> IndicatorSpec:
    if isinstance(value, IndicatorSpec):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return spec(value[0], *value[1:])
    msg = f"expected spec(...) or a tuple like ('ema', 20); got {value!r}"
    raise ConfigError(msg)


def _column(frame: pl.DataFrame, name: str, role: str) -> npt.NDArray[Any]:
    if name not in frame.columns:
        msg = (
            f"frame has no column {name!r} (columns: {', '.join(frame.columns)}); "
            "pass column=... / columns={...} to spec() to read another one"
        )
        raise ConfigError(msg)
    series = frame.get_column(name)
    if series.dtype == pl.Datetime:
        times: npt.NDArray[Any] = series.dt.epoch("ms").to_numpy()
        return times
    if role == "open_time" and series.dtype.is_integer():
        keys: npt.NDArray[Any] = series.cast(pl.Int64).to_numpy()
        return keys
    if series.dtype.is_numeric():
        values: npt.NDArray[Any] = series.cast(pl.Float64).to_numpy()
        return values
    msg = f"column {name!r} has dtype {series.dtype}; indicators need numeric columns"
    raise ConfigError(msg)


def _evaluate(
    indicator: IndicatorSpec,
    arrays: list[npt.NDArray[Any]],
    cache: IndicatorCache | None,
) -> IndicatorResult:
    if cache is not None:
        return cache.get(indicator.name, dict(indicator.params), arrays)
    return indicator.info.function(*arrays, **dict(indicator.params))


def compute(
    frame: pl.DataFrame, indicator: SpecLike, *, cache: IndicatorCache | None = None
) -> IndicatorResult:
    """Compute one indicator on a frame's columns and return its array(s).

    Parameters
    ----------
    frame : polars.DataFrame
        Bars with the columns the indicator reads.
    indicator : IndicatorSpec or tuple
        ``spec("rsi", 14)`` or the shorthand ``("rsi", 14)``.
    cache : IndicatorCache, optional
        Memoise the result (useful in parameter sweeps).

    Returns
    -------
    numpy.ndarray or NamedTuple of numpy.ndarray
        What the array function returns.

    Raises
    ------
    ConfigError
        For an unknown indicator, bad parameters or a missing column.

    Examples
    --------
    >>> import polars as pl
    >>> compute(pl.DataFrame({"close": [1.0, 2.0, 3.0]}), ("sma", 2)).tolist()
    [nan, 1.5, 2.5]
    """
    resolved = _as_spec(indicator)
    roles = resolved.info.inputs
    arrays = [_column(frame, c, r) for c, r in zip(resolved.columns, roles, strict=True)]
    return _evaluate(resolved, arrays, cache)


def with_indicators(
    frame: pl.DataFrame, *, cache: IndicatorCache | None = None, **indicators: SpecLike
) -> pl.DataFrame:
    """Return ``frame`` with one column per indicator output added (or replaced).

    Parameters
    ----------
    frame : polars.DataFrame
        Bars (any columns; each indicator reads the ones its spec names).
    cache : IndicatorCache, optional
        Memoise results across calls.
    **indicators : IndicatorSpec or tuple
        Output name -> indicator. Multi-output indicators add ``<name>_<output>`` columns
        (``bb_upper``, ``macd_signal``, ``stoch_k``, ...).

    Returns
    -------
    polars.DataFrame
        A new frame; the input is not modified.

    Raises
    ------
    ConfigError
        For an unknown indicator, bad parameters or a missing column.

    Examples
    --------
    >>> import polars as pl
    >>> bars = pl.DataFrame({"close": [1.0, 2.0, 3.0, 4.0]})
    >>> with_indicators(bars, m=("macd", 1, 2, 1)).columns
    ['close', 'm_macd', 'm_signal', 'm_histogram']
    """
    columns: dict[str, npt.NDArray[Any]] = {}
    new: dict[str, npt.NDArray[np.float64]] = {}
    for key, value in indicators.items():
        resolved = _as_spec(value)
        for col, role in zip(resolved.columns, resolved.info.inputs, strict=True):
            if col not in columns:
                columns[col] = _column(frame, col, role)
        result = _evaluate(resolved, [columns[c] for c in resolved.columns], cache)
        outputs = (result,) if isinstance(result, np.ndarray) else tuple(result)
        for out_name, values in zip(resolved.output_names(key), outputs, strict=True):
            new[out_name] = values
    return frame.with_columns(
        [pl.Series(name, values, dtype=pl.Float64) for name, values in new.items()]
    )
