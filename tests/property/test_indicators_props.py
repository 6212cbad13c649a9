"""Hypothesis invariants of the indicators: ranges, symmetry, warm-up, NaN rule, causality."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quantforge.indicators as qi
from quantforge.indicators.registry import REGISTRY

SETTINGS = settings(max_examples=60, deadline=None)

prices = st.floats(1.0, 1e6, allow_nan=False, allow_infinity=False)
periods = st.integers(1, 30)


def price_arrays(min_size: int = 1, max_size: int = 120) -> st.SearchStrategy[np.ndarray]:
    return st.integers(min_size, max_size).flatmap(lambda n: arrays(np.float64, n, elements=prices))


@st.composite
def ohlcv(draw: st.DrawFn, min_size: int = 1, max_size: int = 120) -> dict[str, np.ndarray]:
    n = draw(st.integers(min_size, max_size))
    close = draw(arrays(np.float64, n, elements=prices))
    up = draw(arrays(np.float64, n, elements=st.floats(0.0, 1e3)))
    down = draw(arrays(np.float64, n, elements=st.floats(0.0, 1e3)))
    volume = draw(arrays(np.float64, n, elements=st.floats(0.0, 1e6)))
    # flat stretches exercise the 0/0 conventions
    if n > 4 and draw(st.booleans()):
        close[n // 4 : n // 2] = close[n // 4]
        up[n // 4 : n // 2] = 0.0
        down[n // 4 : n // 2] = 0.0
    return {
        "high": close + up,
        "low": close - down,
        "close": close,
        "volume": volume,
        "open_time": np.arange(n, dtype=np.int64) * 3_600_000 + 1_700_000_000_000,
    }


def nan_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def leading_nans(a: np.ndarray) -> int:
    finite = np.flatnonzero(~np.isnan(a))
    return int(finite[0]) if finite.shape[0] else a.shape[0]


# ---------------------------------------------------------------- moving averages


@SETTINGS
@given(value=prices, n=st.integers(1, 100), period=periods)
def test_averages_of_a_constant_are_the_constant(value: float, n: int, period: int) -> None:
    x = np.full(n, value)
    for fn in (qi.sma, qi.ema, qi.wma):
        out = fn(x, period)
        assert leading_nans(out) == min(period - 1, n)
        np.testing.assert_allclose(out[period - 1 :], value, rtol=1e-12)
    assert np.all(qi.rolling_std(x, period)[period - 1 :] == 0.0)


@SETTINGS
@given(x=price_arrays(), period=periods)
def test_window_averages_stay_inside_the_window(x: np.ndarray, period: int) -> None:
    if x.shape[0] < period:
        return
    windows = np.lib.stride_tricks.sliding_window_view(x, period)
    lo, hi = windows.min(axis=1), windows.max(axis=1)
    # Running sums (updated per bar, re-summed every RESUM_EVERY bars) carry rounding error of
    # about eps x the largest value summed since the last re-sum: a 524,290 spike before a run
    # of 1.25s leaves ~5e-10 relative in the later WMAs. Bound: 4 n eps max|x| (n <= 120 here).
    tol = 1e-9 * hi + 4 * x.shape[0] * np.finfo(np.float64).eps * np.abs(x).max()
    for fn in (qi.sma, qi.wma):
        out = fn(x, period)[period - 1 :]
        assert np.all(out >= lo - tol)
        assert np.all(out <= hi + tol)
    e = qi.ema(x, period)[period - 1 :]
    running_lo = np.minimum.accumulate(x)[period - 1 :]
    running_hi = np.maximum.accumulate(x)[period - 1 :]
    assert np.all(e >= running_lo - 1e-9 * running_hi)
    assert np.all(e <= running_hi * (1 + 1e-9))


# ---------------------------------------------------------------- ranges


@SETTINGS
@given(bars=ohlcv(), period=st.integers(1, 20))
def test_oscillators_are_in_0_100(bars: dict[str, np.ndarray], period: int) -> None:
    h, lo, c = bars["high"], bars["low"], bars["close"]
    checks = [qi.rsi(c, period), *qi.stochastic(h, lo, c, period, 3, 3), *qi.dmi(h, lo, c, period)]
    for out in checks:
        valid = out[~np.isnan(out)]
        assert np.all(valid >= -1e-9)
        assert np.all(valid <= 100.0 + 1e-9)


@SETTINGS
@given(bars=ohlcv(), period=st.integers(1, 20))
def test_ranges_and_deviations_are_non_negative(bars: dict[str, np.ndarray], period: int) -> None:
    h, lo, c = bars["high"], bars["low"], bars["close"]
    for out in (qi.true_range(h, lo, c), qi.atr(h, lo, c, period), qi.rolling_std(c, period)):
        assert np.all(out[~np.isnan(out)] >= 0.0)


@SETTINGS
@given(bars=ohlcv(), period=st.integers(1, 20))
def test_donchian_is_ordered(bars: dict[str, np.ndarray], period: int) -> None:
    h, lo = bars["high"], bars["low"]
    ch = qi.donchian(h, lo, period)
    ok = ~np.isnan(ch.upper)
    assert np.all(ch.upper[ok] >= ch.middle[ok])
    assert np.all(ch.middle[ok] >= ch.lower[ok])
    assert np.all(ch.upper[ok] >= h[ok])
    assert np.all(ch.lower[ok] <= lo[ok])


@SETTINGS
@given(x=price_arrays(), period=periods, width=st.floats(0.0, 5.0))
def test_bollinger_bands_are_symmetric(x: np.ndarray, period: int, width: float) -> None:
    bb = qi.bollinger_bands(x, period, width, width)
    ok = ~np.isnan(bb.middle)
    up = bb.upper[ok] - bb.middle[ok]
    down = bb.middle[ok] - bb.lower[ok]
    np.testing.assert_allclose(
        up, down, rtol=1e-9, atol=1e-9 * np.abs(bb.middle[ok]).max(initial=1)
    )
    assert np.all(up >= 0.0)


@SETTINGS
@given(x=price_arrays(min_size=2), period=st.integers(2, 30))
def test_zscore_is_bounded(x: np.ndarray, period: int) -> None:
    # with the population deviation |z| <= sqrt(n - 1) for the newest point of n
    z = qi.zscore(x, period)
    valid = z[~np.isnan(z)]
    assert np.all(np.abs(valid) <= np.sqrt(period - 1) * (1 + 1e-9))


@SETTINGS
@given(
    a=st.floats(-1e4, 1e4),
    b=st.floats(-1e3, 1e3),
    n=st.integers(2, 80),
    period=st.integers(2, 30),
)
def test_slope_of_a_line_is_its_slope(a: float, b: float, n: int, period: int) -> None:
    x = a + b * np.arange(n, dtype=np.float64)
    out = qi.linreg_slope(x, period)
    np.testing.assert_allclose(out[period - 1 :], b, rtol=1e-9, atol=1e-9 * (abs(a) + abs(b) * n))


# ---------------------------------------------------------------- warm-up, NaN rule, causality

# parameters small enough to leave values in short series, and each indicator's warm-up
PARAMS: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "sma": ({"period": 4}, (3,)),
    "ema": ({"period": 4}, (3,)),
    "wma": ({"period": 4}, (3,)),
    "rsi": ({"period": 4}, (4,)),
    "macd": ({"fast": 2, "slow": 4, "signal": 3}, (5, 5, 5)),
    "roc": ({"period": 3}, (3,)),
    "stochastic": ({"k_period": 3, "slowing": 2, "d_period": 2}, (4, 4)),
    "stochastic_fast": ({"k_period": 3, "d_period": 2}, (3, 3)),
    "true_range": ({}, (1,)),
    "atr": ({"period": 3}, (3,)),
    "rolling_std": ({"period": 4}, (3,)),
    "zscore": ({"period": 4}, (3,)),
    "bollinger_bands": ({"period": 4}, (3, 3, 3)),
    "rolling_max": ({"period": 4}, (3,)),
    "rolling_min": ({"period": 4}, (3,)),
    "donchian": ({"period": 4}, (3, 3, 3)),
    "dmi": ({"period": 3}, (3, 3, 5)),
    "adx": ({"period": 3}, (5,)),
    "plus_di": ({"period": 3}, (3,)),
    "minus_di": ({"period": 3}, (3,)),
    "linreg_slope": ({"period": 4}, (3,)),
    "obv": ({}, (0,)),
    "typical_price": ({}, (0,)),
    "vwap": ({"period": 4}, (3,)),
    "session_vwap": ({}, (0,)),
}


def run(name: str, bars: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    info = REGISTRY[name]
    result = info.function(*(bars[role] for role in info.inputs), **PARAMS[name][0])
    return (result,) if isinstance(result, np.ndarray) else tuple(result)


def test_every_indicator_has_property_parameters() -> None:
    assert set(PARAMS) == set(REGISTRY)
    # the registry's warm-up formulas agree with the hand table
    for name, (params, lookbacks) in PARAMS.items():
        info = REGISTRY[name]
        canonical = dict(info.canonical_params((), params))
        assert info.warmup(canonical) == lookbacks, name


@SETTINGS
@given(bars=ohlcv(min_size=1, max_size=80), data=st.data())
def test_registry_warmup_matches_output(bars: dict[str, np.ndarray], data: st.DataObject) -> None:
    n = bars["close"].shape[0]
    bars["volume"] = bars["volume"] + 1.0
    # A trend steeper than the bars' own range makes every window non-degenerate (no 0/0 such as
    # a zero std in zscore, which is documented to be NaN and would be taken for warm-up here).
    prices = ("high", "low", "close")
    trend = np.arange(n) * (float(np.ptp(np.concatenate([bars[c] for c in prices]))) + 1.0)
    for column in prices:
        bars[column] = bars[column] + trend
    bars["high"] = bars["high"] + np.arange(n)
    bars["close"] = bars["close"] + np.arange(n) * 0.5
    p = data.draw(st.integers(2, 12), label="p")
    fast = data.draw(st.integers(1, p - 1), label="fast")
    choices: dict[str, dict[str, Any]] = {
        "macd": {"fast": fast, "slow": p, "signal": data.draw(st.integers(1, 6))},
        "stochastic": {"k_period": p, "slowing": fast, "d_period": data.draw(st.integers(1, 4))},
        "stochastic_fast": {"k_period": p, "d_period": fast},
        "true_range": {},
        "obv": {},
        "typical_price": {},
        "session_vwap": {},
    }
    for name, info in REGISTRY.items():
        params = choices.get(name, {"period": p})
        expected = info.warmup(dict(info.canonical_params((), params)))
        result = info.function(*(bars[role] for role in info.inputs), **params)
        outputs = (result,) if isinstance(result, np.ndarray) else tuple(result)
        for out, lookback in zip(outputs, expected, strict=True):
            assert leading_nans(out) == min(lookback, n), (name, params)


@SETTINGS
@given(bars=ohlcv(min_size=12, max_size=60))
def test_warmup_lengths(bars: dict[str, np.ndarray]) -> None:
    bars["volume"] = bars["volume"] + 1.0  # zero volume would make VWAP NaN on its own
    bars["high"] = bars["high"] + np.arange(bars["close"].shape[0])  # no flat z-score windows
    bars["close"] = bars["close"] + np.arange(bars["close"].shape[0]) * 0.5
    for name, (_, lookbacks) in PARAMS.items():
        for out, lookback in zip(run(name, bars), lookbacks, strict=True):
            assert leading_nans(out) == lookback, name


@SETTINGS
@given(bars=ohlcv(min_size=2, max_size=60), data=st.data())
def test_causality_for_every_indicator(bars: dict[str, np.ndarray], data: st.DataObject) -> None:
    """Changing anything after bar t never changes any output up to and including t."""
    n = bars["close"].shape[0]
    t = data.draw(st.integers(0, n - 2), label="t")
    changed = {key: value.copy() for key, value in bars.items()}
    tail = n - t - 1
    factor = data.draw(arrays(np.float64, tail, elements=st.floats(0.5, 2.0)), label="factor")
    for key in ("high", "low", "close", "volume"):
        changed[key][t + 1 :] *= factor
    if data.draw(st.booleans(), label="nan_after_t"):
        changed["close"][t + 1 :: 3] = np.nan
    for name in REGISTRY:
        for before, after in zip(run(name, bars), run(name, changed), strict=True):
            assert nan_equal(before[: t + 1], after[: t + 1]), name


@SETTINGS
@given(x=price_arrays(min_size=3, max_size=80), data=st.data())
def test_nan_splits_series_into_independent_runs(x: np.ndarray, data: st.DataObject) -> None:
    j = data.draw(st.integers(0, x.shape[0] - 1), label="j")
    period = data.draw(st.integers(1, 6), label="period")
    gapped = x.copy()
    gapped[j] = np.nan
    for fn in (qi.sma, qi.ema, qi.wma, qi.rsi, qi.roc, qi.rolling_std, qi.rolling_max):
        out = fn(gapped, period)
        assert np.isnan(out[j])
        assert nan_equal(out[:j], fn(x[:j], period))
        assert nan_equal(out[j + 1 :], fn(x[j + 1 :], period))
