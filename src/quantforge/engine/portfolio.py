"""Multi-asset portfolios: several symbols on one aligned bar index sharing one cash account.

Each symbol keeps its own order book, fills and trades in its own kernel state; the bar loop
steps every symbol through bar ``i`` (in sorted symbol order) before moving to ``i + 1``, handing
the one cash balance from symbol to symbol. Sizing (``PercentEquity``, ``RiskPercent``) and margin
checks see the whole account: cash plus every position, the other symbols' valued at the current
bar's open. Spot buys still need cash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from quantforge._typing import BoolArray, FloatArray
from quantforge.data.schema import BAR_TIME, BAR_TIME_DTYPE
from quantforge.engine import _kernel as k
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.backtest import Backtest, _bool_array, _float_array
from quantforge.engine.events import entry_point
from quantforge.engine.instrument import Instrument
from quantforge.engine.result import BacktestResult, ledger_frames, result_metrics
from quantforge.engine.state import MarketArrays, SimState
from quantforge.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SymbolSignals:
    """Signals of one symbol (same rules as `quantforge.backtest`'s fast path)."""

    entries: BoolArray | None = None
    exits: BoolArray | None = None
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None
    entry_price: FloatArray | None = None
    size: FloatArray | None = None


@dataclass
class _Leg:
    symbol: str
    config: Backtest
    market: MarketArrays
    state: SimState
    params: FloatArray
    signals: tuple[BoolArray, BoolArray, BoolArray, BoolArray, FloatArray, FloatArray]
    distances: tuple[FloatArray, FloatArray]  # absolute stop / take-profit distance per bar


def backtest_portfolio(
    bars: Mapping[str, pl.DataFrame],
    signals: Mapping[str, SymbolSignals],
    config: Backtest | None = None,
    *,
    instruments: Mapping[str, Instrument] | None = None,
) -> BacktestResult:
    """Simulate several symbols with one cash account (fast-path signals per symbol).

    Parameters
    ----------
    bars
        Symbol -> OHLCV frame; every frame must have the same ``open_time`` column.
    signals
        Symbol -> `SymbolSignals`; symbols without signals just hold no position.
    config
        Costs, sizing, exit rules, same-bar rule... shared by every symbol (`Backtest`).
    instruments
        Per-symbol instrument rules (default: ``config.instrument`` for all).

    Returns
    -------
    BacktestResult
        ``trades``/``orders``/``fills`` of every symbol (``symbol`` column; order ids are per
        symbol), ``equity`` of the account (cash, one ``position:<symbol>`` column per symbol,
        position_value, equity, drawdown) and its metrics.

    Raises
    ------
    ConfigError
        For unknown symbols in ``signals``/``instruments``, or settings that need a single-symbol
        account (close-equity risk rails, liquidation).
    DataValidationError
        When the frames are not aligned on one ``open_time`` index.
    """
    cfg = config if config is not None else Backtest()
    if not bars:
        msg = "backtest_portfolio needs at least one symbol in bars"
        raise ConfigError(msg)
    symbols = sorted(bars)
    for name, mapping in (("signals", signals), ("instruments", instruments or {})):
        unknown = sorted(set(mapping) - set(symbols))
        if unknown:
            msg = f"{name} has symbols {unknown} that are not in bars {symbols}"
            raise ConfigError(msg)
    if cfg.risk.checks_bar_close:
        msg = "daily_loss_limit/max_drawdown are per-account rails not supported in portfolios yet"
        raise ConfigError(msg)
    legs = [_leg(s, bars[s], signals.get(s), cfg, (instruments or {}).get(s)) for s in symbols]
    _check_aligned(legs)
    _run(legs, cfg.cash)
    return _result(legs, cfg)


def _leg(
    symbol: str,
    frame: pl.DataFrame,
    sig: SymbolSignals | None,
    cfg: Backtest,
    instrument: Instrument | None,
) -> _Leg:
    config = replace(cfg, symbol=symbol, instrument=instrument or cfg.instrument)
    if config.instrument.maintenance_margin > 0.0:
        msg = f"{symbol}: liquidation (maintenance_margin) is not supported in portfolios yet"
        raise ConfigError(msg)
    market = config.market(frame)
    n = market.n
    s = sig if sig is not None else SymbolSignals()
    arrays = (
        _bool_array(s.entries, n, f"{symbol}.entries"),
        _bool_array(s.exits, n, f"{symbol}.exits"),
        _bool_array(s.short_entries, n, f"{symbol}.short_entries"),
        _bool_array(s.short_exits, n, f"{symbol}.short_exits"),
        _float_array(s.entry_price, n, f"{symbol}.entry_price", np.nan),
        _float_array(s.size, n, f"{symbol}.size", config.sizing.lower()[1]),
    )
    return _Leg(symbol, config, market, SimState(n, config.cash), config.params(), arrays,
                config.exit_rules.distances(n))  # fmt: skip


def _check_aligned(legs: list[_Leg]) -> None:
    ref = legs[0]
    for leg in legs[1:]:
        a, b = ref.market.time_ms, leg.market.time_ms
        if a.shape != b.shape or not np.array_equal(a, b):
            m = min(a.shape[0], b.shape[0])
            diff = np.flatnonzero(a[:m] != b[:m])
            row = int(diff[0]) if diff.shape[0] else m
            msg = (
                f"bars of {leg.symbol!r} are not aligned with {ref.symbol!r} (first difference at "
                f"row {row}; {b.shape[0]} vs {a.shape[0]} rows); align them on one open_time "
                "index (e.g. an inner join on open_time) first"
            )
            raise DataValidationError(msg)


def _args(leg: _Leg, i: int) -> tuple[Any, ...]:
    m, st, cfg = leg.market, leg.state, leg.config
    le, lx, se, sx, limit, size = leg.signals
    mode = cfg.sizing.lower()[0]
    sl, tp, tk, tv, to = cfg.exit_rules.lower()
    return (i, i + 1, m.open, m.high, m.low, m.close, m.volume, m.atr, m.flags, m.funding,
            le, lx, se, sx, limit, mode, size, sl, tp, *leg.distances, tk, tv, to,
            cfg.entry_valid_bars,
            st.orders, st.active, st.fills, st.trades, st.fs, st.ist, leg.params, st.cash_out,
            st.pos_out)  # fmt: skip


def _run(legs: list[_Leg], cash: float) -> None:
    n = legs[0].market.n
    fn: Callable[..., Any] | None = None
    opens = [leg.market.open for leg in legs]
    for i in range(n):
        for j, leg in enumerate(legs):
            fs = leg.state.fs
            fs[k.F_CASH] = cash
            fs[k.F_OTHER] = sum(
                other.state.fs[k.F_POS] * opens[m][i] for m, other in enumerate(legs) if m != j
            )
            args = _args(leg, i)
            if fn is None:
                fn = entry_point(loops.simulate_signals_nb, args)
            while int(fn(*args)) <= i:
                leg.state.grow()
                args = _args(leg, i)
            cash = float(fs[k.F_CASH])
        for leg in legs:
            leg.state.cash_out[i] = cash


def _result(legs: list[_Leg], cfg: Backtest) -> BacktestResult:
    market = legs[0].market
    frames = [ledger_frames(leg.state, leg.market, leg.symbol) for leg in legs]
    trades = pl.concat([f[0] for f in frames]).sort("exit_time", "symbol", maintain_order=True)
    orders = pl.concat([f[1] for f in frames])
    fills = pl.concat([f[2] for f in frames]).sort("time", maintain_order=True)
    cash = legs[0].state.cash_out
    values = [leg.state.pos_out * leg.market.close for leg in legs]
    gross = np.sum([np.abs(v) for v in values], axis=0)
    pos_value = np.sum(values, axis=0)
    eq = cash + pos_value
    columns: dict[str, Any] = {
        BAR_TIME: pl.Series(market.time_ms, dtype=pl.Int64).cast(BAR_TIME_DTYPE),
        "cash": cash,
    }
    for leg in legs:
        columns[f"position:{leg.symbol}"] = leg.state.pos_out
    columns["position_value"] = pos_value
    columns["equity"] = eq
    columns["drawdown"] = eq / np.maximum.accumulate(eq) - 1.0
    equity = pl.DataFrame(columns)
    metrics = result_metrics(
        market.time_ms, eq, gross, trades, fills, calendar=cfg.calendar,
        risk_free_rate=cfg.risk_free_rate,
    )  # fmt: skip
    return BacktestResult(trades, orders, fills, equity, metrics)
