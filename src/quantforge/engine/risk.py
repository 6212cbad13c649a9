"""Risk rails: limits checked on every fill and at every bar's close."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantforge.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits whose breaches are recorded, never raised.

    Parameters
    ----------
    max_position_qty
        Largest absolute position (base units); an order that would exceed it is rejected
        (``max_position``).
    max_notional
        Largest absolute position value at the fill price (``max_notional``).
    max_leverage
        Largest gross exposure over equity after the fill (``max_leverage``); stricter of this and
        `Instrument.leverage` applies.
    max_open_orders
        Orders working at once; more are rejected (``max_open_orders``).
    daily_loss_limit
        Fraction of equity at the previous UTC day's last close; losing more (measured at a bar's
        close) cancels all orders, flattens at the next open (exit reason ``halt``) and rejects
        new orders until the first bar of the next UTC day closes.
    max_drawdown
        Fraction below the highest close equity that triggers the kill switch: cancel, flatten,
        and reject every later order except reduce-only ones.
    """

    max_position_qty: float | None = None
    max_notional: float | None = None
    max_leverage: float | None = None
    max_open_orders: int | None = None
    daily_loss_limit: float | None = None
    max_drawdown: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_position_qty", "max_notional", "max_leverage"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0.0):
                msg = f"RiskLimits.{name} must be a positive number or None, got {value!r}"
                raise ConfigError(msg)
        for name in ("daily_loss_limit", "max_drawdown"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 < value < 1.0):
                msg = f"RiskLimits.{name} must be a fraction in (0, 1) (0.05 = 5%), got {value!r}"
                raise ConfigError(msg)
        if self.max_open_orders is not None and self.max_open_orders < 1:
            msg = f"RiskLimits.max_open_orders must be >= 1 or None, got {self.max_open_orders}"
            raise ConfigError(msg)

    @property
    def checks_bar_close(self) -> bool:
        """Return whether a rail is evaluated at every bar's close (daily loss, drawdown)."""
        return self.daily_loss_limit is not None or self.max_drawdown is not None
