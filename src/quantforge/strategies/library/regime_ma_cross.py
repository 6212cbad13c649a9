"""``regime_ma_cross`` ("regime sniper"): an MA cross taken only in a rising, active regime."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
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
    get_int,
    indicator,
    moving_average,
)
from quantforge.strategies.params import Param, ParamSpace, ParamValue

if TYPE_CHECKING:
    from quantforge.indicators.cache import IndicatorCache


@dataclass(frozen=True, slots=True)
class RegimeConditions:
    """The four entry conditions per bar (each False while its inputs warm up) and the ATR."""

    trend_up: BoolArray
    active: BoolArray
    rsi_ok: BoolArray
    cross_up: BoolArray
    cross_down: BoolArray
    atr: FloatArray

    @property
    def entry(self) -> BoolArray:
        """Return the bars where all four hold."""
        return self.trend_up & self.active & self.rsi_ok & self.cross_up


# Per indicator cache and bar arrays: condition parts already computed. A sweep varies a few
# parameters at a time, so each part (trend, activity, momentum, crosses) recurs in many
# combinations; remembering it skips the cache look-ups and the comparisons over every bar. Only
# read-only bar arrays qualify (they cannot change under us); a memo is found by the arrays' ids
# and checked by identity (it keeps them alive). At most _MAX_BARS bar sets per cache and
# _MAX_PARTS parts per set are kept; the values never escape uncopied.
_PARTS: weakref.WeakKeyDictionary[IndicatorCache, dict[tuple[int, ...], _Memo]] = (
    weakref.WeakKeyDictionary()
)
_MAX_BARS = 4
_MAX_PARTS = 1024  # ~36 MB of bool arrays at 35k bars


@dataclass(frozen=True, slots=True)
class _Memo:
    bars: tuple[FloatArray, ...]
    parts: dict[tuple[Any, ...], tuple[np.ndarray[Any, Any], ...]]


def _memo(cache: IndicatorCache | None, arrays: BarArrays) -> _Memo | None:
    bars = (arrays.high, arrays.low, arrays.close)
    if cache is None or any(a.flags.writeable for a in bars):
        return None
    by_bars = _PARTS.get(cache)
    if by_bars is None:
        by_bars = _PARTS[cache] = {}
    key = tuple(id(a) for a in bars)
    memo = by_bars.get(key)
    if memo is None or any(x is not y for x, y in zip(memo.bars, bars, strict=True)):
        if len(by_bars) >= _MAX_BARS:
            by_bars.clear()
        memo = by_bars[key] = _Memo(bars, {})
    return memo


def _part(
    memo: _Memo | None,
    key: tuple[Any, ...],
    compute: Callable[[], tuple[np.ndarray[Any, Any], ...]],
    copy: bool,
) -> tuple[np.ndarray[Any, Any], ...]:
    """Return ``compute()``, remembered in ``memo`` under ``key`` (copies come out if ``copy``)."""
    if memo is None:
        return compute()
    hit = memo.parts.get(key)
    if hit is None:
        if len(memo.parts) >= _MAX_PARTS:
            memo.parts.clear()
        hit = memo.parts[key] = compute()
    return tuple(a.copy() for a in hit) if copy else hit


def regime_conditions(
    arrays: BarArrays, p: Mapping[str, ParamValue], cache: IndicatorCache | None
) -> RegimeConditions:
    """Compute `RegimeConditions` for resolved parameters ``p``."""
    return _conditions(arrays, p, cache, copy=True)


def _conditions(
    arrays: BarArrays, p: Mapping[str, ParamValue], cache: IndicatorCache | None, copy: bool
) -> RegimeConditions:
    # copy=False may return memoised arrays: for callers that let none of them escape
    close = arrays.close
    n = close.shape[0]
    trend_period = get_int(p, "trend_period")
    lookback = get_int(p, "trend_lookback")
    atr_period = get_int(p, "atr_period")
    atr_avg_period = get_int(p, "atr_avg_period")
    atr_ratio = get_float(p, "atr_ratio")
    rsi_period = get_int(p, "rsi_period")
    rsi_min, rsi_max = get_float(p, "rsi_min"), get_float(p, "rsi_max")

    def trend_part() -> tuple[BoolArray]:
        trend = indicator(cache, "ema", {"period": trend_period}, close)
        trend_up = np.zeros(n, dtype=np.bool_)
        if n > lookback:
            with np.errstate(invalid="ignore"):
                trend_up[lookback:] = trend[lookback:] > trend[:-lookback]
        return (trend_up,)

    def activity_part() -> tuple[BoolArray, FloatArray]:
        atr = indicator(cache, "atr", {"period": atr_period}, arrays.high, arrays.low, close)
        atr_avg = indicator(cache, "sma", {"period": atr_avg_period}, atr)
        with np.errstate(invalid="ignore"):
            active = atr > atr_ratio * atr_avg
        return active, atr

    def momentum_part() -> tuple[BoolArray]:
        rsi = indicator(cache, "rsi", {"period": rsi_period}, close)
        with np.errstate(invalid="ignore"):
            return ((rsi >= rsi_min) & (rsi <= rsi_max),)

    def cross_part() -> tuple[BoolArray, BoolArray]:
        fast = moving_average(cache, p["ma_type"], close, p["fast"])
        slow = moving_average(cache, p["ma_type"], close, p["slow"])
        return crosses_above(fast, slow), crosses_below(fast, slow)

    memo = _memo(cache, arrays)
    (trend_up,) = _part(memo, ("trend", trend_period, lookback), trend_part, copy)
    active, atr = _part(
        memo, ("activity", atr_period, atr_avg_period, atr_ratio), activity_part, copy
    )
    (rsi_ok,) = _part(memo, ("momentum", rsi_period, rsi_min, rsi_max), momentum_part, copy)
    cross_up, cross_down = _part(
        memo, ("cross", p["ma_type"], p["fast"], p["slow"]), cross_part, copy
    )
    return RegimeConditions(trend_up, active, rsi_ok, cross_up, cross_down, atr)


def stop_distances(cond: RegimeConditions, atr_stop: float) -> FloatArray:
    """Return ``atr_stop * ATR[t]`` on the entry bars t and NaN elsewhere (no stop)."""
    return _stop_distances(cond.entry, cond.atr, atr_stop)


def _stop_distances(entry: BoolArray, atr: FloatArray, atr_stop: float) -> FloatArray:
    # the product only on the (few) entry bars: half the time of np.where(entry, product, nan)
    out = np.full(entry.shape[0], np.nan)
    np.multiply(atr_stop, atr, out=out, where=entry)
    return out


class RegimeMaCrossStrategy(Strategy):
    """Event-path ``regime_ma_cross`` (see `RegimeMaCross` for the rules)."""

    def __init__(self, cond: RegimeConditions, atr_stop: float) -> None:
        self.cond = cond
        self.entry = cond.entry
        self.atr_stop = atr_stop
        self.distance = stop_distances(cond, atr_stop)

    @property
    def name(self) -> str:
        """Return the registry name."""
        return "regime_ma_cross"

    def on_bar(self, ctx: Context) -> None:
        """Apply the rules to bar ``ctx.i``."""
        i = ctx.i
        if ctx.position > 0.0:
            if self.cond.cross_down[i]:
                ctx.close_position()
        elif ctx.position == 0.0 and self.entry[i]:
            ctx.buy(stop_distance=float(self.distance[i]))


class RegimeMaCross(StrategyDefinition):
    """Regime-aware MA crossover ("regime sniper"), long only.

    Rules, evaluated on the close of signal bar t (orders fill from bar t+1):

    - **Entry** (market buy at the next open, when flat) only when all four hold on bar t:

      1. trend: ``EMA(trend_period)[t] > EMA(trend_period)[t - trend_lookback]`` (200 and 10);
      2. activity: ``ATR(atr_period)[t] > atr_ratio * SMA(ATR, atr_avg_period)[t]``
         (14, 0.8, 20; the average is of the ATR series, including bar t);
      3. momentum: ``rsi_min <= RSI(rsi_period)[t] <= rsi_max`` (50 and 75 inclusive, period 14);
      4. trigger: the fast MA crossed above the slow MA *on this very bar*
         (``fast[t] > slow[t]`` and ``fast[t-1] <= slow[t-1]``), not merely above it.

      A condition whose indicators are still warming up (NaN) is false.
    - **Stop**: a stop-market sell at ``entry_fill_price - atr_stop * ATR[t]`` (2.5 × the ATR of
      the signal bar t; entry = the fill price), attached to the entry so it works from the
      entry bar on (`ExitRules.stop_distance`, known at t, applied to the fill at t+1).
    - **Exit**: when long, close at the next open when the fast MA crosses below the slow MA
      (the stop is canceled once the position is flat; when the next open gaps through the
      stop, the stop fills first and the exit order finds no position).
    - Every constant above is a parameter; one position at a time.
    """

    name = "regime_ma_cross"
    summary = "MA cross up taken only in a rising, active, not-overbought regime; 2.5 ATR stop"
    space = ParamSpace(
        (
            Param("fast", int, 10, "fast MA period (bars)", minimum=1),
            Param("slow", int, 30, "slow MA period (bars); must be > fast", minimum=2),
            Param("ma_type", str, "ema", "type of the fast/slow MAs", choices=("sma", "ema")),
            Param("trend_period", int, 200, "trend EMA period", minimum=1),
            Param("trend_lookback", int, 10, "bars back the trend EMA must be above", minimum=1),
            Param("atr_period", int, 14, "ATR period", minimum=1),
            Param("atr_avg_period", int, 20, "period of the SMA of the ATR", minimum=1),
            Param("atr_ratio", float, 0.8, "ATR must exceed this times its average", 0.0, 100.0),
            Param("rsi_period", int, 14, "RSI period", minimum=2),
            Param("rsi_min", float, 50.0, "lowest RSI allowed at entry (inclusive)", 0.0, 100.0),
            Param("rsi_max", float, 75.0, "highest RSI allowed at entry (inclusive)", 0.0, 100.0),
            Param(
                "atr_stop",
                float,
                2.5,
                "stop distance below the entry fill, in signal-bar ATRs",
                minimum=0.0,
                maximum=100.0,
                exclusive_minimum=True,
            ),
        ),
        (
            ("slow ({slow}) must be > fast ({fast})", lambda v: v["slow"] > v["fast"]),
            (
                "rsi_min ({rsi_min}) must be <= rsi_max ({rsi_max})",
                lambda v: v["rsi_min"] <= v["rsi_max"],
            ),
        ),
    )

    def signals(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> SignalPlan:
        """Return the entry / cross-down signals and the per-entry ATR stop distance."""
        p = self.resolve(params)
        # the plan keeps new arrays only: the entries and stops are computed from the
        # conditions, the exits copied, so the memoised conditions need no copies
        cond = _conditions(as_arrays(bars), p, cache, copy=False)
        entry = cond.entry
        return SignalPlan(
            entries=entry,
            exits=cond.cross_down.copy(),
            exit_rules=ExitRules(
                stop_distance=_stop_distances(entry, cond.atr, get_float(p, "atr_stop"))
            ),
        )

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> RegimeMaCrossStrategy:
        """Return the event-path strategy."""
        p = self.resolve(params)
        return RegimeMaCrossStrategy(
            regime_conditions(as_arrays(bars), p, cache), get_float(p, "atr_stop")
        )

    def conditions(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> RegimeConditions:
        """Return the per-bar entry conditions (for inspection and sweeps)."""
        p = self.resolve(params)
        return regime_conditions(as_arrays(bars), p, cache)
