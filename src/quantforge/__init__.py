"""quantforge: research and backtest trading strategies fast and honestly."""

from __future__ import annotations

from quantforge.engine import (
    Backtest,
    BacktestResult,
    ExitRules,
    Fees,
    Instrument,
    RiskLimits,
    TrailingStop,
    sizing,
    slippage,
)
from quantforge.engine.backtest import backtest
from quantforge.engine.portfolio import SymbolSignals, backtest_portfolio
from quantforge.errors import QuantforgeError
from quantforge.strategies import Context, Fill, Strategy

__version__ = "0.1.0"

__all__ = [
    "Backtest",
    "BacktestResult",
    "Context",
    "ExitRules",
    "Fees",
    "Fill",
    "Instrument",
    "QuantforgeError",
    "RiskLimits",
    "Strategy",
    "SymbolSignals",
    "TrailingStop",
    "__version__",
    "backtest",
    "backtest_portfolio",
    "sizing",
    "slippage",
]
