"""``ma_cross``: the naive moving-average crossover baseline (long only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from quantforge._typing import BoolArray, FloatArray
from quantforge.engine.exits import ExitRules
from quantforge.strategies.base import Context, Strategy
from quantforge.strategies.library._common import (
    BarArrays,
    SignalPlan,
    StrategyDefinition,
    as_arrays,
    crosses_above,
    crosses_below,
    get_float,
    moving_average,
)
from quantforge.strategies.params import Param, ParamSpace

if TYPE_CHECKING:
    from quantforge.indicators.cache import IndicatorCache


def ma_lines(
    arrays: BarArrays, params: Mapping[str, object], cache: IndicatorCache | None
) -> tuple[FloatArray, FloatArray]:
    """Return the fast and slow moving averages of the close named by ``params``."""
    kind = params["ma_type"]
    fast = moving_average(cache, kind, arrays.close, params["fast"])
    slow = moving_average(cache, kind, arrays.close, params["slow"])
    return fast, slow


class MaCrossStrategy(Strategy):
    """Event-path ``ma_cross``: buy on a cross up when flat, close on a cross down when long."""

    def __init__(self, fast: FloatArray, slow: FloatArray, stop_pct: float) -> None:
        self.up: BoolArray = crosses_above(fast, slow)
        self.down: BoolArray = crosses_below(fast, slow)
        self.stop_pct = stop_pct

    @property
    def name(self) -> str:
        """Return the registry name."""
        return "ma_cross"

    def on_bar(self, ctx: Context) -> None:
        """Apply the crossover rules to bar ``ctx.i``."""
        i = ctx.i
        if ctx.position > 0.0:
            if self.down[i]:
                ctx.close_position()
        elif ctx.position == 0.0 and self.up[i]:
            ctx.buy(stop_loss=self.stop_pct)


class MaCross(StrategyDefinition):
    """Naive moving-average crossover, long only.

    Rules, evaluated on the close of bar t (orders fill from bar t+1):

    - **Entry**: when flat, buy at the next open when the fast MA crosses above the slow MA on
      bar t: ``fast[t] > slow[t]`` and ``fast[t-1] <= slow[t-1]`` (no signal while either MA is
      still warming up).
    - **Exit**: when long, sell the whole position at the next open when the fast MA crosses below
      the slow MA (``fast[t] < slow[t]`` and ``fast[t-1] >= slow[t-1]``).
    - **Stop**: a stop-market sell at ``entry_fill_price * (1 - stop_pct)``, working from the
      entry bar on (the bar the entry filled).
    - Moving averages are ``ma_type`` ("sma" or "ema", TA-Lib definitions) of the close.
    - One position at a time, no pyramiding; a cross up while long is ignored.
    """

    name = "ma_cross"
    summary = "Naive MA crossover baseline: long on the cross up, out on the cross down or a % stop"
    space = ParamSpace(
        (
            Param("fast", int, 10, "fast moving-average period (bars)", minimum=1),
            Param("slow", int, 30, "slow moving-average period (bars); must be > fast", minimum=2),
            Param("ma_type", str, "sma", "moving-average type", choices=("sma", "ema")),
            Param(
                "stop_pct",
                float,
                0.01,
                "stop-loss distance as a fraction of the entry price (0.01 = 1%)",
                minimum=0.0,
                maximum=0.5,
                exclusive_minimum=True,
            ),
        ),
        (("slow ({slow}) must be > fast ({fast})", lambda v: v["slow"] > v["fast"]),),
    )

    def signals(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> SignalPlan:
        """Return the crossover signals and the percent stop."""
        p = self.resolve(params)
        fast, slow = ma_lines(as_arrays(bars), p, cache)
        return SignalPlan(
            entries=crosses_above(fast, slow),
            exits=crosses_below(fast, slow),
            exit_rules=ExitRules(stop_loss=get_float(p, "stop_pct")),
        )

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> MaCrossStrategy:
        """Return the event-path strategy."""
        p = self.resolve(params)
        fast, slow = ma_lines(as_arrays(bars), p, cache)
        return MaCrossStrategy(fast, slow, get_float(p, "stop_pct"))
