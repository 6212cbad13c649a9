"""Mutable simulation state shared by the fast path and the event path (internal).

Both front-ends drive the same compiled kernel over the same arrays; this module allocates them,
grows them when the kernel asks for room, and lowers the cost/instrument objects to the kernel's
parameter vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from quantforge._typing import FloatArray, IntArray
from quantforge.data.schema import BAR_TIME, BAR_TIME_DTYPE, REQUIRED_BAR_COLUMNS
from quantforge.engine import _kernel as k
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.costs import Fees, SlippageModel
from quantforge.engine.instrument import Instrument
from quantforge.engine.intrabar import extreme_order
from quantforge.engine.records import FILL_DTYPE, ORDER_DTYPE, TRADE_DTYPE, SameBarRule
from quantforge.engine.risk import RiskLimits
from quantforge.errors import ConfigError, DataValidationError

SameBar = Literal["adverse", "favorable", "open_distance"]

# The kernels access record fields by attribute (``orders[i].status``). Compiled, they take plain
# structured arrays (Numba types a record array and a structured array alike); run as Python
# (NUMBA_DISABLE_JIT=1) they need record arrays, whose elements are np.record views. Plain arrays
# are used whenever the kernels are compiled: a record array's view and attribute hooks run in
# Python (~8 us per view, and again when Numba types each kernel call's arguments). A compiled
# kernel is a Numba dispatcher, which keeps the Python function as ``py_func``.
_RECORD_ARRAYS: bool = not hasattr(loops.simulate_signals_nb, "py_func")

_RULES: dict[str, int] = {
    "adverse": int(SameBarRule.ADVERSE),
    "favorable": int(SameBarRule.FAVORABLE),
    "open_distance": int(SameBarRule.OPEN_DISTANCE),
}


@dataclass(frozen=True, slots=True)
class MarketArrays:
    """Contiguous float64 columns of one symbol's bars plus the ATR the kernel may need."""

    time_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    atr: FloatArray
    flags: npt.NDArray[np.int8]  # BF_* bits: new UTC day, intrabar extreme order
    funding: FloatArray  # funding rate paid at each bar's open (0 = none)
    bar_ms: int  # bar length for the metrics: the median spacing of open_time (`bar_length_ms`)

    @property
    def n(self) -> int:
        """Return the number of bars."""
        return int(self.open.shape[0])


def market_arrays(
    bars: pl.DataFrame,
    atr_period: int | None,
    funding_rate: FloatArray | None = None,
    intrabar: pl.DataFrame | None = None,
) -> MarketArrays:
    """Validate ``bars`` and return its columns as arrays.

    Raises
    ------
    DataValidationError
        If a required column is missing, ``open_time`` is not sorted strictly increasing, or a
        price is not finite and positive.
    """
    missing = [c for c in REQUIRED_BAR_COLUMNS if c not in bars.columns]
    if missing:
        msg = f"bars lack column(s) {missing}; expected {list(REQUIRED_BAR_COLUMNS)}"
        raise DataValidationError(msg)
    if bars.height == 0:
        msg = "bars is empty; load at least one bar"
        raise DataValidationError(msg)
    t = bars[BAR_TIME]
    if t.dtype != BAR_TIME_DTYPE:
        if t.dtype.is_integer():
            t = t.cast(pl.Int64)
        elif isinstance(t.dtype, pl.Datetime):
            t = t.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
        else:
            msg = f"open_time has dtype {t.dtype}; expected {BAR_TIME_DTYPE} or int64 ms"
            raise DataValidationError(msg)
    time_ms = np.ascontiguousarray(t.cast(pl.Int64).to_numpy(), dtype=np.int64)
    if time_ms.shape[0] > 1 and not np.all(np.diff(time_ms) > 0):
        bad = int(np.argmax(np.diff(time_ms) <= 0)) + 1
        msg = f"open_time is not strictly increasing at row {bad}; sort and deduplicate the bars"
        raise DataValidationError(msg)
    cols = [
        np.ascontiguousarray(bars[c].cast(pl.Float64).to_numpy()) for c in REQUIRED_BAR_COLUMNS[1:]
    ]
    op, hi, lo, cl, vol = cols
    row = int(loops.first_bad_price_nb(op, hi, lo, cl))
    if row >= 0:
        msg = f"bar {row} has a non-finite or non-positive price; validate the bars first"
        raise DataValidationError(msg)
    atr = (
        k.atr_nb(hi, lo, cl, atr_period) if atr_period is not None else np.full(op.shape[0], np.nan)
    )
    day = time_ms // 86_400_000
    flags = np.zeros(time_ms.shape[0], dtype=np.int8)
    flags[0] = k.BF_NEW_DAY
    flags[1:] = np.where(day[1:] != day[:-1], k.BF_NEW_DAY, 0)
    if intrabar is not None:
        flags |= extreme_order(time_ms, intrabar)
    funding = np.zeros(op.shape[0])
    if funding_rate is not None:
        if funding_rate.shape != op.shape:
            msg = (
                f"funding_rate has shape {funding_rate.shape}; expected one rate per bar {op.shape}"
            )
            raise DataValidationError(msg)
        funding = np.ascontiguousarray(np.nan_to_num(funding_rate, nan=0.0), dtype=np.float64)
    return MarketArrays(time_ms, op, hi, lo, cl, vol, atr, flags, funding, bar_length_ms(time_ms))


