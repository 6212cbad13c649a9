"""Compiled order-execution kernel shared by the fast (signal) path and the event path.

Everything here is ``@njit(cache=True)``: arrays and scalars in, arrays mutated in place. The Python
front-ends (`engine.backtest`, `engine.events`) validate inputs, allocate the state arrays and turn
the records back into frames. Codes are the `IntEnum` values of `engine.records` (duplicated
below as plain ints because Numba compiles module-level ints as constants).

State lives in five arrays so either front-end can stop after any bar and resume:

* ``orders`` (ORDER_DTYPE) and ``active`` (indices of working orders, in submission order);
* ``fills`` (FILL_DTYPE) and ``trades`` (TRADE_DTYPE);
* ``fs`` (float state: cash, position, running trade sums) and ``ist`` (int state: counters).

Semantics of one bar ``i`` (see docs/engine.md):

1. Open phase: every eligible order (``active_bar <= i``) is checked, in submission order, against
   the open. Market orders fill at the open plus slippage; a stop (or trailing stop) the open gapped
   through fills at the open plus slippage; a limit the open reached fills at the open.
2. Intrabar phase: the bar is walked as a path open -> first extreme -> second extreme -> close;
   which extreme comes first is the same-bar rule (adverse / favorable / open-distance). Along each
   leg the orders whose trigger level lies on the leg fill in the order the price reaches them;
   limits fill at their price, stops at their price plus slippage.
3. End of bar: good-for-N-bars orders expire, a position held for its timeout gets a market exit.

A fill that opens a position spawns its attached exits (stop-loss, take-profit, trailing stop) as
reduce-only orders in one OCO group; they are eligible on the same bar when the entry filled at the
open (the rest of the bar comes after the open) and from the next bar after an intrabar fill.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# fmt: off
# (kernel call sites pass many positional arrays; one argument per line would triple the file)

# Every constant is a NumPy scalar, not a Python int: Numba types a Python int (or bool) constant
# passed to another compiled function as a Literal and compiles a separate specialisation of the
# callee for each distinct value (fill_nb was compiled 9 times, submit_nb 11 times). NumPy
# scalars are typed as plain int64/bool, so every callee has exactly one specialisation.
_i64 = np.int64

# order kinds
MARKET = _i64(0)
LIMIT = _i64(1)
STOP = _i64(2)
STOP_LIMIT = _i64(3)
TRAILING_STOP = _i64(4)
# time in force
GTC = _i64(0)
GTB = _i64(1)
IOC = _i64(2)
# status
ACTIVE = _i64(1)
FILLED = _i64(2)
CANCELED = _i64(3)
REJECTED = _i64(4)
EXPIRED = _i64(5)
# status reasons
R_NONE = _i64(0)
R_MIN_NOTIONAL = _i64(1)
R_ZERO_QTY = _i64(2)
R_FUNDS = _i64(3)
R_NO_POSITION = _i64(4)
R_SPOT_SHORT = _i64(5)
R_NO_STOP = _i64(6)
R_INVALID_PRICE = _i64(7)
R_MAX_OPEN = _i64(8)
R_OCO = _i64(10)
R_POSITION_CLOSED = _i64(11)
R_USER = _i64(13)
R_IOC = _i64(14)
R_TIME = _i64(15)
R_MAX_POSITION = _i64(17)
R_MAX_NOTIONAL = _i64(18)
R_MAX_LEVERAGE = _i64(19)
R_HALTED = _i64(20)
# tags / exit reasons
T_ENTRY = _i64(0)
T_SIGNAL = _i64(1)
T_STOP = _i64(2)
T_TAKE_PROFIT = _i64(3)
T_TRAILING = _i64(4)
T_TIMEOUT = _i64(5)
T_LIQUIDATION = _i64(6)
T_HALT = _i64(7)
T_END = _i64(8)
# size modes
S_QTY = _i64(0)
S_NOTIONAL = _i64(1)
S_PCT = _i64(2)
S_RISK = _i64(3)
S_CLOSE = _i64(4)
# trail kinds
TR_NONE = _i64(0)
TR_PCT = _i64(1)
TR_ABS = _i64(2)
TR_ATR = _i64(3)
# liquidity
TAKER = _i64(0)
MAKER = _i64(1)
# same-bar rule
ADVERSE = _i64(0)
FAVORABLE = _i64(1)
OPEN_DISTANCE = _i64(2)
# slippage kinds
SL_NONE = _i64(0)
SL_BPS = _i64(1)
SL_RANGE = _i64(2)
SL_ATR = _i64(3)
SL_SQRT = _i64(4)
# market types
SPOT = _i64(0)

# bar flags (int8 per bar)
BF_NEW_DAY = _i64(1)  # first bar of a UTC day
BF_LOW_FIRST = _i64(2)  # a finer series shows the low came before the high
BF_HIGH_FIRST = _i64(4)  # ... the high before the low

# params (float64 vector) layout
P_MAKER = _i64(0)
P_TAKER = _i64(1)
P_SLIP_KIND = _i64(2)
P_SLIP_VALUE = _i64(3)
P_TICK = _i64(4)
P_LOT = _i64(5)
P_MIN_NOTIONAL = _i64(6)
P_LEVERAGE = _i64(7)
P_MARKET = _i64(8)
P_RULE = _i64(9)
P_MAX_OPEN = _i64(10)
P_MAX_POS = _i64(11)
P_MAX_NOTIONAL = _i64(12)
P_MAX_LEV = _i64(13)
P_MAX_DD = _i64(14)
P_DAILY_LOSS = _i64(15)
P_MMR = _i64(16)  # maintenance margin rate (perpetuals); 0 = no liquidation
P_PART = _i64(17)  # max fraction of a bar's volume one order may take; 0 = no cap
N_PARAMS = _i64(18)

# float state layout
F_CASH = _i64(0)
F_POS = _i64(1)
F_ENTRY_VAL = _i64(2)
F_ENTRY_QTY = _i64(3)
F_EXIT_VAL = _i64(4)
F_EXIT_QTY = _i64(5)
F_FEES = _i64(6)
F_FUNDING = _i64(7)
F_PEAK = _i64(8)  # highest close equity (kill switch)
F_DAY_START = _i64(9)  # equity at the previous day's last close
F_PREV_EQ = _i64(10)  # equity at the previous bar's close
F_OTHER = _i64(11)  # portfolios: value of the account's other positions (at this bar's open)
N_FSTATE = _i64(12)

# int state layout
I_NORD = _i64(0)
I_NFILL = _i64(1)
I_NTRADE = _i64(2)
I_NACT = _i64(3)
I_ENTRY_BAR = _i64(4)
I_SIDE = _i64(5)
I_TIMEOUT_AT = _i64(6)
I_HALT = _i64(7)  # 0 trading, 1 halted for good (drawdown), 2 halted until the next UTC day
N_ISTATE = _i64(8)

# room a bar may need in the record arrays (children, timeout exit, signal orders)
HEADROOM = _i64(16)


# plain (non-literal) values for call arguments
NO_ID = _i64(-1)
BUY = _i64(1)
SELL = _i64(-1)
ZERO = _i64(0)
ONE = _i64(1)
YES = np.bool_(True)
NO = np.bool_(False)


@njit(cache=True)
def round_price_nb(p, tick):
    """Round a price to the nearest tick (no-op when tick <= 0)."""
    if tick > 0.0:
        return np.round(p / tick) * tick
    return p


@njit(cache=True)
def floor_qty_nb(q, lot):
    """Round a quantity down to the lot step (no-op when lot <= 0)."""
    if lot > 0.0:
        return math.floor(q / lot + 1e-9) * lot
    return q


@njit(cache=True)
def slip_price_nb(price, side, qty, i, hi, lo, vol, atr, params):
    """Return ``price`` moved against the taker by the slippage model, rounded to the tick."""
    kind = int(params[P_SLIP_KIND])
    v = params[P_SLIP_VALUE]
    p = price
    if kind == SL_BPS:
        p = price * (1.0 + side * v * 1e-4)
    elif kind == SL_RANGE:
        if i > 0:
            p = price + side * v * (hi[i - 1] - lo[i - 1])
    elif kind == SL_ATR:
        if i > 0 and np.isfinite(atr[i - 1]):
            p = price + side * v * atr[i - 1]
    elif kind == SL_SQRT and i > 0 and vol[i - 1] > 0.0:
        p = price * (1.0 + side * v * math.sqrt(qty / vol[i - 1]))
    tick = params[P_TICK]
    if tick > 0.0 and kind != SL_NONE:
        if side > 0:
            p = math.ceil(p / tick - 1e-9) * tick
        else:
            p = math.floor(p / tick + 1e-9) * tick
    if p <= 0.0:
        p = price
    return p


@njit(cache=True)
def submit_nb(
    orders,
    active,
    ist,
    params,
    bar,
    active_bar,
    kind,
    side,
    size_mode,
    size,
    limit,
    stop,
    tif,
    n_bars,
    tag,
    reduce_only,
    sl_pct,
    tp_pct,
    sl_price,
    tp_price,
    trail_kind,
    trail_value,
    trail_ref,
    timeout_bars,
    oco,
):
    """Append an order; return its id. Invalid or excess orders are recorded as rejected."""
    k = ist[I_NORD]
    ist[I_NORD] = k + 1
    o = orders[k]
    tick = params[P_TICK]
    o.id = k
    o.created_bar = bar
    o.active_bar = active_bar
    o.kind = kind
    o.side = side
    o.tif = tif
    o.expire_bar = active_bar + n_bars - 1 if tif == GTB else -1
    o.status = ACTIVE
    o.reason = R_NONE
    o.tag = tag
    o.parent = -1
    o.oco = oco
    o.reduce_only = reduce_only
    o.arrived = 0
    o.triggered = 0
    o.size_mode = size_mode
    o.size_value = size
    o.limit = round_price_nb(limit, tick)
    o.stop = round_price_nb(stop, tick)
    o.trail_kind = trail_kind if kind == TRAILING_STOP else TR_NONE
    o.trail_value = trail_value if kind == TRAILING_STOP else np.nan
    o.trail_ref = trail_ref
    o.sl_pct = sl_pct
    o.tp_pct = tp_pct
    o.sl_price = round_price_nb(sl_price, tick)
    o.tp_price = round_price_nb(tp_price, tick)
    o.sl_dist = np.nan
    o.tp_dist = np.nan
    o.child_trail_kind = trail_kind if kind != TRAILING_STOP else TR_NONE
    o.child_trail_value = trail_value if kind != TRAILING_STOP else np.nan
    o.timeout_bars = timeout_bars
    o.fill_bar = -1
    o.fill_price = np.nan
    o.fill_qty = 0.0
    o.fee = 0.0
    o.liquidity = -1
    bad = False
    if (kind in (LIMIT, STOP_LIMIT)) and not (o.limit > 0.0):
        bad = True
    if (kind in (STOP, STOP_LIMIT)) and not (o.stop > 0.0):
        bad = True
    if kind == TRAILING_STOP and not (trail_value > 0.0 and trail_ref > 0.0):
        bad = True
    if not (size > 0.0) and size_mode != S_CLOSE:
        bad = True
    if bad:
        o.status = REJECTED
        o.reason = R_INVALID_PRICE if size > 0.0 or size_mode == S_CLOSE else R_ZERO_QTY
        return k
    if ist[I_HALT] > 0 and reduce_only == 0:
        o.status = REJECTED
        o.reason = R_HALTED
        return k
    max_open = params[P_MAX_OPEN]
    if max_open > 0.0 and ist[I_NACT] >= max_open:
        o.status = REJECTED
        o.reason = R_MAX_OPEN
        return k
    active[ist[I_NACT]] = k
    ist[I_NACT] += 1
    return k


@njit(cache=True)
def _spawn_exits_nb(orders, active, ist, params, k, i, price, pos_side, at_open, hi, lo, atr):
    o = orders[k]
    ab = i if at_open else i + 1
    sl = o.sl_price
    if not np.isfinite(sl):
        if np.isfinite(o.sl_dist):
            sl = price - pos_side * o.sl_dist
        elif np.isfinite(o.sl_pct):
            sl = price * (1.0 - pos_side * o.sl_pct)
    tp = o.tp_price
    if not np.isfinite(tp):
        if np.isfinite(o.tp_dist):
            tp = price + pos_side * o.tp_dist
        elif np.isfinite(o.tp_pct):
            tp = price * (1.0 + pos_side * o.tp_pct)
    nan = np.nan
    if np.isfinite(sl):
        submit_nb(orders, active, ist, params, i, ab, STOP, -pos_side, S_CLOSE, 0.0, nan, sl,
                  GTC, ZERO, T_STOP, ONE, nan, nan, nan, nan, TR_NONE, nan, nan, ZERO, k)
    if np.isfinite(tp):
        submit_nb(orders, active, ist, params, i, ab, LIMIT, -pos_side, S_CLOSE, 0.0, tp, nan,
                  GTC, ZERO, T_TAKE_PROFIT, ONE, nan, nan, nan, nan, TR_NONE, nan, nan, ZERO, k)
    if o.child_trail_kind != TR_NONE:
        submit_nb(orders, active, ist, params, i, ab, TRAILING_STOP, -pos_side, S_CLOSE, 0.0,
                  nan, nan, GTC, ZERO, T_TRAILING, ONE, nan, nan, nan, nan, o.child_trail_kind,
                  o.child_trail_value, price, ZERO, k)
    if o.timeout_bars > 0:
        ist[I_TIMEOUT_AT] = i + o.timeout_bars - 1
    else:
        ist[I_TIMEOUT_AT] = -1


@njit(cache=True)
def _cancel_where_nb(orders, active, ist, i, oco, except_k, reason):
    # oco >= 0: cancel that OCO group; oco == -1: cancel every reduce-only order
    for j in range(ist[I_NACT]):
        m = active[j]
        o = orders[m]
        if m == except_k or o.status != ACTIVE:
            continue
        if (oco >= 0 and o.oco == oco) or (oco < 0 and o.reduce_only == 1):
            o.status = CANCELED
            o.reason = reason
            o.fill_bar = i


@njit(cache=True)
def _record_trade_nb(trades, fs, ist, exit_bar, reason):
    t = trades[ist[I_NTRADE]]
    ist[I_NTRADE] += 1
    side = ist[I_SIDE]
    t.side = side
    t.entry_bar = ist[I_ENTRY_BAR]
    t.exit_bar = exit_bar
    t.qty = fs[F_ENTRY_QTY]
    t.entry_price = fs[F_ENTRY_VAL] / fs[F_ENTRY_QTY]
    t.exit_price = fs[F_EXIT_VAL] / fs[F_EXIT_QTY]
    t.fees = fs[F_FEES]
    t.funding = fs[F_FUNDING]
    t.pnl = side * (fs[F_EXIT_VAL] - fs[F_ENTRY_VAL]) - fs[F_FEES] + fs[F_FUNDING]
    t.ret = t.pnl / fs[F_ENTRY_VAL]
    t.exit_reason = reason
    for f in range(F_ENTRY_VAL, F_FUNDING + 1):
        fs[f] = 0.0


@njit(cache=True)
def _reject_nb(o, i, reason):
    o.status = REJECTED if reason != R_NO_POSITION else CANCELED
    o.reason = reason
    o.fill_bar = i


@njit(cache=True)
def _size_nb(o, price, pos, cash, fee_rate, lot, closing):
    # quantity of order o at this fill price; -1.0 flags a risk-sized order without a stop distance
    mode = o.size_mode
    if mode == S_CLOSE:
        return abs(pos)
    if mode == S_QTY:
        qty = o.size_value
    elif mode == S_NOTIONAL:
        qty = o.size_value / price
    elif mode == S_PCT:
        qty = o.size_value * (cash + pos * price) / (price * (1.0 + fee_rate))
    else:
        stop = o.sl_price
        if not np.isfinite(stop):
            if np.isfinite(o.sl_dist):
                stop = price - o.side * o.sl_dist
            elif np.isfinite(o.sl_pct):
                stop = price * (1.0 - o.side * o.sl_pct)
        dist = abs(price - stop)
        if not (dist > 0.0):
            return -1.0
        qty = o.size_value * (cash + pos * price) / dist
    if closing:
        qty = min(qty, abs(pos))
    return floor_qty_nb(qty, lot)


@njit(cache=True)
def fill_nb(orders, active, fills, trades, fs, ist, params, k, i, base, slipped, liq, at_open,
            hi, lo, vol, atr):
    """Fill order ``k`` on bar ``i`` at ``base`` (plus slippage when ``slipped``); return True.

    Resolves the quantity, applies lot/min-notional/funds/spot checks (a failed check marks the
    order rejected and returns False), moves cash and position, books trades, cancels the OCO
    siblings and, when the fill opens a position, spawns the attached exits.
    """
    o = orders[k]
    side = o.side
    pos = fs[F_POS]
    cash = fs[F_CASH]
    lot = params[P_LOT]
    fee_rate = params[P_MAKER] if liq == MAKER else params[P_TAKER]
    closing = o.reduce_only == 1 or o.size_mode == S_CLOSE
    if closing and (pos == 0.0 or (pos > 0.0) == (side > 0)):
        _reject_nb(o, i, R_NO_POSITION)
        return False
    sqrt_model = int(params[P_SLIP_KIND]) == SL_SQRT
    price = base
    if slipped and not sqrt_model:
        price = slip_price_nb(base, side, 0.0, i, hi, lo, vol, atr, params)
    qty = _size_nb(o, price, pos, cash + fs[F_OTHER], fee_rate, lot, closing)
    if slipped and sqrt_model and qty > 0.0:
        # the impact needs the size and the size needs the price: size once more at the impact
        price = slip_price_nb(base, side, qty, i, hi, lo, vol, atr, params)
        qty = _size_nb(o, price, pos, cash + fs[F_OTHER], fee_rate, lot, closing)
    if qty == -1.0:
        _reject_nb(o, i, R_NO_STOP)
        return False
    if not (qty > 0.0):
        _reject_nb(o, i, R_ZERO_QTY)
        return False
    wanted = qty
    partial = False
    if params[P_PART] > 0.0 and o.tag != T_LIQUIDATION:
        cap = floor_qty_nb(params[P_PART] * vol[i], lot)
        if qty > cap:
            if not (cap > 0.0) or cap * price < params[P_MIN_NOTIONAL]:
                # nothing tradable on this bar: the order waits for the next one
                o.active_bar = i + 1
                o.arrived = 1
                return False
            qty = cap
            partial = True
    notional = qty * price
    full_close = closing and qty == abs(pos)
    if notional < params[P_MIN_NOTIONAL] and not full_close:
        _reject_nb(o, i, R_MIN_NOTIONAL)
        return False
    new_pos = pos + side * qty
    if int(params[P_MARKET]) == SPOT and new_pos < 0.0:
        _reject_nb(o, i, R_SPOT_SHORT)
        return False
    fee = notional * fee_rate
    if abs(new_pos) > abs(pos):
        # spot buys need cash; margin accounts count the other positions' value as equity
        other = fs[F_OTHER] if int(params[P_MARKET]) != SPOT else 0.0
        avail = params[P_LEVERAGE] * (cash + pos * price + other - fee)
        need = abs(new_pos) * price
        if need > avail + 1e-9 * max(1.0, abs(avail)):
            _reject_nb(o, i, R_FUNDS)
            return False
        if params[P_MAX_POS] > 0.0 and abs(new_pos) > params[P_MAX_POS] * (1.0 + 1e-12):
            _reject_nb(o, i, R_MAX_POSITION)
            return False
        if params[P_MAX_NOTIONAL] > 0.0 and need > params[P_MAX_NOTIONAL] * (1.0 + 1e-12):
            _reject_nb(o, i, R_MAX_NOTIONAL)
            return False
        equity = cash + pos * price + fs[F_OTHER] - fee
        if params[P_MAX_LEV] > 0.0 and need > params[P_MAX_LEV] * equity:
            _reject_nb(o, i, R_MAX_LEVERAGE)
            return False
    if full_close:
        new_pos = 0.0
    fs[F_CASH] = cash - side * notional - fee
    fs[F_POS] = new_pos
    prev_q = o.fill_qty
    o.fill_price = price if prev_q == 0.0 else (o.fill_price * prev_q + price * qty) / (
        prev_q + qty)
    o.fill_qty = prev_q + qty
    o.fee += fee
    o.fill_bar = i
    o.liquidity = liq
    if partial:
        # the rest keeps working from the next bar, as a quantity
        o.active_bar = i + 1
        o.arrived = 1
        if o.size_mode != S_CLOSE:
            o.size_mode = S_QTY
            o.size_value = wanted - qty
    else:
        o.status = FILLED
    # trade book-keeping; a fill through zero closes one trade and opens the next
    opened = False
    if pos == 0.0:
        fs[F_ENTRY_VAL] = notional
        fs[F_ENTRY_QTY] = qty
        fs[F_FEES] = fee
        ist[I_ENTRY_BAR] = i
        ist[I_SIDE] = side
        opened = True
    elif (pos > 0.0) == (side > 0):
        fs[F_ENTRY_VAL] += notional
        fs[F_ENTRY_QTY] += qty
        fs[F_FEES] += fee
    else:
        close_q = min(qty, abs(pos))
        fs[F_EXIT_VAL] += close_q * price
        fs[F_EXIT_QTY] += close_q
        fs[F_FEES] += fee * (close_q / qty)
        if new_pos == 0.0 or (new_pos > 0.0) != (pos > 0.0):
            _record_trade_nb(trades, fs, ist, i, o.tag if o.tag != T_ENTRY else T_SIGNAL)
            ist[I_TIMEOUT_AT] = -1
            _cancel_where_nb(orders, active, ist, i, NO_ID, k, R_POSITION_CLOSED)
            if new_pos != 0.0:
                rest = qty - close_q
                fs[F_ENTRY_VAL] = rest * price
                fs[F_ENTRY_QTY] = rest
                fs[F_FEES] = fee * (rest / qty)
                ist[I_ENTRY_BAR] = i
                ist[I_SIDE] = side
                opened = True
    f = fills[ist[I_NFILL]]
    ist[I_NFILL] += 1
    f.order_id = k
    f.bar = i
    f.side = side
    f.qty = qty
    f.price = price
    f.fee = fee
    f.liquidity = liq
    f.tag = o.tag
    f.position = new_pos
    f.cash = fs[F_CASH]
    if o.oco >= 0 and not partial:
        _cancel_where_nb(orders, active, ist, i, o.oco, k, R_OCO)
    if opened:
        _spawn_exits_nb(orders, active, ist, params, k, i, price, side, at_open, hi, lo, atr)
    return True


@njit(cache=True)
def _trail_dist_nb(o, i, atr):
    if o.trail_kind == TR_PCT:
        return o.trail_ref * o.trail_value
    if o.trail_kind == TR_ABS:
        return o.trail_value
    if i > 0 and np.isfinite(atr[i - 1]):
        return o.trail_value * atr[i - 1]
    return np.inf


@njit(cache=True)
def _level_nb(o, i, atr):
    # price at which a working order acts, and whether it fills as a limit (True) or a stop
    if o.kind == LIMIT or (o.kind == STOP_LIMIT and o.triggered == 1):
        return o.limit, True
    if o.kind == TRAILING_STOP:
        return o.trail_ref + o.side * _trail_dist_nb(o, i, atr), False
    return o.stop, False


@njit(cache=True)
def _open_phase_nb(orders, active, fills, trades, fs, ist, params, i, op, hi, lo, vol, atr):
    px = op[i]
    j = 0
    while j < ist[I_NACT]:
        k = active[j]
        j += 1
        o = orders[k]
        if o.status != ACTIVE or o.active_bar > i:
            continue
        side = o.side
        if o.kind == MARKET:
            fill_nb(orders, active, fills, trades, fs, ist, params, k, i, px, YES, TAKER, YES,
                    hi, lo, vol, atr)
            continue
        level, is_limit = _level_nb(o, i, atr)
        if is_limit:
            if side * (level - px) >= 0.0:
                liq = MAKER if o.arrived == 1 else TAKER
                fill_nb(orders, active, fills, trades, fs, ist, params, k, i, px, NO, liq,
                        YES, hi, lo, vol, atr)
        elif side * (px - level) >= 0.0:
            if o.kind == STOP_LIMIT:
                o.triggered = 1
                if side * (o.limit - px) >= 0.0:
                    fill_nb(orders, active, fills, trades, fs, ist, params, k, i, px, NO,
                            TAKER, YES, hi, lo, vol, atr)
            else:
                fill_nb(orders, active, fills, trades, fs, ist, params, k, i, px, YES, TAKER,
                        YES, hi, lo, vol, atr)
        if o.status == ACTIVE:
            o.arrived = 1
            if o.tif == IOC:
                o.status = CANCELED
                o.reason = R_IOC
                o.fill_bar = i
            elif o.kind == TRAILING_STOP:
                if side < 0:
                    o.trail_ref = max(o.trail_ref, px)
                else:
                    o.trail_ref = min(o.trail_ref, px)


@njit(cache=True)
def _leg_nb(orders, active, fills, trades, fs, ist, params, i, a, b, hi, lo, vol, atr):
    # walk the price from a to b; fill what it reaches, nearest first (ties: submission order)
    up = b > a
    while True:
        best = NO_ID
        best_px = 0.0
        best_lim = NO
        for j in range(ist[I_NACT]):
            k = active[j]
            o = orders[k]
            if o.status != ACTIVE or o.active_bar > i:
                continue
            level, is_limit = _level_nb(o, i, atr)
            # buy limits and sell stops act on the way down, the others on the way up
            acts_up = (o.side < 0) if is_limit else (o.side > 0)
            if acts_up != up:
                continue
            if up:
                if level > b:
                    continue
                eff = max(level, a)
                if best < 0 or eff < best_px:
                    best, best_px, best_lim = k, eff, is_limit
            else:
                if level < b:
                    continue
                eff = min(level, a)
                if best < 0 or eff > best_px:
                    best, best_px, best_lim = k, eff, is_limit
        if best < 0:
            break
        o = orders[best]
        if best_lim:
            fill_nb(orders, active, fills, trades, fs, ist, params, best, i, best_px, NO,
                    MAKER if o.arrived == 1 else TAKER, NO, hi, lo, vol, atr)
        elif o.kind == STOP_LIMIT:
            o.triggered = 1
            o.arrived = 0
            if o.side * (o.limit - best_px) >= 0.0:
                fill_nb(orders, active, fills, trades, fs, ist, params, best, i, best_px, NO,
                        TAKER, NO, hi, lo, vol, atr)
            o.arrived = 1
        else:
            fill_nb(orders, active, fills, trades, fs, ist, params, best, i, best_px, YES, TAKER,
                    NO, hi, lo, vol, atr)
    # trailing references follow the leg's end
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status == ACTIVE and o.kind == TRAILING_STOP and o.active_bar <= i:
            if o.side < 0:
                o.trail_ref = max(o.trail_ref, b)
            else:
                o.trail_ref = min(o.trail_ref, b)


@njit(cache=True)
def _fills_nb(i, op, hi, lo, cl, vol, atr, orders, active, fills, trades, fs, ist, params,
              flags):
    # the open, then the three legs of the intrabar path
    _open_phase_nb(orders, active, fills, trades, fs, ist, params, i, op, hi, lo, vol, atr)
    pos = fs[F_POS]
    rule = int(params[P_RULE])
    o_, h_, l_ = op[i], hi[i], lo[i]
    if flags[i] & BF_LOW_FIRST:
        low_first = True
    elif flags[i] & BF_HIGH_FIRST:
        low_first = False
    elif rule == OPEN_DISTANCE or pos == 0.0:
        low_first = not (h_ - o_ < o_ - l_)
    elif rule == ADVERSE:
        low_first = pos > 0.0
    else:
        low_first = pos < 0.0
    x1 = l_ if low_first else h_
    x2 = h_ if low_first else l_
    if ist[I_NACT] > 0 and x1 != o_:
        _leg_nb(orders, active, fills, trades, fs, ist, params, i, o_, x1, hi, lo, vol, atr)
    if ist[I_NACT] > 0 and x2 != x1:
        _leg_nb(orders, active, fills, trades, fs, ist, params, i, x1, x2, hi, lo, vol, atr)
    if ist[I_NACT] > 0 and cl[i] != x2:
        _leg_nb(orders, active, fills, trades, fs, ist, params, i, x2, cl[i], hi, lo, vol, atr)


@njit(cache=True, inline="always")
def _quiet_nb(i, op, hi, lo, atr, orders, active, ist):
    """Return True when no working order can fill on bar ``i``; then do the bar's bookkeeping.

    This is the fast route for the common bar where a stop or limit is working but out of reach:
    the result is exactly what the full path walk would produce (orders marked as resting,
    trailing references moved to the bar's extreme, IOC orders canceled).
    """
    h_ = hi[i]
    l_ = lo[i]
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status != ACTIVE or o.active_bar > i:
            continue
        kind = o.kind
        side = o.side
        if kind == MARKET:
            return False
        if kind == LIMIT or (kind == STOP_LIMIT and o.triggered == 1):
            if (side > 0 and l_ <= o.limit) or (side < 0 and h_ >= o.limit):
                return False
        elif kind == TRAILING_STOP:
            # the highest level the stop can reach inside the bar, whatever the path
            ref = max(o.trail_ref, h_) if side < 0 else min(o.trail_ref, l_)
            if o.trail_kind == TR_PCT:
                dist = ref * o.trail_value
            elif o.trail_kind == TR_ABS:
                dist = o.trail_value
            elif i > 0 and np.isfinite(atr[i - 1]):
                dist = o.trail_value * atr[i - 1]
            else:
                dist = np.inf
            if (side < 0 and l_ <= ref - dist) or (side > 0 and h_ >= ref + dist):
                return False
        elif (side > 0 and h_ >= o.stop) or (side < 0 and l_ <= o.stop):
            return False
    for j in range(ist[I_NACT]):
        o = orders[active[j]]
        if o.status != ACTIVE or o.active_bar > i:
            continue
        o.arrived = 1
        if o.tif == IOC:
            o.status = CANCELED
            o.reason = R_IOC
            o.fill_bar = i
        elif o.kind == TRAILING_STOP:
            if o.side < 0:
                o.trail_ref = max(o.trail_ref, h_)
            else:
                o.trail_ref = min(o.trail_ref, l_)
    return True


@njit(cache=True, inline="always")
def _end_of_bar_nb(i, orders, active, ist):
    # expire good-for-N-bars orders and compact the working list
    n = 0
    for j in range(ist[I_NACT]):
        k = active[j]
        o = orders[k]
        if o.status == ACTIVE and o.tif == GTB and o.expire_bar <= i:
            o.status = EXPIRED
            o.reason = R_TIME
            o.fill_bar = i
        if o.status == ACTIVE:
            active[n] = k
            n += 1
    ist[I_NACT] = n


@njit(cache=True)
def _timeout_exit_nb(i, orders, active, ist, fs, params):
    ist[I_TIMEOUT_AT] = -1
    side = SELL if fs[F_POS] > 0.0 else BUY
    nan = np.nan
    submit_nb(orders, active, ist, params, i, i + 1, MARKET, side, S_CLOSE, 0.0, nan, nan,
              GTC, ZERO, T_TIMEOUT, ONE, nan, nan, nan, nan, TR_NONE, nan, nan, ZERO, NO_ID)


@njit(cache=True)
def close_open_trade_nb(trades, fs, ist, last_bar, last_close):
    """Book a still-open position as a trade marked to the last close (reason end_of_data)."""
    pos = fs[F_POS]
    if pos == 0.0:
        return
    q = abs(pos)
    fs[F_EXIT_VAL] += q * last_close
    fs[F_EXIT_QTY] += q
    _record_trade_nb(trades, fs, ist, last_bar, T_END)
    fs[F_POS] = pos


@njit(cache=True)
def atr_nb(hi, lo, cl, period):
    """Return Wilder's average true range; reference: talib.ATR (NaN for the first ``period``).

    The first value (at index ``period``) is the mean of the true ranges of bars 1..period;
    later values are ``(prev * (period - 1) + tr) / period``.
    """
    n = hi.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    acc = 0.0
    for i in range(1, period + 1):
        acc += max(hi[i] - lo[i], abs(hi[i] - cl[i - 1]), abs(lo[i] - cl[i - 1]))
    prev = acc / period
    out[period] = prev
    for i in range(period + 1, n):
        tr = max(hi[i] - lo[i], abs(hi[i] - cl[i - 1]), abs(lo[i] - cl[i - 1]))
        prev = (prev * (period - 1) + tr) / period
        out[i] = prev
    return out


# fmt: on
