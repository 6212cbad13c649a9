"""strategies package: the Strategy API (`base`) and typed parameters (`params`).

The built-in strategies live in `quantforge.strategies.library` and are looked up by name in
`quantforge.strategies.registry` (``registry.get("ma_cross").run(bars, {"fast": 5})``); that
module is not imported here so that ``import quantforge`` stays light.
"""

from __future__ import annotations

from quantforge.strategies.base import Context, Fill, Strategy
from quantforge.strategies.params import Param, ParamSpace

__all__ = ["Context", "Fill", "Param", "ParamSpace", "Strategy"]
