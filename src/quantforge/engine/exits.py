"""Declarative exits attached to entries: stop-loss, take-profit, trailing stop, timeout."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from quantforge._typing import FloatArray
from quantforge.engine.records import TrailKind
from quantforge.errors import ConfigError, DataValidationError

#: An absolute exit distance: one value for every entry, or one per bar (NaN = none).
Distance = float | FloatArray | None


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


def _check_distance(name: str, value: Distance) -> None:
    if value is None:
        return
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            msg = f"ExitRules.{name} must be a scalar or a 1-D array (one value per bar)"
            raise ConfigError(msg)
        # not NaN and not in (0, inf): at or below zero, or +inf (NaN compares false)
        with np.errstate(invalid="ignore"):
            bad = (value <= 0.0) | (value == np.inf)
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            msg = (f"ExitRules.{name}[{at}] = {value[at]!r}; distances are positive prices "
                   "(NaN = no exit for an entry signalled on that bar)")  # fmt: skip
            raise ConfigError(msg)
        return
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        msg = f"ExitRules.{name} must be a positive price distance, got {value!r}"
        raise ConfigError(msg)


def _distance_array(value: Distance, n: int, name: str) -> FloatArray:
    if value is None:
        return np.full(n, np.nan)
    if isinstance(value, np.ndarray):
        if value.shape != (n,):
            msg = f"ExitRules.{name} has shape {value.shape}; expected one value per bar, ({n},)"
            raise DataValidationError(msg)
        return np.ascontiguousarray(value, dtype=np.float64)
    return np.full(n, float(value))


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Exits attached to every entry (fractions of, or distances from, the entry fill price).

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
    stop_distance
        Stop-market exit at ``entry - stop_distance`` for a long (``+`` for a short), in price
        units: a float for every entry, or an array with one value per bar, read at the bar
        that *signalled* the entry (the entry fills from the next bar, so there is no
        look-ahead); NaN there = no stop for that entry. Excludes ``stop_loss``.
    take_profit_distance
        Limit exit at ``entry + take_profit_distance`` for a long (``-`` for a short), like
        ``stop_distance``. Excludes ``take_profit``.

    The exits form one OCO group: the first to fill cancels the others. Distance arrays are
    compared by identity (two rules holding equal but distinct arrays are not equal).
    """

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: TrailingStop | float | None = None
    timeout_bars: int | None = None
    stop_distance: Distance = field(default=None, compare=False)
    take_profit_distance: Distance = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_distance("stop_distance", self.stop_distance)
        _check_distance("take_profit_distance", self.take_profit_distance)
        if self.stop_loss is not None and self.stop_distance is not None:
            msg = "ExitRules: give stop_loss (a fraction) or stop_distance (a price), not both"
            raise ConfigError(msg)
        if self.take_profit is not None and self.take_profit_distance is not None:
            msg = ("ExitRules: give take_profit (a fraction) or take_profit_distance (a price), "
                   "not both")  # fmt: skip
            raise ConfigError(msg)
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

    @property
    def is_empty(self) -> bool:
        """Return whether no exit at all is set."""
        return (
            self.stop_loss is None
            and self.take_profit is None
            and self.trailing is None
            and self.timeout_bars is None
            and self.stop_distance is None
            and self.take_profit_distance is None
        )

    def merged(self, defaults: ExitRules) -> ExitRules:
        """Return these exits with ``defaults`` filling in the kinds these leave unset.

        The kinds are: stop (``stop_loss`` or ``stop_distance``), take-profit (``take_profit``
        or ``take_profit_distance``), trailing stop and timeout. A strategy's own exits merge
        this way with the backtest's ``exit_rules`` (an experiment's ``engine.risk``), on both
        engine paths.

        Raises
        ------
        ConfigError
            When both set the same kind: one of the two would be ignored.
        """
        if defaults.is_empty:
            return self
        if self.is_empty:
            return defaults
        kinds = (
            (
                "stop",
                (self.stop_loss, self.stop_distance),
                (defaults.stop_loss, defaults.stop_distance),
            ),
            (
                "take-profit",
                (self.take_profit, self.take_profit_distance),
                (defaults.take_profit, defaults.take_profit_distance),
            ),
            ("trailing stop", (self.trailing,), (defaults.trailing,)),
            ("timeout", (self.timeout_bars,), (defaults.timeout_bars,)),
        )
        for kind, own, default in kinds:
            if any(v is not None for v in own) and any(v is not None for v in default):
                msg = (
                    f"both the strategy and the backtest's exit rules set a {kind} exit, so one "
                    "would be ignored; set it in one place only (the strategy's parameters, or "
                    "the engine's exit_rules / an experiment's engine.risk)"
                )
                raise ConfigError(msg)
        own_stop = self.stop_loss is not None or self.stop_distance is not None
        own_take = self.take_profit is not None or self.take_profit_distance is not None
        return ExitRules(
            stop_loss=self.stop_loss if own_stop else defaults.stop_loss,
            take_profit=self.take_profit if own_take else defaults.take_profit,
            trailing=self.trailing if self.trailing is not None else defaults.trailing,
            timeout_bars=(
                self.timeout_bars if self.timeout_bars is not None else defaults.timeout_bars
            ),
            stop_distance=self.stop_distance if own_stop else defaults.stop_distance,
            take_profit_distance=(
                self.take_profit_distance if own_take else defaults.take_profit_distance
            ),
        )

    @property
    def has_distances(self) -> bool:
        """Return whether any absolute distance is set."""
        return self.stop_distance is not None or self.take_profit_distance is not None

    def distances(self, n: int) -> tuple[FloatArray, FloatArray]:
        """Return the per-bar (stop, take-profit) distance arrays for ``n`` bars (NaN = none)."""
        return (
            _distance_array(self.stop_distance, n, "stop_distance"),
            _distance_array(self.take_profit_distance, n, "take_profit_distance"),
        )

    def distances_at(self, i: int) -> tuple[float, float]:
        """Return the (stop, take-profit) distances for an entry signalled at bar ``i``."""
        return _distance_at(self.stop_distance, i), _distance_at(self.take_profit_distance, i)


def _distance_at(value: Distance, i: int) -> float:
    if value is None:
        return math.nan
    if isinstance(value, np.ndarray):
        return float(value[i])
    return float(value)
