"""Indicators vs TA-Lib (the C library through python ``talib``) on real BTCUSDT bars.

Every comparison checks the NaN warm-up positions exactly and the values to 1e-9 relative.
Outputs that cross zero (slope, MACD, ROC, OBV) also get an absolute floor of 1e-13 times the
price level, because a relative error is meaningless at a zero crossing (TA-Lib's
``n·Σxy − Σx·Σy`` slope formula itself loses ~1e-9 absolute at BTC prices).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantforge.indicators as qi

talib = pytest.importorskip("talib")

RTOL = 1e-9


def assert_same(ours: np.ndarray, theirs: np.ndarray, atol: float = 0.0) -> None:
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape
    nan_ours, nan_theirs = np.isnan(ours), np.isnan(theirs)
    if not np.array_equal(nan_ours, nan_theirs):
        diff = np.flatnonzero(nan_ours != nan_theirs)
        pytest.fail(
            f"NaN positions differ at {diff[:10].tolist()} (ours NaN: {nan_ours.sum()}, "
            f"TA-Lib NaN: {nan_theirs.sum()})"
        )
    ok = ~nan_theirs
    err = np.abs(ours[ok] - theirs[ok])
    bound = RTOL * np.abs(theirs[ok]) + atol
    if not np.all(err <= bound):
        worst = int(np.argmax(err - bound))
        pytest.fail(
            f"value mismatch at {int(np.flatnonzero(ok)[worst])}: ours {ours[ok][worst]!r} vs "
            f"TA-Lib {theirs[ok][worst]!r} (abs err {err[worst]:.3e}, bound {bound[worst]:.3e})"
        )


class Bars:
    def __init__(self, frame: pl.DataFrame) -> None:
        self.open = frame["open"].to_numpy()
        self.high = frame["high"].to_numpy()
        self.low = frame["low"].to_numpy()
        self.close = frame["close"].to_numpy()
        self.volume = frame["volume"].to_numpy()
        self.scale = float(np.median(np.abs(self.close)))


@pytest.fixture(scope="module", params=["15m-last-50k", "1m-slice-60k"])
def bars(request: pytest.FixtureRequest, shared_data: Path) -> Bars:
    if request.param == "15m-last-50k":
        frame = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").tail(50_000)
    else:
        frame = pl.scan_parquet(shared_data / "BTCUSDT-1m.parquet").slice(400_000, 60_000)
        frame = frame.collect()
    return Bars(frame)


SINGLE: list[tuple[str, Callable[..., np.ndarray], Callable[..., np.ndarray], tuple[int, ...]]] = [
    ("SMA", qi.sma, talib.SMA, (1, 2, 20, 200)),
    ("EMA", qi.ema, talib.EMA, (1, 2, 12, 26, 200)),
    ("WMA", qi.wma, talib.WMA, (1, 2, 20, 100)),
    ("RSI", qi.rsi, talib.RSI, (2, 14, 50)),
    ("MAX", qi.rolling_max, talib.MAX, (2, 20, 55)),
    ("MIN", qi.rolling_min, talib.MIN, (2, 20, 55)),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "periods"), SINGLE, ids=[s[0] for s in SINGLE])
def test_single_input(
    bars: Bars,
    name: str,
    ours: Callable[..., np.ndarray],
    theirs: Callable[..., np.ndarray],
    periods: tuple[int, ...],
) -> None:
    for period in periods:
        assert_same(ours(bars.close, period), theirs(bars.close, timeperiod=period))


def assert_same_std(ours: np.ndarray, theirs: np.ndarray, scale: float) -> None:
    # TA-Lib's STDDEV comes from running sums, which leave an absolute variance error of about
    # 1e-20 × price² (8e-10 on a 0.105 deviation at BTC prices); ours is a two-pass sum per
    # window, checked against exact rational arithmetic in test_rolling_std_exact. So compare
    # variances: 1e-9 relative plus an absolute floor of 1e-17 × price².
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    ok = ~np.isnan(theirs)
    err = np.abs(ours[ok] ** 2 - theirs[ok] ** 2)
    assert np.all(err <= RTOL * theirs[ok] ** 2 + 1e-17 * scale**2), float(err.max())
    strict = RTOL * theirs[ok] ** 2 >= 1e-17 * scale**2
    # wherever the deviation is not tiny relative to the price, plain 1e-9 relative holds
    assert_same(ours[ok][strict], theirs[ok][strict])


def test_ema_and_macd_line_follow_talib_arithmetic(bars: Bars) -> None:
    # same operation order as TA-Lib: nearly every value is bit-identical (the rest differ by an
    # ulp or two, TA-Lib's build may contract a multiply-add), so crossovers land on the same bar
    pairs = [(qi.ema(bars.close, p), talib.EMA(bars.close, p)) for p in (2, 12, 26, 200)]
    pairs.append((qi.macd(bars.close).macd, talib.MACD(bars.close)[0]))
    for ours, theirs in pairs:
        ok = ~np.isnan(theirs)
        assert np.mean(ours[ok] == theirs[ok]) > 0.999
        np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-15, atol=1e-15 * bars.scale)


@pytest.mark.parametrize("period", [2, 5, 20])
def test_stddev_population(bars: Bars, period: int) -> None:
    # TA-Lib STDDEV divides by n (ddof=0)
    assert_same_std(
        qi.rolling_std(bars.close, period, ddof=0),
        talib.STDDEV(bars.close, period, 1.0),
        bars.scale,
    )


def test_rolling_std_exact(bars: Bars) -> None:
    from fractions import Fraction

    x = bars.close[:400]
    for p, ddof in ((2, 0), (7, 0), (7, 1)):
        ours = qi.rolling_std(x, p, ddof)
        for i in range(p - 1, x.shape[0]):
            window = [Fraction(float(v)) for v in x[i - p + 1 : i + 1]]
            mean = sum(window) / p
            var = sum((w - mean) ** 2 for w in window) / (p - ddof)
            exact = float(var) ** 0.5
            assert abs(ours[i] - exact) <= 1e-12 * exact + 1e-15 * bars.scale, (p, i)


def test_stddev_ddof1_is_rescaled_population(bars: Bars) -> None:
    p = 20
    expected = talib.STDDEV(bars.close, p, 1.0) * np.sqrt(p / (p - 1))
    assert_same_std(qi.rolling_std(bars.close, p, ddof=1), expected, bars.scale)


@pytest.mark.parametrize("period", [1, 10, 100])
def test_roc(bars: Bars, period: int) -> None:
    assert_same(qi.roc(bars.close, period), talib.ROC(bars.close, period), atol=1e-13 * 100)


@pytest.mark.parametrize("period", [2, 14, 50])
def test_linreg_slope(bars: Bars, period: int) -> None:
    # TA-Lib's n·Σxy − Σx·Σy form loses up to ~2e-13 × price absolute (1.7e-8 at 1e5 for
    # period 2, where the slope is just x[t] − x[t−1]); ours is exact to ~1e-16 × price, see
    # test_linreg_slope_exact below
    assert_same(
        qi.linreg_slope(bars.close, period),
        talib.LINEARREG_SLOPE(bars.close, period),
        atol=1e-12 * bars.scale,
    )


def test_linreg_slope_exact(bars: Bars) -> None:
    from fractions import Fraction

    x = bars.close[:300]
    assert_same(qi.linreg_slope(x, 2)[1:], np.diff(x))
    p = 14
    ours = qi.linreg_slope(x, p)
    centre = Fraction(p - 1, 2)
    sxx = sum((Fraction(j) - centre) ** 2 for j in range(p))
    for i in range(p - 1, x.shape[0]):
        window = [Fraction(float(v)) for v in x[i - p + 1 : i + 1]]
        exact = sum((Fraction(j) - centre) * w for j, w in enumerate(window)) / sxx
        assert abs(ours[i] - float(exact)) <= 1e-15 * bars.scale


def test_trange(bars: Bars) -> None:
    assert_same(
        qi.true_range(bars.high, bars.low, bars.close),
        talib.TRANGE(bars.high, bars.low, bars.close),
    )


@pytest.mark.parametrize("period", [1, 2, 14, 100])
def test_atr(bars: Bars, period: int) -> None:
    assert_same(
        qi.atr(bars.high, bars.low, bars.close, period),
        talib.ATR(bars.high, bars.low, bars.close, period),
    )


@pytest.mark.parametrize(("period", "up", "down"), [(20, 2.0, 2.0), (5, 1.5, 3.0), (50, 0.0, 1.0)])
def test_bbands(bars: Bars, period: int, up: float, down: float) -> None:
    ours = qi.bollinger_bands(bars.close, period, up, down)
    upper, middle, lower = talib.BBANDS(bars.close, period, up, down, 0)
    assert_same(ours.upper, upper)
    assert_same(ours.middle, middle)
    assert_same(ours.lower, lower)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (2, 3, 1), (5, 35, 5)])
def test_macd(bars: Bars, fast: int, slow: int, signal: int) -> None:
    ours = qi.macd(bars.close, fast, slow, signal)
    line, sig, hist = talib.MACD(bars.close, fast, slow, signal)
    atol = 1e-13 * bars.scale
    assert_same(ours.macd, line, atol)
    assert_same(ours.signal, sig, atol)
    assert_same(ours.histogram, hist, atol)


@pytest.mark.parametrize(("k", "slowing", "d"), [(14, 3, 3), (5, 3, 3), (1, 1, 1), (21, 5, 4)])
def test_stoch(bars: Bars, k: int, slowing: int, d: int) -> None:
    ours = qi.stochastic(bars.high, bars.low, bars.close, k, slowing, d)
    slowk, slowd = talib.STOCH(bars.high, bars.low, bars.close, k, slowing, 0, d, 0)
    # %K lives in [0, 100]: an absolute floor of 1e-10 (1e-12 of the range) covers 0-valued bars
    assert_same(ours.k, slowk, 1e-10)
    assert_same(ours.d, slowd, 1e-10)


@pytest.mark.parametrize(("k", "d"), [(14, 3), (5, 1)])
def test_stochf(bars: Bars, k: int, d: int) -> None:
    ours = qi.stochastic_fast(bars.high, bars.low, bars.close, k, d)
    fastk, fastd = talib.STOCHF(bars.high, bars.low, bars.close, k, d, 0)
    assert_same(ours.k, fastk, 1e-10)
    assert_same(ours.d, fastd, 1e-10)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_dmi(bars: Bars, period: int) -> None:
    h, lo, c = bars.high, bars.low, bars.close
    ours = qi.dmi(h, lo, c, period)
    assert_same(ours.plus_di, talib.PLUS_DI(h, lo, c, period))
    assert_same(ours.minus_di, talib.MINUS_DI(h, lo, c, period))
    assert_same(ours.adx, talib.ADX(h, lo, c, period))
    assert_same(qi.adx(h, lo, c, period), talib.ADX(h, lo, c, period))
    assert_same(qi.plus_di(h, lo, c, period), talib.PLUS_DI(h, lo, c, period))
    assert_same(qi.minus_di(h, lo, c, period), talib.MINUS_DI(h, lo, c, period))


def test_di_period_one_is_percent_unlike_talib(bars: Bars) -> None:
    # TA-Lib's period-1 special case returns DM / TR as a fraction (0..1) while every other
    # period returns percent; we keep percent (documented deviation)
    h, lo, c = bars.high, bars.low, bars.close
    assert_same(qi.plus_di(h, lo, c, 1), 100.0 * talib.PLUS_DI(h, lo, c, 1))
    assert_same(qi.minus_di(h, lo, c, 1), 100.0 * talib.MINUS_DI(h, lo, c, 1))


def test_obv(bars: Bars) -> None:
    assert_same(qi.obv(bars.close, bars.volume), talib.OBV(bars.close, bars.volume), 1e-6)


def test_typical_price(bars: Bars) -> None:
    assert_same(
        qi.typical_price(bars.high, bars.low, bars.close),
        talib.TYPPRICE(bars.high, bars.low, bars.close),
    )


# ---- synthetic edge cases: flat stretches (0/0 conventions), short series, tiny prices ----


def _edge_series(rng: np.random.Generator, n: int = 400, level: float = 100.0) -> np.ndarray:
    steps = rng.normal(0.0, 1.0, n)
    steps[50:90] = 0.0  # a flat stretch: no gain/loss, zero range, zero deviation
    x = level + np.cumsum(steps) * level * 1e-3
    x[200:203] = x[199]
    return x


@pytest.mark.parametrize("level", [1e-6, 1.0, 1e5])
def test_edge_cases_match_talib(rng: np.random.Generator, level: float) -> None:
    c = _edge_series(rng, level=level)
    spread = np.abs(rng.normal(0.0, level * 1e-3, c.shape[0]))
    spread[50:90] = 0.0
    h, lo = c + spread, c - spread
    v = rng.uniform(1.0, 5.0, c.shape[0])
    v[60:70] = 0.0
    scale = level
    for p in (1, 3, 14):
        assert_same(qi.sma(c, p), talib.SMA(c, p))
        assert_same(qi.ema(c, p), talib.EMA(c, p))
        assert_same(qi.wma(c, p), talib.WMA(c, p))
        assert_same(qi.atr(h, lo, c, p), talib.ATR(h, lo, c, p))
        assert_same(qi.roc(c, p), talib.ROC(c, p), 1e-11)
    for p in (2, 14):
        assert_same_std(qi.rolling_std(c, p), talib.STDDEV(c, p, 1.0), scale)
        assert_same(qi.rsi(c, p), talib.RSI(c, p), 1e-10)
        assert_same(qi.linreg_slope(c, p), talib.LINEARREG_SLOPE(c, p), 1e-12 * scale)
        ours = qi.dmi(h, lo, c, p)
        assert_same(ours.plus_di, talib.PLUS_DI(h, lo, c, p), 1e-10)
        assert_same(ours.minus_di, talib.MINUS_DI(h, lo, c, p), 1e-10)
        assert_same(ours.adx, talib.ADX(h, lo, c, p), 1e-10)
    st = qi.stochastic(h, lo, c, 5, 3, 3)
    slowk, slowd = talib.STOCH(h, lo, c, 5, 3, 0, 3, 0)
    assert_same(st.k, slowk, 1e-10)
    assert_same(st.d, slowd, 1e-10)
    m = qi.macd(c, 12, 26, 9)
    for a, b in zip(m, talib.MACD(c, 12, 26, 9), strict=True):
        assert_same(a, b, 1e-13 * scale)
    assert_same(qi.obv(c, v), talib.OBV(c, v), 1e-9)


@pytest.mark.parametrize("n", [0, 1, 2, 13, 14, 15, 27, 28])
def test_short_series_warmup_matches(n: int) -> None:
    # series shorter than / equal to the lookback: all NaN exactly where TA-Lib says so
    x = np.linspace(10.0, 20.0, n) + np.sin(np.arange(n))
    h, lo = x + 1.0, x - 1.0
    if n == 0:
        # TA-Lib rejects empty input; ours returns empty arrays
        assert qi.sma(x, 14).shape == (0,)
        assert qi.dmi(h, lo, x, 14).adx.shape == (0,)
        return
    assert_same(qi.sma(x, 14), talib.SMA(x, 14))
    assert_same(qi.ema(x, 14), talib.EMA(x, 14))
    assert_same(qi.rsi(x, 14), talib.RSI(x, 14))
    assert_same(qi.atr(h, lo, x, 14), talib.ATR(h, lo, x, 14))
    assert_same(qi.adx(h, lo, x, 14), talib.ADX(h, lo, x, 14))
    assert_same(qi.plus_di(h, lo, x, 14), talib.PLUS_DI(h, lo, x, 14))
    for a, b in zip(qi.macd(x, 3, 5, 4), talib.MACD(x, 3, 5, 4), strict=True):
        assert_same(a, b, 1e-12)
    for a, b in zip(
        qi.stochastic(h, lo, x, 5, 3, 3), talib.STOCH(h, lo, x, 5, 3, 0, 3, 0), strict=True
    ):
        assert_same(a, b, 1e-10)
