"""Slippage models (``qf.slippage.FixedBps(2)`` …); see `quantforge.engine.costs`."""

from __future__ import annotations

from quantforge.engine.costs import (
    AtrFraction,
    FixedBps,
    NoSlippage,
    RangeFraction,
    SlippageModel,
    SqrtImpact,
)

__all__ = ["AtrFraction", "FixedBps", "NoSlippage", "RangeFraction", "SlippageModel", "SqrtImpact"]
