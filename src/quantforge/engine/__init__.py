"""The simulation engine: orders, fills, costs, sizing and the two front-ends over one kernel.

The `backtest` function lives in `quantforge.engine.backtest` (and is `quantforge.backtest`); it is
not re-exported here so that name keeps meaning the module.
"""

from __future__ import annotations

from quantforge.engine import sizing, slippage
from quantforge.engine.backtest import Backtest, warmup
from quantforge.engine.costs import Fees
from quantforge.engine.exits import ExitRules, TrailingStop
from quantforge.engine.instrument import Instrument
from quantforge.engine.result import BacktestResult
from quantforge.engine.risk import RiskLimits

__all__ = [
    "Backtest",
    "BacktestResult",
    "ExitRules",
    "Fees",
    "Instrument",
    "RiskLimits",
    "TrailingStop",
    "sizing",
    "slippage",
    "warmup",
]
