"""Compiled bar loops over `engine._kernel`: the fast path and the event path's driver.

Also the bar-close checks that need the whole account: liquidation and the risk rails. See
`engine._kernel` for the state layout and the per-bar semantics.
"""

# mypy: allow-untyped-defs, allow-untyped-calls, allow-untyped-decorators

from __future__ import annotations

import numpy as np
from numba import njit

from quantforge.engine._kernel import (
    ACTIVE,
    BF_NEW_DAY,
    BUY,
    CANCELED,
    F_CASH,
    F_DAY_START,
    F_FUNDING,
    F_PEAK,
    F_POS,
    F_PREV_EQ,
    GTB,
    GTC,
    HEADROOM,
    I_HALT,
    I_NACT,
    I_NFILL,
    I_NORD,
    I_NTRADE,
    I_TIMEOUT_AT,
    LIMIT,
    MARKET,
    NO,
    NO_ID,
    ONE,
    P_DAILY_LOSS,
    P_MAX_DD,
    P_MMR,
    R_HALTED,
    R_USER,
    S_CLOSE,
    SELL,
    STOP,
    T_ENTRY,
    T_HALT,
    T_LIQUIDATION,
    T_SIGNAL,
    TAKER,
    TR_NONE,
    ZERO,
    _end_of_bar_nb,
    _fills_nb,
    _quiet_nb,
    _timeout_exit_nb,
    fill_nb,
    submit_nb,
)

# fmt: off
# (kernel call sites pass many positional arrays; one argument per line would triple the file)


@njit(cache=True)
def liquidate_nb(i, op, hi, lo, vol, atr, orders, active, fills, trades, fs, ist, params):
    """Liquidate the position if bar ``i`` reached its liquidation price; return True if so.

    The liquidation price is where equity falls to the maintenance margin
    (``mmr * |position| * price``). Checked after the bar's fills against the bar's adverse
    extreme; the position is closed at that price (at the open when the open was already past
    it) as a taker fill with exit reason ``liquidation``.
    """
    pos = fs[F_POS]
    cash = fs[F_CASH]
    mmr = params[P_MMR]
    if pos > 0.0:
        p_liq = -cash / (pos * (1.0 - mmr))
        if not (lo[i] <= p_liq):
            return False
        price = min(op[i], p_liq)
    else:
        p_liq = cash / (-pos * (1.0 + mmr))
        if not (hi[i] >= p_liq):
            return False
        price = max(op[i], p_liq)
    nan = np.nan
    k = submit_nb(orders, active, ist, params, i, i, MARKET, SELL if pos > 0.0 else BUY,
                  S_CLOSE, 0.0, nan, nan, GTC, ZERO, T_LIQUIDATION, ONE, nan, nan, nan, nan,
                  TR_NONE, nan, nan, ZERO, NO_ID)
    fill_nb(orders, active, fills, trades, fs, ist, params, k, i, price, NO, TAKER, NO,
            hi, lo, vol, atr)
    return True


@njit(cache=True)
def risk_nb(i, cl, flags, orders, active, ist, fs, params):
    """End-of-bar risk rails: the drawdown kill switch and the daily loss limit.

    Equity is measured at bar ``i``'s close. Breaching ``max_drawdown`` (from the highest close
    equity) halts for good; breaching ``daily_loss_limit`` (from the previous UTC day's last close)
    halts until the first bar of the next day closes. A halt cancels every working order and
    flattens at the next open (exit reason ``halt``); while halted, new orders other than
    reduce-only ones are rejected (``halted``).
    """
    eq = fs[F_CASH] + fs[F_POS] * cl[i]
    if flags[i] & BF_NEW_DAY:
        fs[F_DAY_START] = fs[F_PREV_EQ]
        if ist[I_HALT] == 2:
            ist[I_HALT] = 0
    fs[F_PREV_EQ] = eq
    if eq > fs[F_PEAK]:
        fs[F_PEAK] = eq
    if ist[I_HALT] == 1:
        return
    kill = params[P_MAX_DD] > 0.0 and eq < fs[F_PEAK] * (1.0 - params[P_MAX_DD])
    day = (params[P_DAILY_LOSS] > 0.0 and ist[I_HALT] == 0
           and eq < fs[F_DAY_START] * (1.0 - params[P_DAILY_LOSS]))
    if not (kill or day):
        return
    was = ist[I_HALT]
    ist[I_HALT] = 1 if kill else 2
    if was != 0:
        return  # already flattened by the daily halt
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status == ACTIVE:
            o.status = CANCELED
            o.reason = R_HALTED
            o.fill_bar = i
    ist[I_NACT] = 0
    ist[I_TIMEOUT_AT] = -1
    if fs[F_POS] != 0.0:
        nan = np.nan
        submit_nb(orders, active, ist, params, i, i + 1, MARKET,
                  SELL if fs[F_POS] > 0.0 else BUY, S_CLOSE, 0.0, nan, nan, GTC, ZERO, T_HALT,
                  ONE, nan, nan, nan, nan, TR_NONE, nan, nan, ZERO, NO_ID)


