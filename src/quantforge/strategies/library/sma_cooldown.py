"""``sma_cooldown``: SMA crossover with a cooldown after exits and a daily loss limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from quantforge._typing import BoolArray, IntArray
from quantforge.strategies.base import Context, Fill, Strategy
from quantforge.strategies.library._common import (
    BarArrays,
    StrategyDefinition,
    as_arrays,
    crosses_above,
    crosses_below,
    get_float,
    get_int,
    indicator,
)
from quantforge.strategies.params import Param, ParamSpace

if TYPE_CHECKING:
    from quantforge.indicators.cache import IndicatorCache

_DAY_MS = 86_400_000


class SmaCooldownStrategy(Strategy):
    """Event-path ``sma_cooldown`` (see `SmaCooldown` for the rules).

    ``state`` is one of ``"flat"``, ``"entering"`` (entry order working), ``"long"``,
    ``"exiting"`` (exit order working); ``transitions`` lists ``(bar, state)`` changes.
    """

    def __init__(
        self,
        up: BoolArray,
        down: BoolArray,
        time_ms: IntArray,
        stop_pct: float,
        cooldown_bars: int,
        daily_loss_limit: float,
    ) -> None:
        self.up, self.down, self.time_ms = up, down, time_ms
        self.stop_pct = stop_pct
        self.cooldown_bars = cooldown_bars
        self.daily_loss_limit = daily_loss_limit
        self.state = "flat"
        self.transitions: list[tuple[int, str]] = []
        self.last_exit_bar: int | None = None
        self.day = -1
        self.day_start_equity = 0.0
        self.day_pnl = 0.0
        self.halted_day: int | None = None
        self.trade_cash = 0.0  # cash flow of the open trade (fees included)
        self.prev_equity: float | None = None
        #: (bar, reason) for every entry signal that was not acted on
        self.skipped: list[tuple[int, str]] = []

    @property
    def name(self) -> str:
        """Return the registry name."""
        return "sma_cooldown"

    def _set(self, bar: int, state: str) -> None:
        if state != self.state:
            self.state = state
            self.transitions.append((bar, state))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Track the trade's cash flow, the day's realised P&L and the last exit bar."""
        self.trade_cash += -fill.side * fill.qty * fill.price - fill.fee
        if fill.position == 0.0:
            day = int(self.time_ms[fill.bar]) // _DAY_MS
            if day != self.day:
                self._new_day(day, ctx.equity)
            self.day_pnl += self.trade_cash
            self.trade_cash = 0.0
            self.last_exit_bar = fill.bar
            self._set(fill.bar, "flat")
        else:
            self._set(fill.bar, "long")

    def _new_day(self, day: int, equity: float) -> None:
        self.day = day
        self.day_start_equity = equity if self.prev_equity is None else self.prev_equity
        self.day_pnl = 0.0

    def on_bar(self, ctx: Context) -> None:
        """Apply the rules to bar ``ctx.i``."""
        i = ctx.i
        day = int(self.time_ms[i]) // _DAY_MS
        if day != self.day:
            self._new_day(day, ctx.equity)
        limit = self.daily_loss_limit
        if limit > 0.0 and self.day_pnl <= -limit * self.day_start_equity:
            self.halted_day = day
        self.prev_equity = ctx.equity
        pos = ctx.position
        if pos > 0.0:
            if self.state == "entering":
                self._set(i, "long")
            if self.down[i] and self.state != "exiting":
                ctx.close_position()
                self._set(i, "exiting")
            return
        if self.state != "flat":
            self._set(i, "flat")
        if not self.up[i]:
            return
        if self.halted_day == day:
            self.skipped.append((i, "daily_loss_limit"))
            return
        if self.last_exit_bar is not None and i < self.last_exit_bar + self.cooldown_bars:
            self.skipped.append((i, "cooldown"))
            return
        if self.stop_pct > 0.0:
            ctx.buy(stop_loss=self.stop_pct)
        else:
            ctx.buy()
        self._set(i, "entering")


class SmaCooldown(StrategyDefinition):
    """SMA crossover (long only) with a cooldown after every exit and a daily loss limit.

    Rules, evaluated on the close of bar t (orders fill from bar t+1):

    - **Signals**: SMA(``fast``) crossing above SMA(``slow``) on bar t (``fast[t] > slow[t]`` and
      ``fast[t-1] <= slow[t-1]``) is an entry signal; crossing below is an exit signal.
    - **Entry**: when flat, a market buy at the next open on an entry signal, unless a cooldown or
      the daily loss limit blocks it (blocked signals are listed in ``strategy.skipped``).
    - **Exit**: when long, close at the next open on an exit signal; a stop-market sell at
      ``entry_fill * (1 - stop_pct)`` works from the entry bar (``stop_pct = 0`` disables it).
    - **Cooldown**: after an exit fills on bar e (signal or stop), entry signals on bars
      ``e .. e + cooldown_bars - 1`` are ignored; the first bar that may signal is
      ``e + cooldown_bars`` (``cooldown_bars = 0``: no cooldown).
    - **Daily loss limit**: the realised P&L of the trades that closed on a UTC day (fees included)
      is compared with the equity at the close of the previous day's last bar (the starting cash
      on the first day); once it is ``<= -daily_loss_limit * that equity``, no new entry is taken
      for the rest of that UTC day (``daily_loss_limit = 0`` disables it). Open positions are not
      closed by the limit.
    - **Position state**: the strategy object tracks ``flat`` → ``entering`` → ``long`` →
      ``exiting`` → ``flat`` in ``state`` / ``transitions``.
    """

    name = "sma_cooldown"
    summary = "SMA crossover with a cooldown after exits and a daily (UTC) loss limit"
    space = ParamSpace(
        (
            Param("fast", int, 10, "fast SMA period (bars)", minimum=1),
            Param("slow", int, 30, "slow SMA period (bars); must be > fast", minimum=2),
            Param("stop_pct", float, 0.01, "stop-loss fraction of entry (0 = none)", 0.0, 0.5),
            Param("cooldown_bars", int, 5, "bars without entries after every exit", 0, 100_000),
            Param(
                "daily_loss_limit",
                float,
                0.02,
                "stop entering for the UTC day once the day's realised loss reaches this "
                "fraction of the day's starting equity (0 = off)",
                0.0,
                1.0,
            ),
        ),
        (("slow ({slow}) must be > fast ({fast})", lambda v: v["slow"] > v["fast"]),),
    )

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> SmaCooldownStrategy:
        """Return the event-path strategy."""
        p = self.resolve(params)
        a = as_arrays(bars)
        fast = indicator(cache, "sma", {"period": get_int(p, "fast")}, a.close)
        slow = indicator(cache, "sma", {"period": get_int(p, "slow")}, a.close)
        return SmaCooldownStrategy(
            crosses_above(fast, slow),
            crosses_below(fast, slow),
            a.time_ms,
            get_float(p, "stop_pct"),
            get_int(p, "cooldown_bars"),
            get_float(p, "daily_loss_limit"),
        )
