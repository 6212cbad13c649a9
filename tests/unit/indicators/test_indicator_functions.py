"""Hand-computed cases, input validation and the NaN rule of the array functions."""

from __future__ import annotations

import numpy as np
import pytest

import quantforge.indicators as qi
from quantforge.errors import ConfigError

nan = np.nan


def same(a: np.ndarray, b: list[float] | np.ndarray, tol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b, dtype=float), rtol=tol, atol=tol)


# ---------------------------------------------------------------- hand-computed values


def test_sma_ema_wma_by_hand() -> None:
    x = [2.0, 4.0, 6.0, 8.0, 10.0]
    same(qi.sma(x, 3), [nan, nan, 4.0, 6.0, 8.0])
    # EMA(3): k = 0.5, seed = mean(2, 4, 6) = 4 at index 2; then 4 + (8-4)/2 = 6; 6 + (10-6)/2 = 8
    same(qi.ema(x, 3), [nan, nan, 4.0, 6.0, 8.0])
    y = [1.0, 1.0, 4.0, 1.0]
    # EMA(2): k = 2/3, seed (1+1)/2 = 1; 1 + (4-1)*2/3 = 3; 3 + (1-3)*2/3 = 5/3
    same(qi.ema(y, 2), [nan, 1.0, 3.0, 5.0 / 3.0])
    # WMA(3) weights 1,2,3 / 6: (2*1+4*2+6*3)/6 = 28/6
    same(qi.wma(x, 3), [nan, nan, 28 / 6, 40 / 6, 52 / 6])
    same(qi.sma(x, 1), x)
    same(qi.ema(x, 1), x)


def test_rsi_by_hand() -> None:
    x = [10.0, 11.0, 10.5, 11.5, 11.0]
    # changes +1, -0.5, +1, -0.5; period 2 seed: gain (1+0)/2 = 0.5, loss (0+0.5)/2 = 0.25
    # -> RSI = 100 * 0.5 / 0.75 at index 2; then gain (0.5+1)/2 = 0.75, loss 0.25/2 = 0.125
    # -> 100 * 0.75 / 0.875; then gain 0.375, loss (0.125 + 0.5)/2 = 0.3125
    same(qi.rsi(x, 2), [nan, nan, 200 / 3, 600 / 7, 100 * 0.375 / 0.6875])
    assert qi.rsi([5.0] * 6, 2)[-1] == 0.0  # no movement: TA-Lib's 0


def test_true_range_and_atr_by_hand() -> None:
    high = [10.0, 12.0, 11.0, 15.0]
    low = [8.0, 9.0, 7.0, 13.0]
    close = [9.0, 11.0, 8.0, 14.0]
    # TR: -, max(3, |9-12|, |9-9|) = 3, max(4, 0, 4) = 4, max(2, 7, 5) = 7
    same(qi.true_range(high, low, close), [nan, 3.0, 4.0, 7.0])
    # ATR(2): seed (3 + 4) / 2 = 3.5 at index 2; then (3.5 + 7) / 2 = 5.25
    same(qi.atr(high, low, close, 2), [nan, nan, 3.5, 5.25])
    same(qi.atr(high, low, close, 1), [nan, 3.0, 4.0, 7.0])


def test_rolling_vwap_by_hand() -> None:
    price = [10.0, 20.0, 30.0, 40.0]
    volume = [1.0, 3.0, 0.0, 0.0]
    # window 2: (10+60)/4 = 17.5, (60+0)/3 = 20, (0+0)/0 -> NaN
    same(qi.rolling_vwap(price, volume, 2), [nan, 17.5, 20.0, nan])
    same(qi.rolling_vwap(price, volume, 1), [10.0, 20.0, nan, nan])


def test_session_vwap_utc_day_anchor() -> None:
    day = 86_400_000
    open_time = np.array([day - 120_000, day - 60_000, day, day + 60_000, 2 * day + 5])
    price = [10.0, 20.0, 30.0, 40.0, 50.0]
    volume = [1.0, 1.0, 2.0, 2.0, 4.0]
    out = qi.session_vwap(price, volume, open_time=open_time)
    same(out, [10.0, 15.0, 30.0, 35.0, 50.0])
    # datetime64 gives the same anchors
    as_dt = open_time.astype("datetime64[ms]")
    same(qi.session_vwap(price, volume, open_time=as_dt), out)


