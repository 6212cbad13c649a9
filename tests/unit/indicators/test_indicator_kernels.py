"""Compiled kernels vs their plain-Python bodies (``.py_func``), and the docstring examples."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from quantforge.indicators import _kernels as k


@pytest.fixture
def series(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = 120
    close = 50.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    close[30:40] = close[29]
    spread = rng.uniform(0.0, 1.0, n)
    return close + spread, close - spread, close, rng.uniform(0.0, 3.0, n)


@pytest.mark.parametrize("period", [1, 2, 7, 30])
def test_kernels_match_python(series, period: int) -> None:  # type: ignore[no-untyped-def]
    high, low, close, volume = series
    starts = np.zeros(close.shape[0], dtype=np.bool_)
    starts[::25] = True
    cases = [
        (k.rolling_sum_nb, (close, period, 1.0)),
        (k.rolling_sum_nb, (close, period, float(period))),
        (k.ema_nb, (close, period, period - 1)),
        (k.ema_nb, (close, period, period + 5)),
        (k.wma_nb, (close, period)),
        (k.rsi_nb, (close, period)),
        (k.true_range_nb, (high, low, close)),
        (k.atr_nb, (high, low, close, period)),
        (k.stoch_fast_k_nb, (high, low, close, period)),
        (k.rolling_vwap_nb, (close, volume, period)),
        (k.macd_nb, (close, period, period + 3, 2)),
        (k.roc_nb, (close, period)),
        (k.obv_nb, (close, volume)),
        (k.rolling_moments_nb, (close, period, 0, 0, 0.0, 0.0)),
        (k.rolling_moments_nb, (close, period, 0, 2, 2.0, 1.5)),
        (k.stoch_nb, (high, low, close, period, 3, 2)),
        (k.stoch_nb, (high, low, close, period, 1, 1)),
        (k.rolling_max_nb, (close, period)),
        (k.rolling_min_nb, (close, period)),
        (k.dmi_nb, (high, low, close, period)),
        (k.session_vwap_nb, (close, volume, starts)),
    ]
    if period >= 2:
        cases.append((k.linreg_slope_nb, (close, period)))
        cases.append((k.rolling_moments_nb, (close, period, 1, 1, 0.0, 0.0)))
    for kernel, args in cases:
        compiled = kernel(*args)
        python = getattr(kernel, "py_func", kernel)(*args)  # plain function under NUMBA_DISABLE_JIT
        compiled_parts = compiled if isinstance(compiled, tuple) else (compiled,)
        python_parts = python if isinstance(python, tuple) else (python,)
        for a, b in zip(compiled_parts, python_parts, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-12, err_msg=kernel.__name__)


def test_rolling_extrema_match_brute_force(rng: np.random.Generator) -> None:
    x = rng.integers(0, 5, 300).astype(np.float64)  # many ties
    for p in (1, 2, 3, 17):
        windows = np.lib.stride_tricks.sliding_window_view(x, p)
        np.testing.assert_array_equal(k.rolling_max_nb(x, p)[p - 1 :], windows.max(axis=1))
        np.testing.assert_array_equal(k.rolling_min_nb(x, p)[p - 1 :], windows.min(axis=1))


@pytest.mark.parametrize(
    "module",
    [
        "quantforge.indicators.moving",
        "quantforge.indicators.momentum",
        "quantforge.indicators.volatility",
        "quantforge.indicators.volume",
        "quantforge.indicators.trend",
        "quantforge.indicators.frame",
        "quantforge.indicators.cache",
        "quantforge.indicators.mtf",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
