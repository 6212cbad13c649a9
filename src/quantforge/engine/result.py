"""Backtest results: trades, orders, fills and equity as Polars frames, plus metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import polars as pl

from quantforge.data.schema import BAR_TIME, BAR_TIME_DTYPE
from quantforge.engine import _kernel as k
from quantforge.engine.lean_metrics import lean_metrics
from quantforge.engine.metrics import compute_metrics, periods_per_year
from quantforge.engine.records import (
    ExitReason,
    Liquidity,
    OrderStatus,
    OrderType,
    StatusReason,
    TimeInForce,
)
from quantforge.engine.state import MarketArrays, SimState, bar_length_ms


def _names(
    enum: type[OrderType | OrderStatus | StatusReason | ExitReason | TimeInForce | Liquidity],
    codes: np.ndarray,
) -> pl.Series:  # type: ignore[type-arg]
    # a gather from a small table of names (a Python loop over the codes cost ~2 ms of a
    # 35k-bar sweep run); codes outside the enum map to "none"
    low = min(int(m) for m in enum)
    high = max(int(m) for m in enum)
    table = ["none"] * (high - low + 2)  # the last slot is the "none" for unknown codes
    for m in enum:
        table[int(m) - low] = m.name.lower()
    idx = np.asarray(codes, dtype=np.int64) - low
    idx = np.where((idx >= 0) & (idx <= high - low), idx, high - low + 1)
    return pl.Series(table, dtype=pl.String).gather(idx)


def _times(time_ms: np.ndarray, idx: np.ndarray) -> pl.Series:  # type: ignore[type-arg]
    safe = np.where(idx >= 0, idx, 0)
    vals = np.where(idx >= 0, time_ms[safe], 0)
    s = pl.Series(vals, dtype=pl.Int64).cast(BAR_TIME_DTYPE)
    return pl.select(pl.when(pl.Series(idx >= 0)).then(s).otherwise(None)).to_series()


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a backtest produced.

    Attributes
    ----------
    trades
        One row per round trip: symbol, side, entry/exit time (open_time of the fill bars) and
        average price, qty, fees, funding, pnl, return, bars_held, exit_reason.
    orders
        Every order with its final status and, for rejected/canceled/expired ones, the reason.
    fills
        Every fill in execution order (bar time, side, qty, price, fee, liquidity, position and
        cash after the fill).
    equity
        One row per bar: open_time, cash, position, position_value, equity, drawdown (all
        measured at the bar's close).
    metrics
        Read-only mapping of metric name to value (`quantforge.engine.metrics`).
    """

    trades: pl.DataFrame
    orders: pl.DataFrame
    fills: pl.DataFrame
    equity: pl.DataFrame
    metrics: Mapping[str, float]

    @property
    def final_equity(self) -> float:
        """Return equity at the last bar's close."""
        return float(self.equity["equity"][-1])


