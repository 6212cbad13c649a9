"""Declarative exits attached to entries: stop-loss, take-profit, trailing stop, timeout."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantforge.engine.records import TrailKind
from quantforge.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """A trailing stop distance: exactly one of ``percent``, ``atr_multiple`` or ``absolute``.

    The stop follows the best price seen since entry (the high for a long) at that distance;
    ``atr_multiple`` uses the ATR(``atr_period``) known at the previous bar's close.
    """

    percent: float | None = None
    atr_multiple: float | None = None
    absolute: float | None = None
    atr_period: int = 14

    def __post_init__(self) -> None:
        given = [v for v in (self.percent, self.atr_multiple, self.absolute) if v is not None]
        if len(given) != 1:
            msg = "TrailingStop needs exactly one of percent, atr_multiple or absolute"
            raise ConfigError(msg)
        if not (math.isfinite(given[0]) and given[0] > 0.0):
            msg = f"TrailingStop distance must be > 0, got {given[0]!r}"
            raise ConfigError(msg)
        if self.atr_period < 1:
            msg = f"TrailingStop.atr_period must be >= 1, got {self.atr_period}"
            raise ConfigError(msg)

    def lower(self) -> tuple[int, float]:
        """Return the kernel's (kind, value) pair."""
        if self.percent is not None:
            return int(TrailKind.PERCENT), float(self.percent)
        if self.atr_multiple is not None:
            return int(TrailKind.ATR), float(self.atr_multiple)
        assert self.absolute is not None
        return int(TrailKind.ABSOLUTE), float(self.absolute)


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Exits attached to every entry (fractions of the entry fill price).

    Parameters
    ----------
    stop_loss
        Stop-market exit at ``entry * (1 - stop_loss)`` for a long (``1 + stop_loss`` short).
    take_profit
        Limit exit at ``entry * (1 + take_profit)`` for a long (``1 - take_profit`` short).
    trailing
        Trailing stop (`TrailingStop`), or a float meaning ``TrailingStop(percent=...)``.
    timeout_bars
        Market exit at the open ``timeout_bars`` bars after the entry bar.

    The exits form one OCO group: the first to fill cancels the others.
    """

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: TrailingStop | float | None = None
    timeout_bars: int | None = None

    def __post_init__(self) -> None:
        for name in ("stop_loss", "take_profit"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0.0):
                msg = f"ExitRules.{name} must be a positive fraction (0.02 = 2%), got {value!r}"
                raise ConfigError(msg)
        if self.stop_loss is not None and self.stop_loss >= 1.0:
            msg = f"ExitRules.stop_loss={self.stop_loss} would put a long stop at or below zero"
            raise ConfigError(msg)
        if self.timeout_bars is not None and self.timeout_bars < 1:
            msg = f"ExitRules.timeout_bars must be >= 1, got {self.timeout_bars}"
            raise ConfigError(msg)

    @property
    def trailing_stop(self) -> TrailingStop | None:
        """Return the trailing stop as a `TrailingStop` (floats become percent)."""
        if self.trailing is None or isinstance(self.trailing, TrailingStop):
            return self.trailing
        return TrailingStop(percent=float(self.trailing))

    def lower(self) -> tuple[float, float, int, float, int]:
        """Return (sl_pct, tp_pct, trail_kind, trail_value, timeout_bars) for the kernel."""
        nan = math.nan
        trail = self.trailing_stop
        kind, value = trail.lower() if trail is not None else (int(TrailKind.NONE), nan)
        return (
            nan if self.stop_loss is None else float(self.stop_loss),
            nan if self.take_profit is None else float(self.take_profit),
            kind,
            value,
            0 if self.timeout_bars is None else int(self.timeout_bars),
        )