def test_session_vwap_custom_key_and_zero_volume() -> None:
    out = qi.session_vwap(
        [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 2.0, 1.0, 0.0, 1.0], session=["a", "a", "a", "b", "b"]
    )
    # a: 0/0 -> NaN, 4/2 = 2, (4+3)/3; b: 0/0 -> NaN, 5/1
    same(out, [nan, 2.0, 7 / 3, nan, 5.0])


def test_session_vwap_needs_exactly_one_anchor() -> None:
    with pytest.raises(ConfigError, match="exactly one anchor"):
        qi.session_vwap([1.0], [1.0])
    with pytest.raises(ConfigError, match="exactly one anchor"):
        qi.session_vwap([1.0], [1.0], open_time=[0], session=[0])
    with pytest.raises(ConfigError, match="one value per bar"):
        qi.session_vwap([1.0, 2.0], [1.0, 1.0], session=[0])
    with pytest.raises(ConfigError, match="open_time must be int64"):
        qi.session_vwap([1.0], [1.0], open_time=[0.5])


def test_donchian_by_hand() -> None:
    high = [5.0, 7.0, 6.0, 4.0, 8.0]
    low = [3.0, 4.0, 2.0, 3.0, 5.0]
    out = qi.donchian(high, low, 3)
    same(out.upper, [nan, nan, 7.0, 7.0, 8.0])
    same(out.lower, [nan, nan, 2.0, 2.0, 2.0])
    same(out.middle, [nan, nan, 4.5, 4.5, 5.0])


def test_zscore_and_std_by_hand() -> None:
    x = [1.0, 2.0, 3.0, 3.0, 3.0, 10.0]
    # window 3 at index 2: mean 2, pop std sqrt(2/3): z = 1 / sqrt(2/3)
    z = qi.zscore(x, 3)
    assert np.isnan(z[:2]).all()
    same(z[2], 1.0 / np.sqrt(2.0 / 3.0))
    assert np.isnan(z[4])  # flat window 3, 3, 3 has no z-score
    # window (3, 3, 10): mean 16/3, deviations -7/3, -7/3, 14/3 -> var (49+49+196)/27
    same(z[5], (14 / 3) / np.sqrt(294 / 27))
    same(qi.zscore(x, 3, ddof=1)[2], 1.0)  # sample std of 1, 2, 3 is 1
    same(qi.rolling_std(x, 3, ddof=1), [nan, nan, 1.0, np.sqrt(1 / 3), 0.0, np.sqrt(49 / 3)])


def test_bollinger_bands_by_hand() -> None:
    out = qi.bollinger_bands([1.0, 3.0, 5.0], 2, 2.0, 1.0)
    same(out.middle, [nan, 2.0, 4.0])
    same(out.upper, [nan, 4.0, 6.0])  # pop std 1
    same(out.lower, [nan, 1.0, 3.0])


def test_macd_by_hand() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 6.0, 4.0])
    out = qi.macd(x, fast=2, slow=3, signal=2)
    # slow EMA(3), k=1/2: seed mean(1,2,4)=7/3 @2; 7/3+(8-7/3)/2 = 31/6 @3; 31/6+(6-31/6)/2=67/12
    # @4; 67/12 + (4 - 67/12)/2 = 115/24 @5
    # fast EMA(2), k=2/3, seeded at index 2 with mean(2, 4) = 3: 3 + (8-3)*2/3 = 19/3 @3;
    # 19/3 + (6-19/3)*2/3 = 55/9 @4; 55/9 + (4 - 55/9)*2/3 = 127/27 @5
    line = np.array([nan, nan, 3 - 7 / 3, 19 / 3 - 31 / 6, 55 / 9 - 67 / 12, 127 / 27 - 115 / 24])
    # signal EMA(2) of the line from index 2: seed mean(line[2], line[3]) at 3
    sig = np.full(6, nan)
    sig[3] = (line[2] + line[3]) / 2
    sig[4] = sig[3] + (line[4] - sig[3]) * 2 / 3
    sig[5] = sig[4] + (line[5] - sig[4]) * 2 / 3
    expected_line = line.copy()
    expected_line[2] = nan  # TA-Lib lookback slow + signal - 2 = 3 also for the line
    same(out.macd, expected_line)
    same(out.signal, sig)
    same(out.histogram, expected_line - sig)


