"""Canonical frame schemas and interval arithmetic shared by every data module.

Bars (klines): ``open_time`` is the bar start as ``Datetime("ms", "UTC")``; prices and volumes are
float64; ``trades`` is int64. Columns other than ``open_time`` and OHLCV are optional (a CSV from
elsewhere may not have them), but when present they have these names and types.

Trades: ``time`` is ``Datetime("us", "UTC")`` (Binance spot dumps carry microseconds since
2025-01-01); ``trade_id`` int64; ``price``/``qty``/``quote_qty`` float64; ``is_buyer_maker`` bool.
Aggregate trades add ``first_trade_id``/``last_trade_id`` and use ``trade_id`` for the aggregate id.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from quantforge.errors import ConfigError

BAR_TIME: Final = "open_time"
TRADE_TIME: Final = "time"

BAR_TIME_DTYPE: Final = pl.Datetime("ms", "UTC")
TRADE_TIME_DTYPE: Final = pl.Datetime("us", "UTC")

#: required bar columns, in order
OHLCV: Final = ("open", "high", "low", "close", "volume")

BAR_SCHEMA: Final[dict[str, pl.DataType]] = {
    "open_time": BAR_TIME_DTYPE,
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "quote_volume": pl.Float64(),
    "trades": pl.Int64(),
    "taker_buy_base": pl.Float64(),
    "taker_buy_quote": pl.Float64(),
}
REQUIRED_BAR_COLUMNS: Final = ("open_time", *OHLCV)

TRADE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "time": TRADE_TIME_DTYPE,
    "trade_id": pl.Int64(),
    "price": pl.Float64(),
    "qty": pl.Float64(),
    "quote_qty": pl.Float64(),
    "is_buyer_maker": pl.Boolean(),
    "is_best_match": pl.Boolean(),
    "first_trade_id": pl.Int64(),
    "last_trade_id": pl.Int64(),
}
REQUIRED_TRADE_COLUMNS: Final = ("time", "trade_id", "price", "qty", "is_buyer_maker")

#: catalog "interval" partition values for tick data
TRADES_KIND: Final = "trades"
AGG_TRADES_KIND: Final = "aggTrades"

_UNIT_MS: Final = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_INTERVAL_RE: Final = re.compile(r"^(\d+)(s|m|h|d|w|M|mo)$")

#: every kline interval Binance serves, in order
BINANCE_INTERVALS: Final = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip


def normalize_interval(interval: str) -> str:
    """Return the canonical spelling of a bar interval (``1mo`` → ``1M``).

    Raises
    ------
    ConfigError
        If the string is not ``<n><unit>`` with unit in s, m, h, d, w, M (month).
    """
    match = _INTERVAL_RE.match(interval.strip())
    if match is None or int(match.group(1)) <= 0:
        msg = (
            f"invalid interval {interval!r}; use <n><unit> with unit s, m, h, d, w or M (month), "
            "e.g. 1m, 15m, 4h, 1d, 1M"
        )
        raise ConfigError(msg)
    n, unit = match.groups()
    return f"{int(n)}{'M' if unit in ('M', 'mo') else unit}"


def interval_ms(interval: str) -> int:
    """Return the fixed length of an interval in milliseconds.

    Raises
    ------
    ConfigError
        For calendar-month intervals (``1M``), whose length varies; use `interval_every`.

    Examples
    --------
    >>> interval_ms("15m")
    900000
    """
    canon = normalize_interval(interval)
    n, unit = int(canon[:-1]), canon[-1]
    if unit == "M":
        msg = f"interval {canon!r} has no fixed length in milliseconds (months vary)"
        raise ConfigError(msg)
    return n * _UNIT_MS[unit]


def interval_every(interval: str) -> str:
    """Return the Polars duration string for an interval (``15m`` → ``15m``, ``1M`` → ``1mo``)."""
    canon = normalize_interval(interval)
    n, unit = canon[:-1], canon[-1]
    return {"s": f"{n}s", "m": f"{n}m", "h": f"{n}h", "d": f"{n}d", "w": f"{n}w", "M": f"{n}mo"}[
        unit
    ]
