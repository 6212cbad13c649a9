"""``ema_rsi_atr``: EMA trend entries, RSI filter, ATR exits and a tiered hybrid entry."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from quantforge._typing import BoolArray, FloatArray
from quantforge.strategies.base import Context, ExitTag, Fill, Strategy
from quantforge.strategies.library._common import (
    BarArrays,
    StrategyDefinition,
    as_arrays,
    crosses_above,
    crosses_below,
    get_bool,
    get_float,
    get_int,
    get_str,
    indicator,
)
from quantforge.strategies.params import Param, ParamSpace, ParamValue

if TYPE_CHECKING:
    from quantforge.indicators.cache import IndicatorCache


@dataclass(frozen=True, slots=True)
class EmaRsiAtrSignals:
    """Per-bar setups and the series the event strategy prices its orders with."""

    long_setup: BoolArray
    short_setup: BoolArray
    ema_fast: FloatArray
    atr: FloatArray
    vwap: FloatArray


def ema_rsi_atr_signals(
    a: BarArrays, p: Mapping[str, ParamValue], cache: IndicatorCache | None
) -> EmaRsiAtrSignals:
    """Compute the long/short setups of resolved parameters ``p`` (see `EmaRsiAtr`)."""
    close = a.close
    fast = indicator(cache, "ema", {"period": get_int(p, "ema_fast")}, close)
    slow = indicator(cache, "ema", {"period": get_int(p, "ema_slow")}, close)
    long_setup = crosses_above(fast, slow)
    short_setup = crosses_below(fast, slow)
    with np.errstate(invalid="ignore"):
        if get_bool(p, "use_trend_filter"):
            trend = indicator(cache, "ema", {"period": get_int(p, "ema_trend")}, close)
            long_setup &= close > trend
            short_setup &= close < trend
        if get_bool(p, "use_rsi_filter"):
            rsi = indicator(cache, "rsi", {"period": get_int(p, "rsi_period")}, close)
            long_setup &= rsi > get_float(p, "rsi_long")
            short_setup &= rsi < get_float(p, "rsi_short")
    direction = get_str(p, "direction")
    if direction == "long":
        short_setup[:] = False
    elif direction == "short":
        long_setup[:] = False
    atr = indicator(cache, "atr", {"period": get_int(p, "atr_period")}, a.high, a.low, close)
    vwap = indicator(cache, "vwap", {"period": get_int(p, "vwap_period")}, a.high, a.low, close,
                     a.volume)  # fmt: skip
    return EmaRsiAtrSignals(long_setup, short_setup, fast, atr, vwap)


@dataclass(slots=True)
class _Entry:
    side: int
    signal_bar: int
    target: float  # quantity to buy (side > 0) or sell
    atr: float
    tier: int = 0
    tier_start: int = 0
    order_id: int | None = None
    filled: float = 0.0
    slices_left: int = 0
    log: list[tuple[int, int]] = field(default_factory=list)  # (bar, tier) each tier started


class EmaRsiAtrStrategy(Strategy):
    """Event-path ``ema_rsi_atr`` (see `EmaRsiAtr` for the rules)."""

    def __init__(self, sig: EmaRsiAtrSignals, a: BarArrays, p: Mapping[str, ParamValue]) -> None:
        self.sig = sig
        self.a = a
        self.size_pct = get_float(p, "size_pct")
        self.sl_atr = get_float(p, "sl_atr")
        self.tp_atr = get_float(p, "tp_atr")
        self.trail = get_bool(p, "use_trailing_stop")
        self.trail_start = get_float(p, "trail_start_atr")
        self.trail_atr = get_float(p, "trail_atr")
        self.trail_tp = get_bool(p, "use_trailing_tp")
        self.trail_tp_atr = get_float(p, "trail_tp_atr")
        self.tiers = {
            1: (get_bool(p, "tier1"), get_int(p, "tier1_bars")),
            2: (get_bool(p, "tier2"), get_int(p, "tier2_bars")),
            3: (get_bool(p, "tier3"), get_int(p, "tier3_slices")),
            4: (get_bool(p, "tier4"), 1),
        }
        self.tier2_offset = get_float(p, "tier2_offset_pct")
        self.entry: _Entry | None = None
        self.trade_atr = math.nan
        self.entry_value = 0.0
        self.entry_qty = 0.0
        self.best = math.nan
        self.stop_level = math.nan
        self.stop_id: int | None = None
        self.tp_id: int | None = None
        self._placed: dict[str, tuple[float, float]] = {}
        #: (signal bar, side, [(bar, tier), ...]) of every entry attempt, for inspection
        self.entries: list[tuple[int, int, list[tuple[int, int]]]] = []

    @property
    def name(self) -> str:
        """Return the registry name."""
        return "ema_rsi_atr"

    # -- fills -----------------------------------------------------------------------------
    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Book entry fills (average price), reset everything when the position is closed.

        A position closed while an entry is still in progress (a stop hit between VWAP slices)
        ends that entry: the working entry order is canceled and no further tier starts.
        """
        if fill.tag == "entry":
            opened = self.entry_qty == 0.0
            self.entry_value += fill.qty * fill.price
            self.entry_qty += fill.qty
            if self.entry is not None:
                self.entry.filled += fill.qty
            if opened and fill.position != 0.0:
                self._adopt_attached(ctx, fill)
        if fill.position == 0.0:
            for oid in (self.stop_id, self.tp_id):
                if oid is not None:
                    ctx.cancel(oid)
            self.stop_id = self.tp_id = None
            self.entry_value = self.entry_qty = 0.0
            self.best = self.stop_level = math.nan
            self._placed.clear()
            if fill.tag != "entry":
                self._abort_entry(ctx)

    def _adopt_attached(self, ctx: Context, fill: Fill) -> None:
        # the engine spawns an entry's attached exits right after its fill, stop first, so
        # the working orders newer than the entry are [stop, take-profit]; `_protect` re-prices
        # them from the average entry from this bar on
        sl, tp = self._distances()
        want = (sl is not None) + (tp is not None)
        kids = sorted(x for x in ctx.open_orders if x > fill.order_id)
        if want == 0 or len(kids) != want:
            return  # one of them already filled on the entry bar (and the other was canceled)
        self.stop_id = kids[0]
        self._placed["stop"] = (math.nan, math.nan)
        if tp is not None:
            self.tp_id = kids[1]
            self._placed["limit"] = (math.nan, math.nan)

    # -- bars ------------------------------------------------------------------------------
    def on_bar(self, ctx: Context) -> None:
        """Apply the rules to bar ``ctx.i``."""
        i = ctx.i
        pos = ctx.position
        want = 1 if self.sig.long_setup[i] else -1 if self.sig.short_setup[i] else 0
        side = 1 if pos > 0.0 else -1 if pos < 0.0 else 0
        active_side = self.entry.side if self.entry is not None else side
        if want != 0 and active_side != 0 and want != active_side:
            # an opposite setup ends the trade (and any entry in progress); no reversal on it
            self._abort_entry(ctx)
            if pos != 0.0:
                self._cancel_protection(ctx)
                ctx.close_position()
            return
        if self.entry is not None:
            self._work_entry(ctx)
        elif want != 0 and pos == 0.0:
            price = ctx.close
            target = self.size_pct * ctx.equity / price
            self.entry = _Entry(want, i, target, float(self.sig.atr[i]))
            self.trade_atr = float(self.sig.atr[i])
            self.entries.append((i, want, self.entry.log))
            self._start_tier(ctx, 1)
        if ctx.position != 0.0:
            self._protect(ctx)

    # -- tiered entry ----------------------------------------------------------------------
    def _start_tier(self, ctx: Context, tier: int) -> None:
        e = self.entry
        assert e is not None
        while tier <= 4 and not self.tiers[tier][0]:
            tier += 1
        remaining = e.target - e.filled
        if tier > 4 or remaining <= 1e-12 * e.target:
            self.entry = None
            return
        e.tier, e.tier_start = tier, ctx.i
        e.log.append((ctx.i, tier))
        if tier == 1:
            e.order_id = self._order(ctx, e.side, remaining, float(self.sig.ema_fast[ctx.i]),
                                     self.tiers[1][1])  # fmt: skip
        elif tier == 2:
            limit = ctx.close * (1.0 - e.side * self.tier2_offset)
            e.order_id = self._order(ctx, e.side, remaining, limit, self.tiers[2][1])
        elif tier == 3:
            e.slices_left = self.tiers[3][1]
            self._next_slice(ctx)
        else:
            e.order_id = self._order(ctx, e.side, remaining, None, 1)

    def _next_slice(self, ctx: Context) -> None:
        e = self.entry
        assert e is not None
        vwap = float(self.sig.vwap[ctx.i])
        qty = (e.target - e.filled) / e.slices_left
        e.slices_left -= 1
        price = vwap if np.isfinite(vwap) and vwap > 0.0 else ctx.close
        e.order_id = self._order(ctx, e.side, qty, price, 1)

    def _order(self, ctx: Context, side: int, qty: float, limit: float | None, bars: int) -> int:
        if not (limit is None or (np.isfinite(limit) and limit > 0.0)):
            limit = ctx.close
        place = ctx.buy if side > 0 else ctx.sell
        # the stop (and target) ride on the entry, so they work from the entry bar on
        sl, tp = self._distances()
        return place(qty, limit=limit, tif=bars, stop_distance=sl, take_profit_distance=tp)

    def _distances(self) -> tuple[float | None, float | None]:
        atr = self.trade_atr
        if not (np.isfinite(atr) and atr > 0.0):
            return None, None
        return self.sl_atr * atr, None if self.trail_tp else self.tp_atr * atr

    def _work_entry(self, ctx: Context) -> None:
        e = self.entry
        assert e is not None
        working = e.order_id is not None and e.order_id in ctx.open_orders
        if working:
            return
        if e.target - e.filled <= 1e-9 * e.target:
            self.entry = None
            return
        if e.tier == 3 and e.slices_left > 0:
            self._next_slice(ctx)
            return
        self._start_tier(ctx, e.tier + 1)

    def _abort_entry(self, ctx: Context) -> None:
        if self.entry is not None and self.entry.order_id is not None:
            ctx.cancel(self.entry.order_id)
        self.entry = None

    # -- protection ------------------------------------------------------------------------
    def _cancel_protection(self, ctx: Context) -> None:
        for oid in (self.stop_id, self.tp_id):
            if oid is not None:
                ctx.cancel(oid)
        self.stop_id = self.tp_id = None

    def _protect(self, ctx: Context) -> None:
        pos = ctx.position
        side = 1 if pos > 0.0 else -1
        qty = abs(pos)
        atr = self.trade_atr
        if self.entry_qty <= 0.0 or not np.isfinite(atr):
            return
        entry = self.entry_value / self.entry_qty
        extreme = ctx.high if side > 0 else ctx.low
        self.best = extreme if not np.isfinite(self.best) else (
            max(self.best, extreme) if side > 0 else min(self.best, extreme)
        )  # fmt: skip
        level = entry - side * self.sl_atr * atr
        gain = side * (self.best - entry)
        if self.trail and gain >= self.trail_start * atr:
            level = _tighter(side, level, self.best - side * self.trail_atr * atr)
        tp = entry + side * self.tp_atr * atr
        if self.trail_tp and gain >= self.tp_atr * atr:
            level = _tighter(side, level, self.best - side * self.trail_tp_atr * atr)
        if np.isfinite(self.stop_level):
            level = _tighter(side, level, self.stop_level)  # a stop never loosens
        self.stop_id = self._keep(ctx, self.stop_id, -side, qty, stop=level)
        self.stop_level = level
        if not self.trail_tp:
            self.tp_id = self._keep(ctx, self.tp_id, -side, qty, limit=tp)

    def _keep(self, ctx: Context, oid: int | None, side: int, qty: float,
              stop: float | None = None, limit: float | None = None) -> int | None:  # fmt: skip
        # keep, re-price or (re)place one protective order; placed[kind] = (price, qty)
        kind = "stop" if stop is not None else "limit"
        price = stop if stop is not None else limit
        if price is None or not (np.isfinite(price) and price > 0.0):
            return oid
        if oid is not None and oid in ctx.open_orders:
            if self._placed.get(kind) == (price, qty):
                return oid
            new = ctx.replace(oid, qty=qty, stop=stop, limit=limit)
        else:
            place = ctx.buy if side > 0 else ctx.sell
            tag: ExitTag = "stop" if stop is not None else "take_profit"
            new = place(qty, stop=stop, limit=limit, reduce_only=True, tag=tag)
        self._placed[kind] = (price, qty)
        return new