def bar_length_ms(time_ms: IntArray) -> int:
    """Return the bar length the metrics use: the median spacing of the bar times (ms).

    One minute for a single bar. The one definition shared by the full result and the sweep
    route, so both annualise alike.
    """
    n = time_ms.shape[0]
    return int(np.median(np.diff(time_ms))) if n > 1 else 60_000


def lower_params(
    fees: Fees,
    slippage: SlippageModel,
    instrument: Instrument,
    same_bar_rule: SameBar,
    risk: RiskLimits | None = None,
    volume_participation: float | None = None,
) -> FloatArray:
    """Return the kernel's parameter vector."""
    if same_bar_rule not in _RULES:
        msg = f"same_bar_rule={same_bar_rule!r}; use one of {sorted(_RULES)}"
        raise ConfigError(msg)
    params = np.zeros(k.N_PARAMS)
    slip_kind, slip_value = slippage.lower()
    params[k.P_MAKER] = fees.maker
    params[k.P_TAKER] = fees.taker
    params[k.P_SLIP_KIND] = slip_kind
    params[k.P_SLIP_VALUE] = slip_value
    params[k.P_TICK] = instrument.tick_size
    params[k.P_LOT] = instrument.lot_size
    params[k.P_MIN_NOTIONAL] = instrument.min_notional
    params[k.P_LEVERAGE] = instrument.leverage
    params[k.P_MARKET] = instrument.market_code
    params[k.P_MMR] = instrument.maintenance_margin
    params[k.P_PART] = _or_zero(volume_participation)
    params[k.P_RULE] = _RULES[same_bar_rule]
    if risk is not None:
        params[k.P_MAX_OPEN] = _or_zero(risk.max_open_orders)
        params[k.P_MAX_POS] = _or_zero(risk.max_position_qty)
        params[k.P_MAX_NOTIONAL] = _or_zero(risk.max_notional)
        params[k.P_MAX_LEV] = _or_zero(risk.max_leverage)
        params[k.P_DAILY_LOSS] = _or_zero(risk.daily_loss_limit)
        params[k.P_MAX_DD] = _or_zero(risk.max_drawdown)
    return params


def _or_zero(value: float | None) -> float:
    # the kernel reads 0 as "no limit"
    return 0.0 if value is None else float(value)


class SimState:
    """Ledger arrays, counters and per-bar cash/position of one simulation (mutated in place)."""

    def __init__(self, n_bars: int, cash: float, capacity: int = 256) -> None:
        if not (np.isfinite(cash) and cash > 0.0):
            msg = f"cash must be a positive amount, got {cash!r}"
            raise ConfigError(msg)
        # structured arrays, record arrays when the kernels run as Python (see _RECORD_ARRAYS)
        self.orders = _records(capacity, ORDER_DTYPE)
        self.active = np.zeros(capacity, dtype=np.int64)
        self.fills = _records(capacity, FILL_DTYPE)
        self.trades = _records(capacity, TRADE_DTYPE)
        self.fs = np.zeros(k.N_FSTATE)
        self.fs[k.F_CASH] = cash
        self.fs[k.F_PEAK] = cash
        self.fs[k.F_DAY_START] = cash
        self.fs[k.F_PREV_EQ] = cash
        self.ist = np.zeros(k.N_ISTATE, dtype=np.int64)
        self.ist[k.I_TIMEOUT_AT] = -1
        self.cash_out = np.empty(n_bars)
        self.pos_out = np.empty(n_bars)
        self.initial_cash = float(cash)

    def grow(self) -> None:
        """Double the record arrays (the kernel stopped because one was nearly full)."""
        self.orders = _doubled(self.orders)
        self.active = _doubled(self.active)
        self.fills = _doubled(self.fills)
        self.trades = _doubled(self.trades)


def _records(capacity: int, dtype: np.dtype[Any]) -> Any:
    out = np.zeros(capacity, dtype=dtype)
    return out.view(np.recarray) if _RECORD_ARRAYS else out


def _doubled(a: Any) -> Any:
    out = np.zeros(a.shape[0] * 2, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out.view(np.recarray) if isinstance(a, np.recarray) else out
