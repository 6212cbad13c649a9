"""The engine's ATR (used by ATR trailing stops and ATR slippage) against TA-Lib."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from quantforge.engine._kernel import atr_nb


@pytest.mark.parametrize("period", [1, 3, 14])
def test_atr_matches_talib(rng: np.random.Generator, period: int) -> None:
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    op = np.r_[100.0, close[:-1]]
    hi = np.maximum(op, close) * (1 + rng.uniform(0, 0.01, n))
    lo = np.minimum(op, close) * (1 - rng.uniform(0, 0.01, n))
    ours = atr_nb(hi, lo, close, period)
    ref = talib.ATR(hi, lo, close, timeperiod=period)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, equal_nan=True)
