"""quantforge: research and backtest trading strategies fast and honestly."""

from __future__ import annotations

from quantforge.errors import QuantforgeError

__version__ = "0.1.0"

__all__ = ["QuantforgeError", "__version__"]
