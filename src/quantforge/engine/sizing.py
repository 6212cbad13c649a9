"""Position sizing modes; each resolves to a quantity at fill time, from the fill price."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantforge.engine.records import SizeMode
from quantforge.errors import ConfigError


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        msg = f"{name} must be a positive finite number, got {value!r}"
        raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class FixedQty:
    """Trade ``qty`` units of the base asset (rounded down to the lot step)."""

    qty: float

    def __post_init__(self) -> None:
        _positive("qty", self.qty)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (mode, value) pair."""
        return int(SizeMode.QTY), float(self.qty)


@dataclass(frozen=True, slots=True)
class FixedNotional:
    """Trade ``notional`` units of quote currency worth at the fill price."""

    notional: float

    def __post_init__(self) -> None:
        _positive("notional", self.notional)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (mode, value) pair."""
        return int(SizeMode.NOTIONAL), float(self.notional)


@dataclass(frozen=True, slots=True)
class PercentEquity:
    """Trade ``fraction`` of current equity (1.0 = all of it), fees included, at the fill price."""

    fraction: float

    def __post_init__(self) -> None:
        _positive("fraction", self.fraction)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (mode, value) pair."""
        return int(SizeMode.PERCENT_EQUITY), float(self.fraction)


@dataclass(frozen=True, slots=True)
class RiskPercent:
    """Size so that hitting the attached stop loses ``fraction`` of equity (before costs).

    qty = fraction * equity / |fill price - stop price|; orders without a stop are rejected.
    """

    fraction: float

    def __post_init__(self) -> None:
        _positive("fraction", self.fraction)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (mode, value) pair."""
        return int(SizeMode.RISK_PERCENT), float(self.fraction)


Sizer = FixedQty | FixedNotional | PercentEquity | RiskPercent
