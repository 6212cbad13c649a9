"""The backtesting.py side of the cross-checks: its input frame and a signal-driven strategy.

Shared by `tests/parity/test_crosscheck_backtesting_py.py` and `bench/bench_crosslib.py`.
backtesting.py (AGPL) is a test and benchmark dependency only; nothing under ``src/`` imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from backtesting import Strategy


def backtesting_py_data(bars: pl.DataFrame) -> Any:
    """Return ``bars`` as the pandas frame backtesting.py takes (Open … Volume, time index)."""
    return (
        bars.select(
            pl.col("open_time"),
            pl.col("open").alias("Open"),
            pl.col("high").alias("High"),
            pl.col("low").alias("Low"),
            pl.col("close").alias("Close"),
            pl.col("volume").alias("Volume"),
        )
        .to_pandas()
        .set_index("open_time")
    )


def signal_cross_strategy(
    bars: pl.DataFrame, le: np.ndarray, lx: np.ndarray, stop: float | None
) -> type[Strategy]:
    """Return a backtesting.py strategy that buys 1 unit on ``le`` and closes on ``lx``.

    With ``stop`` it attaches an absolute stop ``stop`` below the entry's fill. backtesting.py
    takes only absolute stop prices, so the stop is placed from the fill price of this market
    order, the next bar's open: a look-ahead of the test harness alone (no entry signal falls on
    the last bar of the data used), which makes the stop the same as quantforge's percent stop.
    """
    opens = bars["open"].to_numpy()

    class SignalCross(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if le[i] and not self.position:
                sl = opens[i + 1] * (1.0 - stop) if stop is not None else None
                self.buy(size=1, sl=sl)
            elif lx[i] and self.position:
                self.position.close()

    return SignalCross
