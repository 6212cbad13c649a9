"""Tick, volume and dollar bars from trades: a new bar each time a running total hits a threshold.

The running total is the trade count (tick bars), the base quantity (volume bars) or the traded
value in quote currency (dollar bars). Trades are taken in time order (ties by ``trade_id``); each
trade adds its amount to the current bar, and the bar closes *after* the first trade that brings
the total to ``>= threshold``. **The trade that crosses the threshold goes wholly into the bar it
closes** — trades are never split, so a bar's total is at least the threshold and exceeds it by
less than that last trade's amount; the next bar starts again from zero. The trades after the last
full bar form a final bar marked ``complete=False``.

The threshold is fixed, either given directly or derived from a target number of bars per day:
``threshold = total amount / days spanned / per_day`` (days spanned = time from first to last trade,
so a few minutes of trades work too).

Dollar value is ``quote_qty`` when the frame has it (Binance's own price × qty), else
``price * qty``. Buy volume is the base quantity of trades whose buyer was the taker
(``is_buyer_maker`` false).
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import polars as pl

from quantforge._typing import FloatArray
from quantforge.bars._kernels import threshold_bar_ends_nb
from quantforge.data.schema import TRADE_TIME, TRADE_TIME_DTYPE
from quantforge.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = [
    "BAR_KINDS",
    "bar_threshold",
    "dollar_bars",
    "tick_bars",
    "trade_bars",
    "volume_bars",
]

#: kinds of threshold bars
BAR_KINDS: Final = ("tick", "volume", "dollar")
_DAY_US: Final = 86_400_000_000
_NEEDED: Final = (TRADE_TIME, "price", "qty")

_OUT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "open_time": TRADE_TIME_DTYPE,
    "close_time": TRADE_TIME_DTYPE,
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "dollar_value": pl.Float64(),
    "vwap": pl.Float64(),
    "trades": pl.Int64(),
    "buy_volume": pl.Float64(),
    "complete": pl.Boolean(),
}


def tick_bars(
    trades: pl.DataFrame, threshold: float | None = None, *, per_day: float | None = None
) -> pl.DataFrame:
    """Return bars of ``threshold`` trades each (see `trade_bars`).

    Examples
    --------
    >>> bars = tick_bars(trades, 1000)  # doctest: +SKIP
    """
    return trade_bars(trades, "tick", threshold, per_day=per_day)


def volume_bars(
    trades: pl.DataFrame, threshold: float | None = None, *, per_day: float | None = None
) -> pl.DataFrame:
    """Return bars holding at least ``threshold`` base quantity each (see `trade_bars`).

    Examples
    --------
    >>> bars = volume_bars(trades, 50.0)  # 50 BTC per bar  # doctest: +SKIP
    """
    return trade_bars(trades, "volume", threshold, per_day=per_day)


def dollar_bars(
    trades: pl.DataFrame, threshold: float | None = None, *, per_day: float | None = None
) -> pl.DataFrame:
    """Return bars holding at least ``threshold`` quote value each (see `trade_bars`).

    Examples
    --------
    >>> bars = dollar_bars(trades, per_day=50)  # about 50 bars a day  # doctest: +SKIP
    """
    return trade_bars(trades, "dollar", threshold, per_day=per_day)


def trade_bars(
    trades: pl.DataFrame,
    kind: str,
    threshold: float | None = None,
    *,
    per_day: float | None = None,
) -> pl.DataFrame:
    """Build tick, volume or dollar bars from trades.

    Parameters
    ----------
    trades
        Trades with ``time`` (Datetime), ``price``, ``qty`` and optionally ``is_buyer_maker``,
        ``trade_id``, ``quote_qty``.
    kind
        ``"tick"``, ``"volume"`` or ``"dollar"``.
    threshold
        Amount per bar (trades, base quantity or quote value). Give this or ``per_day``.
    per_day
        Target number of bars per day; the threshold is derived with `bar_threshold`.

    Returns
    -------
    polars.DataFrame
        One row per bar: ``open_time`` (first trade), ``close_time`` (last trade), OHLC,
        ``volume``, ``dollar_value``, ``vwap``, ``trades``, ``buy_volume``, ``complete``.

    Raises
    ------
    ConfigError
        Unknown kind, non-positive threshold, or both/neither of threshold and per_day.
    DataValidationError
        Missing columns, or NaN / negative prices or quantities.

    Examples
    --------
    >>> bars = trade_bars(trades, "dollar", 1_000_000.0)  # doctest: +SKIP
    """
    if kind not in BAR_KINDS:
        msg = f"unknown bar kind {kind!r}; use one of {', '.join(BAR_KINDS)}"
        raise ConfigError(msg)
    if (threshold is None) == (per_day is None):
        msg = "give exactly one of threshold (amount per bar) and per_day (bars per day)"
        raise ConfigError(msg)
    ordered = _prepare(trades)
    if threshold is None:
        assert per_day is not None
        threshold = bar_threshold(ordered, kind, per_day)
    if not threshold > 0:
        msg = f"threshold must be > 0, got {threshold!r}"
        raise ConfigError(msg)
    if kind == "tick":
        threshold = float(max(1, round(threshold)))

    if ordered.height == 0:
        return pl.DataFrame(schema=_OUT_SCHEMA)
    price = ordered["price"].to_numpy()
    qty = ordered["qty"].to_numpy()
    value = _dollar_value(ordered)
    measure: FloatArray
    if kind == "tick":
        measure = np.ones(price.shape[0], dtype=np.float64)
    elif kind == "volume":
        measure = qty
    else:
        measure = value
    ends, last_complete = threshold_bar_ends_nb(np.ascontiguousarray(measure), float(threshold))
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]

    times = ordered[TRADE_TIME].cast(TRADE_TIME_DTYPE).to_physical().to_numpy()
    if "is_buyer_maker" in ordered.columns:
        buy = np.where(ordered["is_buyer_maker"].to_numpy(), 0.0, qty)
    else:
        buy = np.full(qty.shape[0], np.nan)
    volume = np.add.reduceat(qty, starts)
    dollars = np.add.reduceat(value, starts)
    complete = np.ones(ends.shape[0], dtype=np.bool_)
    complete[-1] = last_complete
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, dollars / volume, np.nan)
    out = pl.DataFrame(
        {
            "open_time": pl.Series(times[starts]).cast(TRADE_TIME_DTYPE),
            "close_time": pl.Series(times[ends - 1]).cast(TRADE_TIME_DTYPE),
            "open": price[starts],
            "high": np.maximum.reduceat(price, starts),
            "low": np.minimum.reduceat(price, starts),
            "close": price[ends - 1],
            "volume": volume,
            "dollar_value": dollars,
            "vwap": vwap,
            "trades": (ends - starts).astype(np.int64),
            "buy_volume": np.add.reduceat(buy, starts),
            "complete": complete,
        },
        schema=_OUT_SCHEMA,
    )
    log.debug(
        "%s bars: %d trades -> %d bars (threshold %g)", kind, len(price), out.height, threshold
    )
    return out


def bar_threshold(trades: pl.DataFrame, kind: str, per_day: float) -> float:
    """Return the fixed threshold that yields about ``per_day`` bars per day on these trades.

    ``threshold = total amount / days spanned / per_day``, where days spanned is the time from
    the first to the last trade (fractional days allowed).

    Raises
    ------
    ConfigError
        For a non-positive ``per_day``, an unknown kind, or trades that span no time.

    Examples
    --------
    >>> bar_threshold(trades, "dollar", 50)  # doctest: +SKIP
    """
    if kind not in BAR_KINDS:
        msg = f"unknown bar kind {kind!r}; use one of {', '.join(BAR_KINDS)}"
        raise ConfigError(msg)
    if not per_day > 0:
        msg = f"per_day must be > 0, got {per_day!r}"
        raise ConfigError(msg)
    ordered = _prepare(trades)
    times = ordered[TRADE_TIME].cast(TRADE_TIME_DTYPE).to_physical().to_numpy()
    span_us = int(times.max() - times.min()) if times.size else 0
    if span_us <= 0:
        msg = "cannot derive a threshold from per_day: the trades span no time; give threshold"
        raise ConfigError(msg)
    if kind == "tick":
        total = float(ordered.height)
    elif kind == "volume":
        total = float(ordered["qty"].sum())
    else:
        total = float(_dollar_value(ordered).sum())
    days = span_us / _DAY_US
    return total / days / per_day


def _prepare(trades: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in _NEEDED if c not in trades.columns]
    if missing:
        msg = (
            f"trades lack column(s) {', '.join(missing)} (have: {', '.join(trades.columns)}); "
            "expected the canonical trade schema (time, price, qty, ...)"
        )
        raise DataValidationError(msg)
    bad = trades.select(
        (
            pl.col("price").is_null()
            | pl.col("price").is_nan()
            | (pl.col("price") <= 0)
            | pl.col("qty").is_null()
            | pl.col("qty").is_nan()
            | (pl.col("qty") < 0)
            | pl.col(TRADE_TIME).is_null()
        ).sum()
    ).item()
    if bad:
        msg = (
            f"{bad} trade(s) have a null/NaN/non-positive price, a negative or NaN quantity, or "
            "no time; clean them first"
        )
        raise DataValidationError(msg)
    if trades[TRADE_TIME].is_sorted():
        return trades
    keys = [TRADE_TIME, "trade_id"] if "trade_id" in trades.columns else [TRADE_TIME]
    return trades.sort(keys, maintain_order=True)


def _dollar_value(trades: pl.DataFrame) -> FloatArray:
    if "quote_qty" in trades.columns and trades["quote_qty"].null_count() == 0:
        return trades["quote_qty"].cast(pl.Float64).to_numpy()
    return (trades["price"] * trades["qty"]).to_numpy()
