"""Time bars (klines) from trades, aggregated the way Binance builds its own klines."""

from __future__ import annotations

import logging

import polars as pl

from quantforge.data.schema import BAR_TIME, BAR_TIME_DTYPE, TRADE_TIME, interval_every
from quantforge.errors import DataValidationError

log = logging.getLogger(__name__)

__all__ = ["time_bars"]


def time_bars(trades: pl.DataFrame, interval: str) -> pl.DataFrame:
    """Aggregate trades into UTC-aligned time bars in the canonical bar schema.

    open/close are the first/last trade price in time order (ties by ``trade_id``), high/low the
    extremes, ``volume`` the summed quantity, ``quote_volume`` the summed ``quote_qty`` (else
    price × qty), ``trades`` the count, ``taker_buy_base``/``taker_buy_quote`` the same sums over
    trades whose buyer was the taker (``is_buyer_maker`` false). Only intervals that contain a
    trade get a bar: unlike Binance, no zero-volume bars are invented for quiet intervals.

    Parameters
    ----------
    trades
        Trades with ``time``, ``price``, ``qty`` and optionally ``is_buyer_maker``,
        ``trade_id``, ``quote_qty``.
    interval
        Bar length, e.g. ``"1m"``.

    Returns
    -------
    polars.DataFrame
        ``open_time`` (Datetime ms UTC), OHLCV, ``quote_volume``, ``trades`` and, when
        ``is_buyer_maker`` is present, ``taker_buy_base`` and ``taker_buy_quote``.

    Raises
    ------
    DataValidationError
        When ``time``, ``price`` or ``qty`` is missing.

    Examples
    --------
    >>> minute_bars = time_bars(trades, "1m")  # doctest: +SKIP
    """
    missing = [c for c in (TRADE_TIME, "price", "qty") if c not in trades.columns]
    if missing:
        msg = f"trades lack column(s) {', '.join(missing)} (have: {', '.join(trades.columns)})"
        raise DataValidationError(msg)
    keys = [TRADE_TIME, "trade_id"] if "trade_id" in trades.columns else [TRADE_TIME]
    frame = trades.sort(keys, maintain_order=True)
    value = (
        pl.col("quote_qty") if "quote_qty" in frame.columns else (pl.col("price") * pl.col("qty"))
    )
    aggs = [
        pl.col("price").first().alias("open"),
        pl.col("price").max().alias("high"),
        pl.col("price").min().alias("low"),
        pl.col("price").last().alias("close"),
        pl.col("qty").sum().alias("volume"),
        value.sum().alias("quote_volume"),
        pl.len().cast(pl.Int64).alias("trades"),
    ]
    if "is_buyer_maker" in frame.columns:
        taker = ~pl.col("is_buyer_maker")
        aggs += [
            pl.col("qty").filter(taker).sum().alias("taker_buy_base"),
            value.filter(taker).sum().alias("taker_buy_quote"),
        ]
    every = interval_every(interval)
    out = (
        frame.with_columns(pl.col(TRADE_TIME).dt.truncate(every).alias(BAR_TIME))
        .group_by(BAR_TIME, maintain_order=True)
        .agg(aggs)
        .with_columns(pl.col(BAR_TIME).cast(BAR_TIME_DTYPE))
        .sort(BAR_TIME)
    )
    log.debug("time bars %s: %d trades -> %d bars", interval, frame.height, out.height)
    return out
