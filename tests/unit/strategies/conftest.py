"""Hand-made bars for the built-in strategy tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import pytest

MIN = 60_000

BarsFactory = Callable[..., pl.DataFrame]


def frame(
    close: Sequence[float] | np.ndarray,
    *,
    open: Sequence[float] | np.ndarray | None = None,
    high: Sequence[float] | np.ndarray | None = None,
    low: Sequence[float] | np.ndarray | None = None,
    volume: Sequence[float] | np.ndarray | None = None,
    start_ms: int = 1_700_000_000_000 // MIN * MIN,
    step_ms: int = MIN,
    time_ms: Sequence[int] | np.ndarray | None = None,
) -> pl.DataFrame:
    c = np.asarray(close, dtype=np.float64)
    o = np.r_[c[0], c[:-1]] if open is None else np.asarray(open, dtype=np.float64)
    h = np.maximum(o, c) if high is None else np.asarray(high, dtype=np.float64)
    lo = np.minimum(o, c) if low is None else np.asarray(low, dtype=np.float64)
    v = np.ones_like(c) if volume is None else np.asarray(volume, dtype=np.float64)
    t = (
        start_ms + step_ms * np.arange(c.shape[0], dtype=np.int64)
        if time_ms is None
        else np.asarray(time_ms, dtype=np.int64)
    )
    return pl.DataFrame({"open_time": t, "open": o, "high": h, "low": lo, "close": c, "volume": v})


@pytest.fixture
def make_bars() -> BarsFactory:
    """Return a factory: closes (+ optional open/high/low/volume/times) -> an OHLCV frame."""
    return frame
