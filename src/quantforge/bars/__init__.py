"""Bars from trades: time bars and information-driven tick, volume and dollar bars (pure)."""

from __future__ import annotations

from quantforge.bars.threshold import (
    BAR_KINDS,
    bar_threshold,
    dollar_bars,
    tick_bars,
    trade_bars,
    volume_bars,
)
from quantforge.bars.time import time_bars

__all__ = [
    "BAR_KINDS",
    "bar_threshold",
    "dollar_bars",
    "tick_bars",
    "time_bars",
    "trade_bars",
    "volume_bars",
]