def test_stochastic_by_hand() -> None:
    high = [10.0, 12.0, 11.0, 13.0]
    low = [8.0, 9.0, 9.0, 10.0]
    close = [9.0, 11.0, 10.0, 13.0]
    fast = qi.stochastic_fast(high, low, close, 2, 1)
    # k @1: (11-8)/(12-8) = 75; @2: (10-9)/(12-9) = 33.3; @3: (13-9)/(13-9) = 100
    same(fast.k, [nan, 75.0, 100 / 3, 100.0])
    slow = qi.stochastic(high, low, close, 2, 2, 1)
    same(slow.k, [nan, nan, (75 + 100 / 3) / 2, (100 / 3 + 100) / 2])
    same(slow.d, slow.k)
    flat = qi.stochastic_fast([5.0] * 3, [5.0] * 3, [5.0] * 3, 2, 1)
    same(flat.k, [nan, 0.0, 0.0])  # zero range: TA-Lib's 0


def test_dmi_by_hand() -> None:
    high = [10.0, 12.0, 11.0, 14.0]
    low = [9.0, 10.0, 8.0, 12.0]
    close = [9.5, 11.0, 9.0, 13.0]
    # bar1: +DM 2 (up 2 > down -1), TR max(2, 2.5, 0.5) = 2.5
    # bar2: up -1, down 2 -> -DM 2; TR max(3, 0, 3) = 3
    # bar3: up 3, down -4 -> +DM 3; TR max(2, 5, 3) = 5
    # period 2: sums over bar 1: +DM 2, -DM 0, TR 2.5; bar 2: +DM 2 - 1 = 1, -DM 0 + 2 = 2,
    # TR 2.5 - 1.25 + 3 = 4.25 -> +DI 100/4.25, -DI 200/4.25, DX 100 * 1/3
    # bar 3: +DM 1 - .5 + 3 = 3.5, -DM 2 - 1 = 1, TR 4.25 - 2.125 + 5 = 7.125
    out = qi.dmi(high, low, close, 2)
    same(out.plus_di, [nan, nan, 100 / 4.25, 350 / 7.125])
    same(out.minus_di, [nan, nan, 200 / 4.25, 100 / 7.125])
    p3, m3 = 350 / 7.125, 100 / 7.125
    dx3 = 100 * abs(p3 - m3) / (p3 + m3)
    same(out.adx, [nan, nan, nan, (100 / 3 + dx3) / 2])


def test_linreg_slope_roc_obv_by_hand() -> None:
    same(qi.linreg_slope([1.0, 3.0, 5.0, 4.0], 3), [nan, nan, 2.0, 0.5])
    same(qi.linreg_slope([2.0, 2.0, 2.0], 2), [nan, 0.0, 0.0])
    same(qi.roc([100.0, 110.0, 99.0], 1), [nan, 10.0, -10.0])
    same(qi.roc([0.0, 5.0], 1), [nan, 0.0])  # zero reference: TA-Lib's 0
    same(qi.obv([1.0, 2.0, 1.0, 1.0], [5.0, 6.0, 7.0, 8.0]), [5.0, 11.0, 4.0, 4.0])


def test_outputs_are_fresh_float64_arrays() -> None:
    x = np.arange(10, dtype=np.int64)
    out = qi.sma(x, 3)
    assert out.dtype == np.float64
    assert out.flags.writeable
    out[:] = 0.0
    assert qi.sma(x, 3)[5] == 4.0


