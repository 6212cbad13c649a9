"""strategies package: the Strategy API (`base`) and built-in strategies."""

from __future__ import annotations

from quantforge.strategies.base import Context, Fill, Strategy

__all__ = ["Context", "Fill", "Strategy"]
