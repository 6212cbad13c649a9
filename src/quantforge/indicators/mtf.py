"""Multi-timeframe indicators without look-ahead: compute on higher bars, align to the base bars.

`mtf_indicator(bars_15m, "4h", ("ema", 20))` resamples the 15m bars to 4h bars on UTC boundaries
(open = first, high = max, low = min, close = last, volume = sum), computes the EMA on the 4h
closes and gives every 15m bar the value of the latest 4h bar that had **closed by that 15m bar's
close**. The 4h bar opening at 00:00 closes at 04:00, so the first 15m bar to see it is the 03:45
bar (its close is 04:00); the 03:30 bar still sees the previous 4h bar.

A higher bar is complete when all of its base bars are present (``bar_count`` equals the interval
ratio). Incomplete bars — the unfinished last one, the first one when the data starts mid-bar, and
bars that straddle a gap — are never used as if complete: they are dropped before computing
(``incomplete="drop"``, the indicator runs over the complete bars as one series) or kept as NaN
bars (``incomplete="nan"``, which by the NaN rule restarts the indicator's warm-up after them).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from quantforge._typing import FloatArray, IntArray
from quantforge.data.schema import OHLCV, interval_every, interval_ms, normalize_interval
from quantforge.errors import ConfigError, DataValidationError
from quantforge.indicators.cache import IndicatorCache
from quantforge.indicators.frame import SpecLike, compute
from quantforge.indicators.registry import IndicatorResult

log = logging.getLogger(__name__)

_SUMMED = ("volume", "quote_volume", "trades", "taker_buy_base", "taker_buy_quote")


def _open_time_ms(bars: pl.DataFrame) -> pl.Series:
    if "open_time" not in bars.columns:
        msg = f"bars need an open_time column (bar start, UTC); columns are {bars.columns}"
        raise ConfigError(msg)
    col = bars.get_column("open_time")
    if col.dtype == pl.Datetime:
        return col.dt.epoch("ms")
    if col.dtype.is_integer():
        return col.cast(pl.Int64)
    msg = f"open_time must be Datetime or int64 ms since the epoch; got dtype {col.dtype}"
    raise ConfigError(msg)


def _base_ms(open_ms: IntArray, base_interval: str | None) -> int:
    if base_interval is not None:
        return interval_ms(base_interval)
    steps = np.diff(open_ms)
    positive = steps[steps > 0]
    if positive.shape[0] == 0:
        msg = "cannot infer the bar interval from fewer than 2 bars; pass base_interval='15m'"
        raise ConfigError(msg)
    return int(positive.min())


def resample_bars(
    bars: pl.DataFrame, interval: str, *, base_interval: str | None = None
) -> pl.DataFrame:
    """Aggregate bars to a higher interval on UTC boundaries and flag incomplete ones.

    Parameters
    ----------
    bars : polars.DataFrame
        Base bars sorted by ``open_time`` (Datetime or int64 ms, UTC) with OHLCV columns;
        ``quote_volume``, ``trades``, ``taker_buy_*`` are summed when present.
    interval : str
        Higher interval (``"1h"``, ``"4h"``, ``"1d"``, ``"1w"`` (Monday 00:00), ``"1M"``); a whole
        multiple of the base interval.
    base_interval : str, optional
        Interval of ``bars``; inferred as the smallest step between bars when omitted.

    Returns
    -------
    polars.DataFrame
        ``open_time`` (Datetime ms UTC), the aggregated columns, ``close_time_ms`` (int64, end
        of the bar = start of the next), ``bar_count`` (base bars present) and ``complete``.

    Raises
    ------
    ConfigError
        For a bad interval or one that is not a multiple of the base interval.
    DataValidationError
        If ``open_time`` is not strictly increasing.

    Examples
    --------
    >>> import polars as pl
    >>> bars = pl.DataFrame({"open_time": [0, 60_000, 120_000], "open": [1.0, 2.0, 3.0],
    ...     "high": [2.0, 3.0, 4.0], "low": [0.5, 1.5, 2.5], "close": [2.0, 3.0, 4.0],
    ...     "volume": [1.0, 1.0, 1.0]})
    >>> resample_bars(bars, "2m", base_interval="1m")["complete"].to_list()
    [True, False]
    """
    interval = normalize_interval(interval)
    missing = [c for c in OHLCV if c not in bars.columns]
    if missing:
        msg = f"bars are missing columns {missing}; need open_time and {', '.join(OHLCV)}"
        raise ConfigError(msg)
    open_ms = _open_time_ms(bars)
    open_np = open_ms.to_numpy()
    if open_np.shape[0] > 1 and not bool(np.all(np.diff(open_np) > 0)):
        bad = int(np.flatnonzero(np.diff(open_np) <= 0)[0]) + 1
        msg = (
            f"open_time must be strictly increasing; row {bad} ({open_np[bad]} ms) is not after "
            "the previous row; sort and de-duplicate the bars first"
        )
        raise DataValidationError(msg)
    base = _base_ms(open_np, base_interval)
    if interval[-1] != "M":
        higher = interval_ms(interval)
        if higher <= base or higher % base != 0:
            msg = (
                f"interval {interval!r} ({higher} ms) must be a whole multiple (> 1) of the base "
                f"interval ({base} ms)"
            )
            raise ConfigError(msg)
    every = interval_every(interval)
    start = pl.col("open_time").dt.truncate(every)
    summed = [c for c in _SUMMED if c in bars.columns]
    frame = bars.select(
        pl.from_epoch(open_ms, time_unit="ms")
        .cast(pl.Datetime("ms"))
        .dt.replace_time_zone("UTC")
        .alias("open_time"),
        *[pl.col(c) for c in ("open", "high", "low", "close", *summed)],
    )
    out = (
        frame.group_by(start.alias("bucket"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            *[pl.col(c).sum() for c in summed],
            pl.len().cast(pl.Int64).alias("bar_count"),
        )
        .rename({"bucket": "open_time"})
    )
    end = pl.col("open_time").dt.offset_by(every)
    out = out.with_columns(
        end.dt.epoch("ms").alias("close_time_ms"),
        ((end.dt.epoch("ms") - pl.col("open_time").dt.epoch("ms")) // base).alias("_expected"),
    )
    return out.with_columns((pl.col("bar_count") == pl.col("_expected")).alias("complete")).drop(
        "_expected"
    )


def align_to_base(
    higher_close_ms: npt.ArrayLike, values: npt.ArrayLike, base_close_ms: npt.ArrayLike
) -> FloatArray:
    """Give each base bar the value of the latest higher bar closed by the base bar's close.

    Parameters
    ----------
    higher_close_ms : array_like of int
        Close time (exclusive end, ms) of each higher bar, ascending.
    values : array_like of float
        One value per higher bar.
    base_close_ms : array_like of int
        Close time (exclusive end, ms) of each base bar.

    Returns
    -------
    numpy.ndarray
        float64, one value per base bar; NaN before the first higher bar has closed.

    Raises
    ------
    ConfigError
        If lengths differ or ``higher_close_ms`` is not ascending.

    Examples
    --------
    >>> align_to_base([4, 8], [10.0, 20.0], [3, 4, 7, 8, 9]).tolist()
    [nan, 10.0, 10.0, 20.0, 20.0]
    """
    closes = np.asarray(higher_close_ms, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    base = np.asarray(base_close_ms, dtype=np.int64)
    if closes.shape != vals.shape or closes.ndim != 1:
        msg = (
            "higher_close_ms and values must be 1-D of equal length; "
            f"got {closes.shape} and {vals.shape}"
        )
        raise ConfigError(msg)
    if closes.shape[0] > 1 and not bool(np.all(np.diff(closes) > 0)):
        msg = "higher_close_ms must be strictly increasing"
        raise ConfigError(msg)
    idx = np.searchsorted(closes, base, side="right") - 1
    out = np.full(base.shape[0], np.nan)
    seen = idx >= 0
    out[seen] = vals[idx[seen]]
    return out


def mtf_indicator(
    bars: pl.DataFrame,
    interval: str,
    indicator: SpecLike,
    *,
    base_interval: str | None = None,
    incomplete: Literal["drop", "nan"] = "drop",
    cache: IndicatorCache | None = None,
) -> IndicatorResult:
    """Compute an indicator on higher-interval bars and align it to ``bars`` without look-ahead.

    Parameters
    ----------
    bars : polars.DataFrame
        Base bars (see `resample_bars`).
    interval : str
        Higher interval, e.g. ``"4h"``.
    indicator : IndicatorSpec or tuple
        ``spec("ema", 20)`` or ``("ema", 20)``; reads the resampled OHLCV columns.
    base_interval : str, optional
        Interval of ``bars`` (inferred when omitted).
    incomplete : {"drop", "nan"}, default "drop"
        What to do with higher bars missing base bars: drop them, or keep them as NaN bars
        (restarting the indicator after them).
    cache : IndicatorCache, optional
        Memoise the higher-interval computation.

    Returns
    -------
    numpy.ndarray or NamedTuple of numpy.ndarray
        Same shape as the indicator's result, one value per base bar: the value at the latest
        complete higher bar whose close time is at or before the base bar's close time.

    Raises
    ------
    ConfigError
        For bad intervals, parameters or ``incomplete``.

    Examples
    --------
    >>> import polars as pl
    >>> bars = pl.DataFrame({"open_time": [0, 60_000, 120_000, 180_000],
    ...     "open": [1.0, 2.0, 3.0, 4.0], "high": [1.0, 2.0, 3.0, 4.0],
    ...     "low": [1.0, 2.0, 3.0, 4.0], "close": [1.0, 2.0, 3.0, 4.0], "volume": [1.0] * 4})
    >>> mtf_indicator(bars, "2m", ("sma", 1), base_interval="1m").tolist()
    [nan, 2.0, 2.0, 4.0]
    """
    if incomplete not in ("drop", "nan"):
        msg = f"incomplete must be 'drop' or 'nan'; got {incomplete!r}"
        raise ConfigError(msg)
    higher = resample_bars(bars, interval, base_interval=base_interval)
    if incomplete == "drop":
        higher = higher.filter(pl.col("complete"))
    else:
        value_cols = [c for c in higher.columns if c in ("open", "high", "low", "close", *_SUMMED)]
        higher = higher.with_columns(
            [
                pl.when(pl.col("complete")).then(pl.col(c).cast(pl.Float64)).otherwise(None)
                for c in value_cols
            ]
        ).with_columns(pl.col(value_cols).fill_null(float("nan")))
    result = compute(higher, indicator, cache=cache)
    open_np = _open_time_ms(bars).to_numpy()
    base_close = open_np + _base_ms(open_np, base_interval)
    higher_close = higher.get_column("close_time_ms").to_numpy()
    if isinstance(result, np.ndarray):
        return align_to_base(higher_close, result, base_close)
    aligned = [align_to_base(higher_close, part, base_close) for part in result]
    return type(result)(*aligned)