def test_short_inputs_are_all_warmup() -> None:
    assert np.isnan(qi.sma([1.0, 2.0], 3)).all()
    assert np.isnan(qi.rsi([1.0, 2.0, 3.0], 3)).all()
    assert qi.ema([], 3).shape == (0,)
    assert qi.obv([], []).shape == (0,)
    assert qi.session_vwap([], [], session=[]).shape == (0,)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: qi.sma([1.0, 2.0], 0), r"period must be an integer >= 1; got 0"),
        (lambda: qi.ema([1.0, 2.0], -3), r"period must be an integer >= 1"),
        (lambda: qi.rsi([1.0], 2.5), r"period must be an integer >= 1; got 2.5"),
        (lambda: qi.wma([1.0], True), r"period must be an integer"),
        (lambda: qi.linreg_slope([1.0, 2.0], 1), r"period must be an integer >= 2"),
        (lambda: qi.zscore([1.0, 2.0], 1), r"period must be an integer >= 2"),
        (lambda: qi.rolling_std([1.0, 2.0], 2, ddof=2), r"ddof must be in \[0, period - 1\]"),
        (lambda: qi.macd([1.0] * 40, 26, 12), r"fast must be smaller than slow"),
        (lambda: qi.macd([1.0] * 40, 12, 26, 0), r"signal must be an integer >= 1"),
        (lambda: qi.stochastic([1.0], [1.0], [1.0], k_period=0), r"k_period must be"),
        (lambda: qi.stochastic([1.0], [1.0], [1.0], 3, slowing=0), r"slowing must be"),
        (lambda: qi.bollinger_bands([1.0], 2, -1.0), r"num_std_up must be a finite number >= 0"),
        (lambda: qi.bollinger_bands([1.0], 2, 2.0, nan), r"num_std_down must be a finite"),
        (lambda: qi.sma(np.ones((3, 2)), 2), r"values must be 1-D; got an array of shape \(3, 2\)"),
        (lambda: qi.sma(["a", "b"], 2), r"values must be a 1-D array of numbers"),
        (lambda: qi.atr([1.0, 2.0], [1.0], [1.0, 2.0]), r"same length; got high=2, low=1, close=2"),
        (lambda: qi.obv([1.0], [1.0, 2.0]), r"same length; got close=1, volume=2"),
    ],
)
def test_bad_inputs_raise_config_error(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=match):
        call()


def test_numpy_integer_period_is_accepted() -> None:
    same(qi.sma([1.0, 2.0, 3.0], np.int64(2)), [nan, 1.5, 2.5])


# ---------------------------------------------------------------- NaN rule


def test_nan_splits_the_series_into_independent_runs() -> None:
    x = np.array([1.0, 2.0, 3.0, nan, 4.0, 6.0, 8.0, 10.0])
    same(qi.sma(x, 2), [nan, 1.5, 2.5, nan, nan, 5.0, 7.0, 9.0])
    # EMA restarts its seed after the gap instead of staying NaN forever
    expected = np.concatenate([qi.ema(x[:3], 2), [nan], qi.ema(x[4:], 2)])
    same(qi.ema(x, 2), expected)
    same(qi.obv(x, np.ones(8)), np.concatenate([qi.obv(x[:3], np.ones(3)), [nan], [1, 2, 3, 4]]))


def test_nan_in_any_input_blanks_that_bar() -> None:
    high = np.array([3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    low = high - 2.0
    close = high - 1.0
    close[2] = np.inf
    tr = qi.true_range(high, low, close)
    assert np.isnan(tr[[0, 2, 3]]).all()  # bar 3 starts a new run: no previous close
    same(tr[[1, 4, 5]], [2.0, 2.0, 2.0])


def test_leading_nan_lets_indicators_chain() -> None:
    x = np.linspace(100.0, 120.0, 60) + np.sin(np.arange(60))
    r = qi.rsi(x, 14)
    smoothed = qi.ema(r, 5)
    assert np.isnan(smoothed[: 14 + 4]).all()
    same(smoothed[14:], qi.ema(r[14:], 5))


def test_session_vwap_nan_bar_restarts() -> None:
    out = qi.session_vwap([1.0, 2.0, nan, 4.0], [1.0, 1.0, 1.0, 1.0], session=[0, 0, 0, 0])
    same(out, [1.0, 1.5, nan, 4.0])