def _tighter(side: int, a: float, b: float) -> float:
    return max(a, b) if side > 0 else min(a, b)


class EmaRsiAtr(StrategyDefinition):
    """EMA trend-following, long and short, with RSI/trend filters, ATR exits and tiered entries.

    Rules, evaluated on the close of bar t (orders fill from bar t+1):

    - **Long setup**: EMA(``ema_fast``) crosses above EMA(``ema_slow``) on bar t; with
      ``use_trend_filter`` also ``close[t] > EMA(ema_trend)[t]``; with ``use_rsi_filter`` also
      ``RSI(rsi_period)[t] > rsi_long`` (35: momentum has left oversold territory).
      **Short setup**: the mirror — cross below, ``close < EMA(trend)``, ``RSI < rsi_short`` (65).
      ``direction`` keeps only long or short setups ("both" by default; shorts need a
      derivatives instrument — a spot engine rejects them).
    - **Entry** (when flat and no entry in progress): target quantity
      ``size_pct * equity / close[t]``, bought (sold) through the **tiered hybrid entry**; each
      tier can be switched off and ends after its timeout, falling through to the next enabled
      tier for the quantity still unfilled:

      1. a limit at EMA(fast)[t] (waits for a touch), good for ``tier1_bars`` bars;
      2. a limit at ``close * (1 - offset)`` for a long (``1 + offset`` short; the close of the bar
         the tier starts on), good for ``tier2_bars`` bars;
      3. ``tier3_slices`` VWAP slices: on each of that many bars, a one-bar limit for
         ``remaining / slices_left`` at the rolling VWAP(``vwap_period``) of that bar;
      4. a market order at the next open for the rest.

    - **Exits** (attached to every entry order at ``fill -/+ sl_atr * atr`` and
      ``fill +/- tp_atr * atr``, so they work from the bar the position opened; re-priced from
      the bar's close on, replaced as the position and the average entry grow over the tiers):
      ``atr = ATR[t]`` of the signal bar, ``entry`` = average fill price. Trades closed by
      them carry the exit reason ``stop`` (the stop, trailing or not) or ``take_profit``.

      - stop at ``entry - sl_atr * atr`` (long; ``+`` short);
      - take-profit limit at ``entry + tp_atr * atr`` (long);
      - trailing stop (``use_trailing_stop``): once the best price since entry is at least
        ``trail_start_atr * atr`` beyond the entry, the stop follows
        ``best - trail_atr * atr``;
      - trailing take-profit (``use_trailing_tp``): no take-profit order; once the best price
        reaches the take-profit level, the stop follows ``best - trail_tp_atr * atr``;
      - the stop only ever tightens; an opposite setup closes the position at the next open
        (and cancels an entry in progress) without reversing.
    """

    name = "ema_rsi_atr"
    summary = "EMA cross with trend/RSI filters, ATR stop/target/trailing, tiered hybrid entry"
    space = ParamSpace(
        (
            Param("ema_fast", int, 20, "fast EMA period", minimum=1),
            Param("ema_slow", int, 50, "slow EMA period; must be > ema_fast", minimum=2),
            Param("ema_trend", int, 200, "trend EMA period", minimum=2),
            Param("use_trend_filter", bool, True, "require close beyond the trend EMA"),
            Param("rsi_period", int, 14, "RSI period", minimum=2),
            Param("use_rsi_filter", bool, True, "require RSI > rsi_long (long) / < rsi_short"),
            Param("rsi_long", float, 35.0, "longs need RSI above this", 0.0, 100.0),
            Param("rsi_short", float, 65.0, "shorts need RSI below this", 0.0, 100.0),
            Param("direction", str, "both", "sides traded", choices=("long", "short", "both")),
            Param("size_pct", float, 0.95, "target position, fraction of equity", 0.0, 10.0, True),
            Param("atr_period", int, 14, "ATR period", minimum=1),
            Param("sl_atr", float, 1.5, "stop distance in ATRs", 0.0, 100.0, True),
            Param("tp_atr", float, 2.0, "take-profit distance in ATRs", 0.0, 100.0, True),
            Param("use_trailing_stop", bool, False, "trail the stop once in profit"),
            Param("trail_start_atr", float, 1.0, "profit (ATRs) that starts the trail", 0.0, 100.0),
            Param("trail_atr", float, 1.5, "trailing-stop distance in ATRs", 0.0, 100.0, True),
            Param("use_trailing_tp", bool, False, "trail instead of taking profit at the target"),
            Param("trail_tp_atr", float, 0.5, "trail past the target (ATRs)", 0.0, 100.0, True),
            Param("tier1", bool, True, "tier 1: limit at the fast EMA"),
            Param("tier1_bars", int, 3, "tier 1 timeout (bars)", 1, 10_000),
            Param("tier2", bool, True, "tier 2: limit at an offset from the close"),
            Param("tier2_bars", int, 2, "tier 2 timeout (bars)", 1, 10_000),
            Param("tier2_offset_pct", float, 0.001, "tier 2 limit offset (fraction)", 0.0, 0.5),
            Param("tier3", bool, True, "tier 3: VWAP slices"),
            Param("tier3_slices", int, 3, "tier 3 slices (one bar each)", 1, 1000),
            Param("vwap_period", int, 20, "rolling VWAP period for tier 3", minimum=1),
            Param("tier4", bool, True, "tier 4: market order for the rest"),
        ),
        (
            (
                "ema_slow ({ema_slow}) must be > ema_fast ({ema_fast})",
                lambda v: v["ema_slow"] > v["ema_fast"],
            ),
            (
                "enable at least one entry tier (tier1..tier4)",
                lambda v: bool(v["tier1"] or v["tier2"] or v["tier3"] or v["tier4"]),
            ),
        ),
    )

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> EmaRsiAtrStrategy:
        """Return the event-path strategy."""
        p = self.resolve(params)
        a = as_arrays(bars)
        return EmaRsiAtrStrategy(ema_rsi_atr_signals(a, p, cache), a, p)

    def setups(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> EmaRsiAtrSignals:
        """Return the per-bar setups (for inspection and sweeps)."""
        return ema_rsi_atr_signals(as_arrays(bars), self.resolve(params), cache)
