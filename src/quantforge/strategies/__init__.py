"""strategies package: the Strategy API (`base`), typed parameters and the built-in strategies.

Built-in strategies are looked up by name in `quantforge.strategies.registry`
(``registry.get("ma_cross").run(bars, {"fast": 5})``).
"""

from __future__ import annotations

from quantforge.strategies import registry
from quantforge.strategies.base import Context, Fill, Strategy
from quantforge.strategies.library._common import SignalPlan, StrategyDefinition
from quantforge.strategies.params import Param, ParamSpace

__all__ = [
    "Context",
    "Fill",
    "Param",
    "ParamSpace",
    "SignalPlan",
    "Strategy",
    "StrategyDefinition",
    "registry",
]
