"""quantforge: research and backtest trading strategies fast and honestly.

The public names are imported on first use (PEP 562): ``import quantforge`` is cheap, and the
engine (Numba kernels) loads when you first touch ``quantforge.backtest`` or a class next to it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