@njit(cache=True)
def advance_nb(start, stop, op, hi, lo, cl, vol, atr, flags, funding, orders, active, fills,
               trades, fs, ist, params, cash_out, pos_out):
    """Run bars ``start..stop-1`` (the event path's kernel) recording cash and position.

    Return the first bar not processed: ``stop``, or earlier when a record array is nearly full
    (the caller grows the arrays and calls again from there).
    """
    risk = params[P_MAX_DD] > 0.0 or params[P_DAILY_LOSS] > 0.0
    mmr = params[P_MMR] > 0.0
    for i in range(start, stop):
        if (ist[I_NORD] + HEADROOM > orders.shape[0] or ist[I_NFILL] + HEADROOM > fills.shape[0]
                or ist[I_NTRADE] + HEADROOM > trades.shape[0]):
            return i
        # the per-bar step, written out in both loops: a call per bar passing a dozen arrays
        # costs more than a quiet bar. Funding is paid on the position held into the bar's open.
        if funding[i] != 0.0 and fs[F_POS] != 0.0:
            pay = -fs[F_POS] * op[i] * funding[i]
            fs[F_CASH] += pay
            fs[F_FUNDING] += pay
        if ist[I_NACT] > 0:
            if not _quiet_nb(i, op, hi, lo, atr, orders, active, ist):
                _fills_nb(i, op, hi, lo, cl, vol, atr, orders, active, fills, trades, fs, ist,
                          params, flags)
            _end_of_bar_nb(i, orders, active, ist)
        if mmr and fs[F_POS] != 0.0 and liquidate_nb(i, op, hi, lo, vol, atr, orders, active,
                                                     fills, trades, fs, ist, params):
            _end_of_bar_nb(i, orders, active, ist)
        if ist[I_TIMEOUT_AT] >= 0 and i >= ist[I_TIMEOUT_AT] and fs[F_POS] != 0.0:
            _timeout_exit_nb(i, orders, active, ist, fs, params)
        if risk:
            risk_nb(i, cl, flags, orders, active, ist, fs, params)
        cash_out[i] = fs[F_CASH]
        pos_out[i] = fs[F_POS]
    return stop


@njit(cache=True)
def signal_orders_nb(i, le, lx, se, sx, entry_limit, size_mode, size, sl_pct, tp_pct,
                     sl_dist, tp_dist, trail_kind, trail_value, timeout_bars, entry_bars, cl,
                     orders, active, ist, fs, params):
    """Turn bar ``i``'s signals into orders (filling from bar i+1).

    Rules: an entry and an exit of the same direction on one bar cancel out; long and short
    entries together cancel out; an opposite entry closes the position and reverses; pending
    (unfilled limit) entries are canceled by any new signal; no pyramiding.
    """
    go_long = le[i] and not lx[i]
    go_short = se[i] and not sx[i]
    if go_long and go_short:
        go_long = False
        go_short = False
    pos = fs[F_POS]
    close = False
    if pos > 0.0:
        close = lx[i] or go_short
        go_long = False
        go_short = go_short and close
    elif pos < 0.0:
        close = sx[i] or go_long
        go_short = False
        go_long = go_long and close
    if not (close or go_long or go_short):
        return
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status == ACTIVE and o.reduce_only == 0 and o.tag == T_ENTRY:
            o.status = CANCELED
            o.reason = R_USER
            o.fill_bar = i
    nan = np.nan
    if close:
        submit_nb(orders, active, ist, params, i, i + 1, MARKET, SELL if pos > 0.0 else BUY,
                  S_CLOSE, 0.0, nan, nan, GTC, ZERO, T_SIGNAL, ONE, nan, nan, nan, nan, TR_NONE,
                  nan, nan, ZERO, NO_ID)
    if go_long or go_short:
        side = BUY if go_long else SELL
        lim = entry_limit[i]
        kind = LIMIT if np.isfinite(lim) else MARKET
        tif = GTB if kind == LIMIT else GTC
        k = submit_nb(orders, active, ist, params, i, i + 1, kind, side, size_mode, size[i],
                      lim, nan, tif, entry_bars, T_ENTRY, ZERO, sl_pct, tp_pct, nan, nan,
                      trail_kind, trail_value, cl[i], timeout_bars, NO_ID)
        # absolute exit distances come from the signal bar (no look-ahead)
        orders[k].sl_dist = sl_dist[i]
        orders[k].tp_dist = tp_dist[i]


