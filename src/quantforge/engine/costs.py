"""Trading costs: maker/taker fees and the slippage models, lowered to kernel scalars."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantforge.engine.records import SlippageKind
from quantforge.errors import ConfigError


def _check_rate(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value < high):
        msg = f"{name}={value!r} is out of range; use a fraction in [{low}, {high}) (0.001 = 0.1%)"
        raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class Fees:
    """Maker and taker fee rates as fractions of traded notional (0.0004 = 4 bps).

    A limit order that rested for at least one bar pays ``maker``; market orders, stops and
    limits that are marketable when they arrive pay ``taker``. A negative maker rate is a rebate.

    Examples
    --------
    >>> Fees(maker=0.0002, taker=0.0004).taker
    0.0004
    """

    maker: float = 0.0
    taker: float = 0.0

    def __post_init__(self) -> None:
        _check_rate("maker", self.maker, -0.01, 0.1)
        _check_rate("taker", self.taker, 0.0, 0.1)


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Fill market and stop orders exactly at the trigger price (the open, or the stop)."""

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        return int(SlippageKind.NONE), 0.0


@dataclass(frozen=True, slots=True)
class FixedBps:
    """Move every taker fill against the trader by ``bps`` basis points of its price."""

    bps: float

    def __post_init__(self) -> None:
        _check_rate("bps", self.bps, 0.0, 10_000.0)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        return int(SlippageKind.FIXED_BPS), float(self.bps)


@dataclass(frozen=True, slots=True)
class RangeFraction:
    """Move taker fills by ``fraction`` of the previous bar's high-low range (known at decision)."""

    fraction: float

    def __post_init__(self) -> None:
        _check_rate("fraction", self.fraction, 0.0, 10.0)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        return int(SlippageKind.RANGE_FRACTION), float(self.fraction)


@dataclass(frozen=True, slots=True)
class AtrFraction:
    """Move taker fills by ``fraction`` of the ATR(``period``) known at the previous close."""

    fraction: float
    period: int = 14

    def __post_init__(self) -> None:
        _check_rate("fraction", self.fraction, 0.0, 10.0)
        if self.period < 1:
            msg = f"ATR period must be >= 1, got {self.period}"
            raise ConfigError(msg)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        return int(SlippageKind.ATR_FRACTION), float(self.fraction)


@dataclass(frozen=True, slots=True)
class SqrtImpact:
    """Square-root market impact: ``coef * price * sqrt(qty / previous bar volume)``."""

    coef: float

    def __post_init__(self) -> None:
        _check_rate("coef", self.coef, 0.0, 100.0)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        return int(SlippageKind.SQRT_IMPACT), float(self.coef)


SlippageModel = NoSlippage | FixedBps | RangeFraction | AtrFraction | SqrtImpact
