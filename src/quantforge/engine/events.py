"""Event-driven front-end: a Python loop over bars around the same compiled step as the fast path.

Per bar ``i``: (1) if any order is working (or a timeout is pending) the kernel processes the bars
not yet processed up to ``i`` (`advance_nb`), (2) ``on_fill`` runs for each new fill in execution
order, (3) ``on_bar`` runs. Orders placed in (2) or (3) are decided at ``i`` and fill from ``i+1``.
Bars with nothing working are batched into the next kernel call, so a quiet strategy costs one
Python call per bar. Orders go through the kernel's own `submit_nb`, so both front-ends write
identical records.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from quantforge._typing import FloatArray
from quantforge.engine import _kernel as k
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.exits import ExitRules, TrailingStop
from quantforge.engine.records import ExitReason, OrderType, SizeMode, TimeInForce, TrailKind
from quantforge.errors import ConfigError, StrategyError
from quantforge.strategies.base import ExitTag, Fill, Strategy, TimeInForceSpec

if TYPE_CHECKING:
    from quantforge.engine.backtest import Backtest
    from quantforge.engine.sizing import Sizer
    from quantforge.engine.state import MarketArrays, SimState

log = logging.getLogger(__name__)

_TAGS = {int(m): m.name.lower() for m in ExitReason}
_NAN = math.nan
#: exit reasons a user-placed reduce-only order may carry
_USER_TAGS = {m.name.lower(): int(m) for m in (
    ExitReason.SIGNAL, ExitReason.STOP, ExitReason.TAKE_PROFIT, ExitReason.TRAILING,
    ExitReason.TIMEOUT,
)}  # fmt: skip


def _exit_tag(tag: str) -> int:
    code = _USER_TAGS.get(tag)
    if code is None:
        msg = f"tag={tag!r}; use one of {sorted(_USER_TAGS)}"
        raise ConfigError(msg)
    return code


class EventContext:
    """The engine's `quantforge.strategies.Context`: bar data, account state, order methods."""

    __slots__ = ("_config", "_market", "_params", "_state", "_submit_fn", "i")

    def __init__(self, config: Backtest, market: MarketArrays, state: SimState) -> None:
        self._config = config
        self._market = market
        self._state = state
        self._params = config.params()
        self._submit_fn: Callable[..., Any] | None = None
        self.i = -1

    # -- data ------------------------------------------------------------------------------
    @property
    def time_ms(self) -> int:
        """``open_time`` of the current bar in ms (UTC)."""
        return int(self._market.time_ms[self.i])

    @property
    def open(self) -> float:
        """Open of the current bar."""
        return float(self._market.open[self.i])

    @property
    def high(self) -> float:
        """High of the current bar."""
        return float(self._market.high[self.i])

    @property
    def low(self) -> float:
        """Low of the current bar."""
        return float(self._market.low[self.i])

    @property
    def close(self) -> float:
        """Close of the current bar."""
        return float(self._market.close[self.i])

    @property
    def closes(self) -> FloatArray:
        """Closes up to and including the current bar (read-only view)."""
        view = self._market.close[: self.i + 1]
        view.flags.writeable = False
        return view

    # -- account ---------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """Signed position in base units."""
        return float(self._state.fs[k.F_POS])

    @property
    def cash(self) -> float:
        """Cash in quote currency."""
        return float(self._state.fs[k.F_CASH])

    @property
    def equity(self) -> float:
        """Cash plus the position at the current close."""
        fs = self._state.fs
        return float(fs[k.F_CASH] + fs[k.F_POS] * self._market.close[self.i])

    @property
    def open_orders(self) -> list[int]:
        """Ids of working orders, oldest first."""
        st = self._state
        ids = st.active[: st.ist[k.I_NACT]]
        return [int(x) for x in ids if st.orders[x]["status"] == k.ACTIVE]

    # -- orders ----------------------------------------------------------------------------
    def buy(
        self,
        qty: float | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        trail: TrailingStop | None = None,
        tif: TimeInForceSpec = "gtc",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing: TrailingStop | float | None = None,
        timeout_bars: int | None = None,
        reduce_only: bool = False,
        stop_distance: float | None = None,
        take_profit_distance: float | None = None,
        tag: ExitTag | None = None,
    ) -> int:
        """Place a buy order filling from the next bar; return its id.

        ``limit`` makes it a limit order, ``stop`` a stop-market order, both a stop-limit,
        ``trail`` a trailing stop following the best price from the current close. Without
        ``qty`` the quantity comes from ``size`` or the backtest's sizer. ``stop_loss``,
        ``take_profit``, ``trailing`` and ``timeout_bars`` attach exits (as in `ExitRules`);
        the backtest's ``exit_rules`` fill in the kinds left unset (`ExitRules.merged`; both
        setting one kind raises `ConfigError`). ``stop_distance`` /
        ``take_profit_distance`` attach a stop / take-profit at that price distance from the
        entry fill (live from the entry bar like the other attached exits). ``tag`` labels a
        reduce-only order's exit reason ("signal" by default; "stop", "take_profit",
        "trailing" or "timeout"). ``tif`` is "gtc", "ioc" or a number of bars. Rejections are
        recorded in the ledger, not raised.
        """
        return self._submit(1, qty, size, limit, stop, trail, tif, stop_loss, take_profit,
                            trailing, timeout_bars, reduce_only, stop_distance,
                            take_profit_distance, tag)  # fmt: skip

    def sell(
        self,
        qty: float | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        trail: TrailingStop | None = None,
        tif: TimeInForceSpec = "gtc",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing: TrailingStop | float | None = None,
        timeout_bars: int | None = None,
        reduce_only: bool = False,
        stop_distance: float | None = None,
        take_profit_distance: float | None = None,
        tag: ExitTag | None = None,
    ) -> int:
        """Place a sell order filling from the next bar; return its id (see `buy`)."""
        return self._submit(-1, qty, size, limit, stop, trail, tif, stop_loss, take_profit,
                            trailing, timeout_bars, reduce_only, stop_distance,
                            take_profit_distance, tag)  # fmt: skip

    def close_position(self, *, tag: ExitTag = "signal") -> int | None:
        """Close the whole position with a market order at the next open (None when flat).

        ``tag`` is the trade's exit reason (see `buy`).
        """
        pos = self._state.fs[k.F_POS]
        if pos == 0.0:
            return None
        return self._raw(int(OrderType.MARKET), -1 if pos > 0.0 else 1, int(SizeMode.CLOSE),
                         0.0, _NAN, _NAN, int(TimeInForce.GTC), 0, _exit_tag(tag), 1, _NAN, _NAN,
                         int(TrailKind.NONE), _NAN, 0)  # fmt: skip

    def cancel(self, order_id: int) -> bool:
        """Cancel a working order; return False when it is unknown or no longer working."""
        st = self._state
        if not (0 <= order_id < st.ist[k.I_NORD]):
            return False
        rec = st.orders[order_id]
        if rec["status"] != k.ACTIVE:
            return False
        rec["status"] = k.CANCELED
        rec["reason"] = k.R_USER
        rec["fill_bar"] = self.i
        return True

    def replace(
        self,
        order_id: int,
        *,
        qty: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> int | None:
        """Cancel a working order and place a copy with a new qty/limit/stop; return the new id.

        The copy is a new order (it fills from the next bar and a limit copy is not yet resting).
        Return None when the original is no longer working.
        """
        st = self._state
        if not self.cancel(order_id):
            return None
        o = st.orders[order_id]
        mode = int(o["size_mode"])
        size = float(o["size_value"])
        if qty is not None:
            mode, size = int(SizeMode.QTY), float(qty)
        tif = int(o["tif"])
        n_bars = int(o["expire_bar"] - o["active_bar"] + 1) if tif == k.GTB else 0
        trail_kind = int(o["trail_kind"] if o["kind"] == k.TRAILING_STOP else o["child_trail_kind"])
        trail_value = float(
            o["trail_value"] if o["kind"] == k.TRAILING_STOP else o["child_trail_value"]
        )
        return self._raw(
            int(o["kind"]), int(o["side"]), mode, size,
            float(o["limit"]) if limit is None else float(limit),
            float(o["stop"]) if stop is None else float(stop),
            tif, n_bars, int(o["tag"]), int(o["reduce_only"]), float(o["sl_pct"]),
            float(o["tp_pct"]), trail_kind, trail_value, int(o["timeout_bars"]),
            float(o["sl_price"]), float(o["tp_price"]), int(o["oco"]),
            float(o["sl_dist"]), float(o["tp_dist"]),
        )  # fmt: skip

    def _submit(
        self,
        side: int,
        qty: float | None,
        size: Sizer | None,
        limit: float | None,
        stop: float | None,
        trail: TrailingStop | None,
        tif: TimeInForceSpec,
        stop_loss: float | None,
        take_profit: float | None,
        trailing: TrailingStop | float | None,
        timeout_bars: int | None,
        reduce_only: bool,
        stop_distance: float | None = None,
        take_profit_distance: float | None = None,
        tag: ExitTag | None = None,
    ) -> int:
        if qty is not None:
            mode, value = int(SizeMode.QTY), float(qty)
        else:
            mode, value = (size if size is not None else self._config.sizing).lower()
        if trail is not None:
            kind = int(OrderType.TRAILING_STOP)
        elif limit is not None and stop is not None:
            kind = int(OrderType.STOP_LIMIT)
        elif limit is not None:
            kind = int(OrderType.LIMIT)
        elif stop is not None:
            kind = int(OrderType.STOP)
        else:
            kind = int(OrderType.MARKET)
        if tif == "gtc":
            tif_code, n_bars = int(TimeInForce.GTC), 0
        elif tif == "ioc":
            tif_code, n_bars = int(TimeInForce.IOC), 0
        elif isinstance(tif, int) and tif >= 1:
            tif_code, n_bars = int(TimeInForce.GTB), tif
        else:
            msg = f"tif={tif!r}; use 'gtc', 'ioc' or a number of bars >= 1"
            raise ConfigError(msg)
        attached = (stop_loss, take_profit, trailing, timeout_bars, stop_distance,
                    take_profit_distance)  # fmt: skip
        if tag is not None and not reduce_only:
            msg = f"tag={tag!r} labels an exit; it needs reduce_only=True"
            raise ConfigError(msg)
        sl_d = tp_d = _NAN
        if reduce_only:
            sl, tp, tk, tv, to = _NAN, _NAN, int(TrailKind.NONE), _NAN, 0
        elif all(a is None for a in attached):
            rules = self._config.exit_rules
            sl, tp, tk, tv, to = rules.lower()
            if rules.has_distances:
                sl_d, tp_d = rules.distances_at(self.i)
        else:
            rules = ExitRules(stop_loss, take_profit, trailing, timeout_bars, stop_distance,
                              take_profit_distance).merged(self._config.exit_rules)  # fmt: skip
            sl, tp, tk, tv, to = rules.lower()
            sl_d, tp_d = rules.distances_at(self.i)
        if trail is not None:
            tk, tv = trail.lower()
        code = _exit_tag(tag if tag is not None else "signal") if reduce_only else int(k.T_ENTRY)
        return self._raw(kind, side, mode, value,
                         _NAN if limit is None else float(limit),
                         _NAN if stop is None else float(stop),
                         tif_code, n_bars, code, int(reduce_only), sl, tp, tk, tv, to,
                         sl_dist=sl_d, tp_dist=tp_d)  # fmt: skip

    def _raw(
        self,
        kind: int,
        side: int,
        mode: int,
        value: float,
        limit: float,
        stop: float,
        tif: int,
        n_bars: int,
        tag: int,
        reduce_only: int,
        sl: float,
        tp: float,
        trail_kind: int,
        trail_value: float,
        timeout: int,
        sl_price: float = _NAN,
        tp_price: float = _NAN,
        oco: int = -1,
        sl_dist: float = _NAN,
        tp_dist: float = _NAN,
    ) -> int:
        st = self._state
        if st.ist[k.I_NORD] + k.HEADROOM > st.orders.shape[0]:
            st.grow()
        i = self.i
        args = (
            st.orders, st.active, st.ist, self._params, i, i + 1, kind, side, mode, value,
            limit, stop, tif, n_bars, tag, reduce_only, sl, tp, sl_price, tp_price,
            trail_kind, trail_value, float(self._market.close[i]), timeout, oco,
        )  # fmt: skip
        if self._submit_fn is None:
            self._submit_fn = entry_point(k.submit_nb, args)
        oid = int(self._submit_fn(*args))
        if sl_dist == sl_dist or tp_dist == tp_dist:  # not both NaN
            rec = st.orders[oid]
            rec["sl_dist"] = sl_dist
            rec["tp_dist"] = tp_dist
        return oid


def run_events(config: Backtest, market: MarketArrays, state: SimState, strategy: Strategy) -> None:
    """Drive ``strategy`` over every bar, filling its orders with the compiled step (in place)."""
    ctx = EventContext(config, market, state)
    advance = _Advance(state, market, ctx._params)
    n = market.n
    ist = state.ist
    on_bar = strategy.on_bar
    has_on_fill = type(strategy).on_fill is not Strategy.on_fill
    done = 0  # bars the kernel has processed
    seen = 0  # fills passed to on_fill
    ctx.i = 0
    _call(strategy, "on_start", ctx, market, 0)
    nact, timeout_at, nfill = k.I_NACT, k.I_TIMEOUT_AT, k.I_NFILL
    # close-equity rails, liquidation and funding need every bar, not only bars with orders
    every_bar = (
        config.risk.checks_bar_close
        or config.instrument.maintenance_margin > 0.0
        or bool(np.any(market.funding != 0.0))
    )
    i = 0
    try:
        for i in range(n):
            # the kernel only needs to run when something is working (or a timeout is due)
            if every_bar or ist[nact] > 0 or ist[timeout_at] >= 0:
                done = advance(done, i + 1)
                if has_on_fill and ist[nfill] > seen:
                    ctx.i = i
                    seen = _fire_fills(strategy, ctx, state, market, seen, i)
            ctx.i = i
            on_bar(ctx)
    except StrategyError:
        raise
    except Exception as e:
        ts = np.datetime64(int(market.time_ms[i]), "ms")
        msg = f"{strategy.name}.on_bar failed at bar {i} ({ts} UTC): {e}"
        raise StrategyError(msg) from e
    advance(done, n)


def entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """Return the compiled entry point of a Numba ``dispatcher`` for these argument types.

    A dispatcher types every argument on every call; for structured arrays that costs several
    microseconds, which dominates when the event loop calls the kernel on each busy bar. Calling
    the already compiled overload's entry point skips it (the types of our arguments never change
    within a run). Under ``NUMBA_DISABLE_JIT=1`` the kernel is a plain function, returned as is.
    """
    overloads = getattr(dispatcher, "overloads", None)
    if overloads is None:
        return cast("Callable[..., Any]", dispatcher)
    sig = tuple(dispatcher.typeof_pyval(a) for a in args)
    dispatcher.compile(sig)
    return cast("Callable[..., Any]", overloads[sig].entry_point)


class _Advance:
    """Run the kernel over bars ``start..stop-1``, growing the record arrays when asked."""

    __slots__ = ("_fn", "_market", "_params", "_state")

    def __init__(self, state: SimState, market: MarketArrays, params: FloatArray) -> None:
        self._state = state
        self._market = market
        self._params = params
        self._fn: Callable[..., Any] | None = None

    def __call__(self, start: int, stop: int) -> int:
        st, m = self._state, self._market
        while start < stop:
            args = (start, stop, m.open, m.high, m.low, m.close, m.volume, m.atr, m.flags,
                    m.funding, st.orders, st.active, st.fills, st.trades, st.fs, st.ist,
                    self._params, st.cash_out, st.pos_out)  # fmt: skip
            if self._fn is None:
                self._fn = entry_point(loops.advance_nb, args)
            start = int(self._fn(*args))
            if start < stop:
                st.grow()
        return start


def _fire_fills(strategy: Strategy, ctx: EventContext, state: SimState, market: MarketArrays,
                seen: int, i: int) -> int:  # fmt: skip
    end = int(state.ist[k.I_NFILL])
    for j in range(seen, end):
        f = state.fills[j]
        fill = Fill(int(f["order_id"]), int(f["bar"]), int(f["side"]), float(f["qty"]),
                    float(f["price"]), float(f["fee"]), _TAGS[int(f["tag"])],
                    float(f["position"]))  # fmt: skip
        _call(strategy, "on_fill", ctx, market, i, fill)
    return end


def _call(strategy: Strategy, name: str, ctx: EventContext, market: MarketArrays, i: int,
          *args: Fill) -> None:  # fmt: skip
    try:
        getattr(strategy, name)(ctx, *args)
    except Exception as e:
        ts = np.datetime64(int(market.time_ms[i]), "ms")
        msg = f"{strategy.name}.{name} failed at bar {i} ({ts} UTC): {e}"
        raise StrategyError(msg) from e