@njit(cache=True)
def quiet_band_nb(i, orders, active, ist):
    """Return ``(ok, low, high)``: from bar i+1 on, a bar whose low is above ``low`` and whose
    high is below ``high`` leaves every working order untouched.

    ``ok`` is False unless every working order is a GTC limit or stop that has already been
    through one bar (``arrived``) and is eligible from bar i+1 — the orders whose quiet bars need
    no bookkeeping at all (no trailing reference, no expiry, no IOC, no maker/taker change).
    """
    low = -np.inf
    high = np.inf
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status != ACTIVE:
            continue
        if o.tif != GTC or o.arrived != 1 or o.active_bar > i + 1:
            return False, low, high
        kind = o.kind
        if kind == LIMIT:
            level = o.limit
            down = o.side > 0  # buy limits act on the way down
        elif kind == STOP:
            level = o.stop
            down = o.side < 0  # sell stops act on the way down
        else:
            return False, low, high
        if down:
            low = max(low, level)
        else:
            high = min(high, level)
    return True, low, high


@njit(cache=True)
def simulate_signals_nb(start, stop, op, hi, lo, cl, vol, atr, flags, funding, le, lx, se, sx,
                        entry_limit, size_mode, size, sl_pct, tp_pct, sl_dist, tp_dist,
                        trail_kind, trail_value, timeout_bars, entry_bars, orders, active, fills,
                        trades, fs, ist, params, cash_out, pos_out):
    """Fast path: run bars ``start..stop-1`` with signal arrays and declarative exits.

    Return the first bar not processed (``stop`` when done; earlier when the record arrays need
    to grow — the caller grows them and resumes from the returned bar).
    """
    n = stop
    risk = params[P_MAX_DD] > 0.0 or params[P_DAILY_LOSS] > 0.0
    mmr = params[P_MMR] > 0.0
    # the quiet band (see quiet_band_nb): while it holds, a bar inside it costs two comparisons
    band_ok = False
    band_lo = 0.0
    band_hi = 0.0
    for i in range(start, n):
        if (ist[I_NORD] + HEADROOM > orders.shape[0] or ist[I_NFILL] + HEADROOM > fills.shape[0]
                or ist[I_NTRADE] + HEADROOM > trades.shape[0]):
            return i
        # the per-bar step, written out in both loops: a call per bar passing a dozen arrays
        # costs more than a quiet bar. Funding is paid on the position held into the bar's open.
        if funding[i] != 0.0 and fs[F_POS] != 0.0:
            pay = -fs[F_POS] * op[i] * funding[i]
            fs[F_CASH] += pay
            fs[F_FUNDING] += pay
        if ist[I_NACT] > 0 and not (band_ok and lo[i] > band_lo and hi[i] < band_hi):
            if not _quiet_nb(i, op, hi, lo, atr, orders, active, ist):
                _fills_nb(i, op, hi, lo, cl, vol, atr, orders, active, fills, trades, fs, ist,
                          params, flags)
            _end_of_bar_nb(i, orders, active, ist)
            band_ok, band_lo, band_hi = quiet_band_nb(i, orders, active, ist)
        n_orders = ist[I_NORD]
        if mmr and fs[F_POS] != 0.0 and liquidate_nb(i, op, hi, lo, vol, atr, orders, active,
                                                     fills, trades, fs, ist, params):
            _end_of_bar_nb(i, orders, active, ist)
        if ist[I_TIMEOUT_AT] >= 0 and i >= ist[I_TIMEOUT_AT] and fs[F_POS] != 0.0:
            _timeout_exit_nb(i, orders, active, ist, fs, params)
        if risk:
            risk_nb(i, cl, flags, orders, active, ist, fs, params)
        if le[i] or lx[i] or se[i] or sx[i]:
            signal_orders_nb(i, le, lx, se, sx, entry_limit, size_mode, size, sl_pct, tp_pct,
                             sl_dist, tp_dist, trail_kind, trail_value, timeout_bars,
                             entry_bars, cl, orders, active, ist, fs, params)
        if ist[I_NORD] != n_orders:
            # liquidation, a timeout, a halt or a signal placed (and maybe canceled) orders
            band_ok = False
        cash_out[i] = fs[F_CASH]
        pos_out[i] = fs[F_POS]
    return n


# fmt: on


@njit(cache=True)
def first_bad_price_nb(op, hi, lo, cl):
    """Return the first row whose open, high, low or close is not finite and > 0, else -1.

    One pass, no temporaries; reference: ``np.argmax(~np.all(np.isfinite(p) & (p > 0), 0))``.
    """
    for i in range(op.shape[0]):
        for x in (op[i], hi[i], lo[i], cl[i]):
            # NaN fails every comparison, +inf fails the second one
            if not (x > 0.0 and x < np.inf):
                return i
    return -1
