"""quantforge: research and backtest trading strategies fast and honestly.

The public names are imported on first use (PEP 562): ``import quantforge`` is cheap, and the
engine (Numba kernels) loads when you first touch ``quantforge.backtest`` or a class next to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantforge._lazy import lazy_attributes
from quantforge.errors import QuantforgeError

if TYPE_CHECKING:
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
    from quantforge.strategies import Context, Fill, Strategy

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Backtest": "quantforge.engine",
    "BacktestResult": "quantforge.engine",
    "Context": "quantforge.strategies",
    "ExitRules": "quantforge.engine",
    "Fees": "quantforge.engine",
    "Fill": "quantforge.strategies",
    "Instrument": "quantforge.engine",
    "RiskLimits": "quantforge.engine",
    "Strategy": "quantforge.strategies",
    "SymbolSignals": "quantforge.engine.portfolio",
    "TrailingStop": "quantforge.engine",
    "backtest": "quantforge.engine.backtest",
    "backtest_portfolio": "quantforge.engine.portfolio",
    "sizing": "quantforge.engine",
    "slippage": "quantforge.engine",
}

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


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
