"""Instrument rules: price tick, lot step, minimum notional, market type and leverage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from quantforge.engine.records import MarketType
from quantforge.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Instrument:
    """Exchange rules for one symbol.

    Parameters
    ----------
    tick_size
        Price increment; order prices round to the nearest tick, slipped fills round against the
        trader. 0 disables rounding.
    lot_size
        Quantity increment; quantities round down. 0 disables rounding.
    min_notional
        Orders worth less (qty * price) are rejected, except a reduce-only order closing the
        whole position.
    market
        ``"spot"`` (no short positions) or ``"linear_perp"`` (shorts allowed).
    leverage
        Maximum gross exposure over equity; 1.0 means no borrowing.
    maintenance_margin
        Perpetuals only: maintenance margin rate. A position is liquidated (at its liquidation
        price, exit reason ``liquidation``) when equity would fall to
        ``maintenance_margin * |position| * price``. 0 disables liquidation.
    """

    tick_size: float = 0.0
    lot_size: float = 0.0
    min_notional: float = 0.0
    market: Literal["spot", "linear_perp"] = "spot"
    leverage: float = 1.0
    maintenance_margin: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_notional"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                msg = f"Instrument.{name} must be >= 0, got {value!r}"
                raise ConfigError(msg)
        if self.market not in ("spot", "linear_perp"):
            msg = f"Instrument.market must be 'spot' or 'linear_perp', got {self.market!r}"
            raise ConfigError(msg)
        if not (math.isfinite(self.leverage) and self.leverage > 0.0):
            msg = f"Instrument.leverage must be > 0, got {self.leverage!r}"
            raise ConfigError(msg)
        if not (math.isfinite(self.maintenance_margin) and 0.0 <= self.maintenance_margin < 1.0):
            msg = (
                f"Instrument.maintenance_margin must be in [0, 1), got {self.maintenance_margin!r}"
            )
            raise ConfigError(msg)
        if self.market == "spot" and self.maintenance_margin != 0.0:
            msg = (
                "spot positions cannot be liquidated; maintenance_margin needs market='linear_perp'"
            )
            raise ConfigError(msg)
        if self.market == "spot" and self.leverage != 1.0:
            msg = "spot instruments trade without leverage; use market='linear_perp' for leverage"
            raise ConfigError(msg)

    @property
    def market_code(self) -> int:
        """Return the kernel code of the market type."""
        return int(MarketType.SPOT if self.market == "spot" else MarketType.LINEAR_PERP)