def ledger_frames(
    state: SimState, market: MarketArrays, symbol: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Return (trades, orders, fills) frames; books a still-open position as end_of_data."""
    n = market.n
    k.close_open_trade_nb(state.trades, state.fs, state.ist, n - 1, market.close[n - 1])
    ist = state.ist
    tr = state.trades[: ist[k.I_NTRADE]]
    od = state.orders[: ist[k.I_NORD]]
    fl = state.fills[: ist[k.I_NFILL]]
    t = market.time_ms
    bars_held = (tr["exit_bar"] - tr["entry_bar"]).astype(np.int64)
    trades = pl.DataFrame(
        {
            "symbol": pl.Series([symbol] * tr.shape[0], dtype=pl.String),
            "side": pl.Series(np.where(tr["side"] > 0, "long", "short"), dtype=pl.String),
            "entry_time": _times(t, tr["entry_bar"]),
            "exit_time": _times(t, tr["exit_bar"]),
            "entry_price": tr["entry_price"],
            "exit_price": tr["exit_price"],
            "qty": tr["qty"],
            "fees": tr["fees"],
            "funding": tr["funding"],
            "pnl": tr["pnl"],
            "return": tr["ret"],
            "bars_held": bars_held,
            "exit_reason": _names(ExitReason, tr["exit_reason"]),
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": od["id"],
            "symbol": pl.Series([symbol] * od.shape[0], dtype=pl.String),
            "created_time": _times(t, od["created_bar"]),
            "type": _names(OrderType, od["kind"]),
            "side": pl.Series(np.where(od["side"] > 0, "buy", "sell"), dtype=pl.String),
            "time_in_force": _names(TimeInForce, od["tif"]),
            "tag": _names(ExitReason, od["tag"]),
            "reduce_only": od["reduce_only"].astype(bool),
            "limit_price": od["limit"],
            "stop_price": od["stop"],
            "status": _names(OrderStatus, od["status"]),
            "reason": _names(StatusReason, od["reason"]),
            "done_time": _times(t, od["fill_bar"]),
            "fill_price": od["fill_price"],
            "fill_qty": od["fill_qty"],
            "fee": od["fee"],
            "liquidity": _names(Liquidity, od["liquidity"]),
        }
    )
    fills = pl.DataFrame(
        {
            "order_id": fl["order_id"],
            "time": _times(t, fl["bar"]),
            "side": pl.Series(np.where(fl["side"] > 0, "buy", "sell"), dtype=pl.String),
            "qty": fl["qty"],
            "price": fl["price"],
            "fee": fl["fee"],
            "liquidity": _names(Liquidity, fl["liquidity"]),
            "tag": _names(ExitReason, fl["tag"]),
            "position": fl["position"],
            "cash": fl["cash"],
        }
    )
    return trades, orders, fills


def metrics_from_arrays(
    time_ms: np.ndarray,  # type: ignore[type-arg]
    equity: np.ndarray,  # type: ignore[type-arg]
    gross_value: np.ndarray,  # type: ignore[type-arg]
    trade_pnl: np.ndarray,  # type: ignore[type-arg]
    trade_returns: np.ndarray,  # type: ignore[type-arg]
    trade_bars_held: np.ndarray,  # type: ignore[type-arg]
    fill_notional: np.ndarray,  # type: ignore[type-arg]
    *,
    calendar: str,
    risk_free_rate: float,
) -> Mapping[str, float]:
    """Return the read-only metrics of an equity curve, its trades and its fills' notional.

    The full result (`build_result`, portfolios) ends here. The metrics-only route
    (`kernel_metrics`) derives the same inputs the same way (bar length from `bar_length_ms`,
    exposure ``|gross_value| / equity``) and gets the same floats from `lean_metrics`.
    ``fill_notional`` is ``|qty * price|`` per fill in execution order (turnover).
    """
    bar_ms = bar_length_ms(time_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0.0, np.abs(gross_value) / equity, 0.0)
    metrics = compute_metrics(
        equity,
        periods_per_year=periods_per_year(bar_ms, calendar),
        trade_pnl=np.ascontiguousarray(trade_pnl, dtype=np.float64),
        trade_returns=np.ascontiguousarray(trade_returns, dtype=np.float64),
        trade_bars_held=np.ascontiguousarray(trade_bars_held, dtype=np.int64),
        exposure=exposure,
        bar_seconds=bar_ms / 1000.0,
        risk_free_rate=risk_free_rate,
        fill_notional=np.ascontiguousarray(fill_notional, dtype=np.float64),
    )
    return MappingProxyType(dict(metrics))


def result_metrics(
    time_ms: np.ndarray,  # type: ignore[type-arg]
    equity: np.ndarray,  # type: ignore[type-arg]
    gross_value: np.ndarray,  # type: ignore[type-arg]
    trades: pl.DataFrame,
    fills: pl.DataFrame,
    *,
    calendar: str,
    risk_free_rate: float,
) -> Mapping[str, float]:
    """Return the read-only metrics of an equity curve, its trades and fills (frames)."""
    return metrics_from_arrays(
        time_ms,
        equity,
        gross_value,
        trades["pnl"].to_numpy(),
        trades["return"].to_numpy(),
        trades["bars_held"].to_numpy(),
        fill_notional(fills["qty"].to_numpy(), fills["price"].to_numpy()),
        calendar=calendar,
        risk_free_rate=risk_free_rate,
    )


def fill_notional(qty: np.ndarray, price: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Return the traded notional ``|qty * price|`` of each fill (the turnover metrics' input)."""
    return np.abs(np.asarray(qty, dtype=np.float64) * np.asarray(price, dtype=np.float64))


def _equity_arrays(state: SimState, market: MarketArrays) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Return (position value, equity) per bar close."""
    pos_value = state.pos_out * market.close
    return pos_value, state.cash_out + pos_value


def kernel_metrics(
    state: SimState,
    market: MarketArrays,
    *,
    calendar: str,
    risk_free_rate: float,
) -> Mapping[str, float]:
    """Return the metrics `build_result` would give, straight from the kernel's arrays.

    No Polars frames are built (the metrics-only route of sweeps), and the curve's statistics
    come from one compiled pass (`lean_metrics`), equal bit for bit to `metrics_from_arrays`.
    Books a still-open position as end_of_data exactly like `ledger_frames`, so call it once per
    simulation, instead of `build_result`, never after it.
    """
    n = market.n
    k.close_open_trade_nb(state.trades, state.fs, state.ist, n - 1, market.close[n - 1])
    # plain structured views (the state holds record arrays under NUMBA_DISABLE_JIT): slicing
    # and field access on a record array go through Python-level hooks (~10 us a run)
    tr = state.trades.view(np.ndarray)[: state.ist[k.I_NTRADE]]
    fl = state.fills.view(np.ndarray)[: state.ist[k.I_NFILL]]
    pos_value, eq = _equity_arrays(state, market)
    bar_ms = market.bar_ms
    metrics = lean_metrics(
        eq,
        pos_value,
        periods_per_year=periods_per_year(bar_ms, calendar),
        trade_pnl=tr["pnl"],
        trade_returns=tr["ret"],
        trade_bars_held=(tr["exit_bar"] - tr["entry_bar"]).astype(np.int64),
        fill_qty=fl["qty"],
        fill_price=fl["price"],
        bar_seconds=bar_ms / 1000.0,
        risk_free_rate=risk_free_rate,
    )
    return MappingProxyType(metrics)


def build_result(
    state: SimState,
    market: MarketArrays,
    *,
    symbol: str,
    calendar: str,
    risk_free_rate: float,
) -> BacktestResult:
    """Turn the kernel's arrays into a `BacktestResult` (books an open position as end_of_data)."""
    trades, orders, fills = ledger_frames(state, market, symbol)
    t = market.time_ms
    cash = state.cash_out
    pos = state.pos_out
    pos_value, eq = _equity_arrays(state, market)
    peak = np.maximum.accumulate(eq)
    drawdown = eq / peak - 1.0
    equity = pl.DataFrame(
        {
            BAR_TIME: pl.Series(t, dtype=pl.Int64).cast(BAR_TIME_DTYPE),
            "cash": cash,
            "position": pos,
            "position_value": pos_value,
            "equity": eq,
            "drawdown": drawdown,
        }
    )
    # NumPy metrics here, not the compiled pass of the sweep route (same floats): compiling that
    # pass took the first backtest's compile from ~13 s to 25-30 s, to save ~20 ms per 1M bars
    metrics = result_metrics(
        t, eq, pos_value, trades, fills, calendar=calendar, risk_free_rate=risk_free_rate
    )
    return BacktestResult(trades, orders, fills, equity, metrics)
