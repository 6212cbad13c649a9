"""Integer codes and NumPy record layouts shared by the compiled kernel and the Python side.

The kernel (``engine/_kernel.py``) only sees plain integers and structured arrays; every code it
writes is one of the `IntEnum` values below, so the Python side can turn a ledger back into names.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np


class OrderType(IntEnum):
    """How an order is priced."""

    MARKET = 0
    LIMIT = 1
    STOP = 2
    STOP_LIMIT = 3
    TRAILING_STOP = 4


class Side(IntEnum):
    """Direction of an order (or a position, for trades)."""

    SELL = -1
    BUY = 1


class TimeInForce(IntEnum):
    """How long an order stays working."""

    GTC = 0  # until filled or canceled
    GTB = 1  # good for N bars
    IOC = 2  # only the opening auction of its first eligible bar


class OrderStatus(IntEnum):
    """Life-cycle state of an order."""

    WAITING = 0  # bracket child, waits for its parent to fill
    ACTIVE = 1
    FILLED = 2
    CANCELED = 3
    REJECTED = 4
    EXPIRED = 5


class StatusReason(IntEnum):
    """Why an order was rejected, canceled or expired (NONE for live and filled orders)."""

    NONE = 0
    MIN_NOTIONAL = 1
    ZERO_QTY = 2
    INSUFFICIENT_FUNDS = 3
    NO_POSITION = 4
    SPOT_SHORT = 5
    NO_STOP_DISTANCE = 6
    INVALID_PRICE = 7
    MAX_OPEN_ORDERS = 8
    OCO = 10
    POSITION_CLOSED = 11
    PARENT_NOT_FILLED = 12
    USER = 13
    IOC = 14
    TIME = 15
    END_OF_DATA = 16
    MAX_POSITION = 17
    MAX_NOTIONAL = 18
    MAX_LEVERAGE = 19
    HALTED = 20


class ExitReason(IntEnum):
    """Purpose tag of an order; for a closing order it becomes the trade's exit reason."""

    ENTRY = 0
    SIGNAL = 1
    STOP = 2
    TAKE_PROFIT = 3
    TRAILING = 4
    TIMEOUT = 5
    LIQUIDATION = 6
    HALT = 7
    END_OF_DATA = 8


class SizeMode(IntEnum):
    """How an order's quantity is resolved (at fill time, from the fill price)."""

    QTY = 0  # base-asset units
    NOTIONAL = 1  # quote currency
    PERCENT_EQUITY = 2  # fraction of equity (1.0 = all of it, fees included)
    RISK_PERCENT = 3  # fraction of equity lost if the attached stop is hit
    CLOSE = 4  # the whole open position (reduce-only)


class TrailKind(IntEnum):
    """Distance definition of a trailing stop."""

    NONE = 0
    PERCENT = 1
    ABSOLUTE = 2
    ATR = 3  # multiple of the ATR known at the previous bar's close


class Liquidity(IntEnum):
    """Whether a fill added (maker) or took (taker) liquidity."""

    TAKER = 0
    MAKER = 1


class SameBarRule(IntEnum):
    """Which of a stop and a take-profit fills first when one bar reaches both."""

    ADVERSE = 0  # the price path visits the adverse extreme first (conservative)
    FAVORABLE = 1
    OPEN_DISTANCE = 2  # the extreme nearer to the open is visited first


class SlippageKind(IntEnum):
    """Slippage model lowered to the kernel."""

    NONE = 0
    FIXED_BPS = 1
    RANGE_FRACTION = 2  # fraction of the previous bar's high-low range
    ATR_FRACTION = 3  # fraction of the ATR known at the previous close
    SQRT_IMPACT = 4  # coef * price * sqrt(qty / previous bar volume)


class MarketType(IntEnum):
    """Instrument market type."""

    SPOT = 0
    LINEAR_PERP = 1


ORDER_DTYPE: Final = np.dtype(
    [
        ("id", np.int64),
        ("created_bar", np.int64),
        ("active_bar", np.int64),  # first bar on which it may fill
        ("kind", np.int64),
        ("side", np.int64),
        ("tif", np.int64),
        ("expire_bar", np.int64),
        ("status", np.int64),
        ("reason", np.int64),
        ("tag", np.int64),
        ("parent", np.int64),
        ("oco", np.int64),
        ("reduce_only", np.int64),
        ("arrived", np.int64),  # has been evaluated once: a later limit fill is a maker fill
        ("triggered", np.int64),  # stop-limit whose stop was reached (now a resting limit)
        ("size_mode", np.int64),
        ("size_value", np.float64),  # not "size": np.record.size is the element count
        ("limit", np.float64),
        ("stop", np.float64),
        ("trail_kind", np.int64),
        ("trail_value", np.float64),
        ("trail_ref", np.float64),
        ("sl_pct", np.float64),  # attached exits, spawned when this order opens a position
        ("tp_pct", np.float64),
        ("sl_price", np.float64),
        ("tp_price", np.float64),
        ("sl_dist", np.float64),  # absolute distances from the entry fill (price units)
        ("tp_dist", np.float64),
        ("child_trail_kind", np.int64),
        ("child_trail_value", np.float64),
        ("timeout_bars", np.int64),
        ("fill_bar", np.int64),
        ("fill_price", np.float64),
        ("fill_qty", np.float64),
        ("fee", np.float64),
        ("liquidity", np.int64),
    ]
)

FILL_DTYPE: Final = np.dtype(
    [
        ("order_id", np.int64),
        ("bar", np.int64),
        ("side", np.int64),
        ("qty", np.float64),
        ("price", np.float64),
        ("fee", np.float64),
        ("liquidity", np.int64),
        ("tag", np.int64),
        ("position", np.float64),  # after the fill
        ("cash", np.float64),  # after the fill
    ]
)

TRADE_DTYPE: Final = np.dtype(
    [
        ("side", np.int64),  # +1 long, -1 short
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("qty", np.float64),  # largest absolute position held
        ("entry_price", np.float64),  # quantity-weighted average
        ("exit_price", np.float64),  # quantity-weighted average
        ("fees", np.float64),
        ("funding", np.float64),
        ("pnl", np.float64),
        ("ret", np.float64),  # pnl over entry cost
        ("exit_reason", np.int64),
    ]
)
