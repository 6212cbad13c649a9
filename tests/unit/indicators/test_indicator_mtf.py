"""Multi-timeframe resampling and alignment: hand-checked cases and a no-look-ahead proof."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantforge.indicators as qi
from quantforge.errors import ConfigError, DataValidationError
from quantforge.indicators.mtf import align_to_base, mtf_indicator, resample_bars

M15 = 900_000
H4 = 4 * 3_600_000
nan = np.nan


def make_bars(n: int, start_ms: int = 0, step_ms: int = M15) -> pl.DataFrame:
    idx = np.arange(n, dtype=np.float64)
    return pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * step_ms + start_ms,
            "open": idx,
            "high": idx + 0.5,
            "low": idx - 0.5,
            "close": idx,
            "volume": np.ones(n),
        }
    )


def test_hand_checked_alignment_15m_to_4h() -> None:
    # 36 bars from 00:00: 4h bar 0 = bars 0..15 (closes 04:00), bar 1 = 16..31, bar 2 = 32..35
    bars = make_bars(36)
    out = mtf_indicator(bars, "4h", ("sma", 1), base_interval="15m")
    expected = np.full(36, nan)
    expected[15:31] = 15.0  # the 03:45 bar (close 04:00) is the first to see 4h bar 0
    expected[31:] = 31.0  # 4h bar 2 is incomplete (4 of 16 bars): never used
    np.testing.assert_array_equal(out, expected)
    assert np.isnan(out[14])  # the 03:30 bar closes at 03:45 < 04:00
    resampled = resample_bars(bars, "4h", base_interval="15m")
    assert resampled["bar_count"].to_list() == [16, 16, 4]
    assert resampled["complete"].to_list() == [True, True, False]
    assert resampled["open"].to_list() == [0.0, 16.0, 32.0]
    assert resampled["high"].to_list() == [15.5, 31.5, 35.5]
    assert resampled["low"].to_list() == [-0.5, 15.5, 31.5]
    assert resampled["close"].to_list() == [15.0, 31.0, 35.0]
    assert resampled["volume"].to_list() == [16.0, 16.0, 4.0]
    assert resampled["close_time_ms"].to_list() == [H4, 2 * H4, 3 * H4]


def test_multi_output_and_ema_on_4h() -> None:
    bars = make_bars(16 * 30)
    out = mtf_indicator(bars, "4h", ("bollinger_bands", 5), base_interval="15m")
    assert isinstance(out, qi.BollingerBands)
    higher_close = 16.0 * np.arange(30) + 15.0
    bb = qi.bollinger_bands(higher_close, 5)
    # base bar 16k+15 sees 4h bar k
    np.testing.assert_array_equal(out.upper[16 * np.arange(30) + 15], bb.upper)
    ema = mtf_indicator(bars, "4h", ("ema", 3))  # base interval inferred (15m)
    assert isinstance(ema, np.ndarray)
    np.testing.assert_array_equal(ema[16 * np.arange(30) + 15], qi.ema(higher_close, 3))


def test_gap_makes_a_higher_bar_incomplete() -> None:
    bars = make_bars(48).filter(~pl.col("open").is_in([20.0, 21.0]))  # hole inside 4h bar 1
    dropped = mtf_indicator(bars, "4h", ("sma", 1), base_interval="15m")
    kept_nan = mtf_indicator(bars, "4h", ("sma", 1), base_interval="15m", incomplete="nan")
    closes = bars["close"].to_numpy()
    at = {c: i for i, c in enumerate(closes)}
    # drop: bar 1 (bars 16..31) is skipped, bar 0 stays visible until bar 2 closes
    assert dropped[at[31.0]] == 15.0
    assert dropped[at[47.0]] == 47.0
    # nan: bar 1 is a NaN bar once it has closed
    assert np.isnan(kept_nan[at[31.0]])
    assert kept_nan[at[30.0]] == 15.0
    assert kept_nan[at[47.0]] == 47.0
    assert resample_bars(bars, "4h", base_interval="15m")["complete"].to_list() == [
        True,
        False,
        True,
    ]


def test_nan_mode_restarts_warmup_after_incomplete_bar() -> None:
    bars = make_bars(16 * 12).filter(pl.col("open") != 40.0)  # 4h bar 2 incomplete
    out = mtf_indicator(bars, "4h", ("sma", 2), base_interval="15m", incomplete="nan")
    closes = bars["close"].to_numpy()
    at = {c: i for i, c in enumerate(closes)}
    assert out[at[31.0]] == (15.0 + 31.0) / 2
    assert np.isnan(out[at[47.0]])  # bar 2 incomplete
    assert np.isnan(out[at[63.0]])  # bar 3 is the first of a new run: SMA(2) warms up again
    assert out[at[79.0]] == (63.0 + 79.0) / 2


def test_data_starting_mid_bar_and_datetime_open_time() -> None:
    bars = make_bars(40, start_ms=3_600_000)  # starts 01:00: 4h bar 0 has 12 of 16 bars
    out = mtf_indicator(bars, "4h", ("sma", 1), base_interval="15m")
    assert np.isnan(out[:27]).all()  # bar 0 incomplete; bar 1 (04:00-08:00) closes at index 27
    assert out[27] == 27.0
    as_dt = bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    np.testing.assert_array_equal(mtf_indicator(as_dt, "4h", ("sma", 1)), out)


def test_weeks_start_monday_and_months() -> None:
    # 2024-01-01 was a Monday
    monday = 1_704_067_200_000
    bars = make_bars(24 * 15, start_ms=monday - 24 * 3_600_000, step_ms=3_600_000)
    weekly = resample_bars(bars, "1w", base_interval="1h")
    starts = weekly["open_time"].dt.weekday().to_list()
    assert set(starts) == {1}  # Monday
    assert weekly["bar_count"].to_list() == [24, 168, 168]
    assert weekly["complete"].to_list() == [False, True, True]
    monthly = resample_bars(make_bars(24 * 70, monday, 3_600_000), "1M", base_interval="1h")
    assert monthly["bar_count"].to_list() == [744, 696, 240]  # Jan 31 d, Feb 29 d (2024)
    assert monthly["complete"].to_list() == [True, True, False]


def test_align_to_base() -> None:
    np.testing.assert_array_equal(
        align_to_base([4, 8], [10.0, 20.0], [3, 4, 7, 8, 9]), [nan, 10.0, 10.0, 20.0, 20.0]
    )
    with pytest.raises(ConfigError, match="strictly increasing"):
        align_to_base([8, 4], [1.0, 2.0], [1])
    with pytest.raises(ConfigError, match="equal length"):
        align_to_base([4], [1.0, 2.0], [1])


def test_mtf_errors() -> None:
    bars = make_bars(40)
    with pytest.raises(ConfigError, match="whole multiple"):
        resample_bars(bars, "20m", base_interval="15m")
    with pytest.raises(ConfigError, match="whole multiple"):
        resample_bars(bars, "15m", base_interval="15m")
    with pytest.raises(ConfigError, match="invalid interval"):
        resample_bars(bars, "4x")
    with pytest.raises(ConfigError, match="missing columns"):
        resample_bars(bars.drop("volume"), "4h")
    with pytest.raises(ConfigError, match="incomplete must be"):
        mtf_indicator(bars, "4h", ("sma", 1), incomplete="keep")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fewer than 2 bars"):
        resample_bars(bars.head(1), "4h")
    shuffled = bars.reverse()
    with pytest.raises(DataValidationError, match="strictly increasing"):
        resample_bars(shuffled, "4h")


@pytest.fixture(scope="module")
def btc_15m(shared_data: Path) -> pl.DataFrame:
    return pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").slice(200_000, 3_000)


@pytest.mark.parametrize(
    ("interval", "indicator"),
    [("4h", ("ema", 10)), ("1h", ("atr", 14)), ("1d", ("bollinger_bands", 5)), ("4h", ("rsi", 6))],
)
def test_no_look_ahead_on_real_bars(
    btc_15m: pl.DataFrame, interval: str, indicator: tuple[object, ...], rng: np.random.Generator
) -> None:
    full = mtf_indicator(btc_15m, interval, indicator, base_interval="15m")
    full_parts = (full,) if isinstance(full, np.ndarray) else tuple(full)
    n = btc_15m.height
    for t in [*rng.integers(0, n - 1, 6).tolist(), 15, 16, n - 2]:
        # mutate every value after t (prices and volume) ...
        noise = pl.Series(rng.uniform(0.5, 2.0, n))
        after = pl.Series(np.arange(n) > t)
        mutated = btc_15m.with_columns(
            [
                pl.when(after).then(pl.col(c) * noise).otherwise(pl.col(c)).alias(c)
                for c in ("open", "high", "low", "close", "volume")
            ]
        )
        # ... or drop it altogether (the bar containing t is then incomplete)
        truncated = btc_15m.head(t + 1)
        for variant in (mutated, truncated):
            out = mtf_indicator(variant, interval, indicator, base_interval="15m")
            parts = (out,) if isinstance(out, np.ndarray) else tuple(out)
            for a, b in zip(full_parts, parts, strict=True):
                np.testing.assert_array_equal(a[: t + 1], b[: t + 1])


def test_visible_value_is_from_a_closed_bar(btc_15m: pl.DataFrame) -> None:
    # put each bar's own open time in `close`: the 4h "close" is then the open time of the last
    # 15m bar of the 4h bucket, so the visible value says exactly which bar it came from
    stamped = btc_15m.with_columns(pl.col("open_time").cast(pl.Float64).alias("close"))
    out = mtf_indicator(stamped, "4h", ("sma", 1), base_interval="15m")
    base_close = btc_15m["open_time"].to_numpy() + M15
    seen = ~np.isnan(out)
    assert seen.sum() > btc_15m.height - 32
    source_close = out[seen].astype(np.int64) + M15  # close time of the 4h bar's last 15m bar
    assert np.all(source_close % H4 == 0)  # a complete 4h bar ends on a 4h boundary
    assert np.all(source_close <= base_close[seen])  # ... that had closed by then
    assert np.all(source_close > base_close[seen] - H4)  # ... and it is the latest such bar


def test_resample_1m_reproduces_the_15m_file(shared_data: Path) -> None:
    one = pl.scan_parquet(shared_data / "BTCUSDT-1m.parquet").slice(300_000, 2_880).collect()
    ours = resample_bars(one, "15m", base_interval="1m")
    assert ours["complete"].all()
    start, end = one["open_time"][0], one["open_time"][-1]
    ref = (
        pl.scan_parquet(shared_data / "BTCUSDT-15m.parquet")
        .filter(pl.col("open_time").is_between(start, end))
        .collect()
    )
    assert ours.height == ref.height == 192
    assert (ours["open_time"].dt.epoch("ms") == ref["open_time"]).all()
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(ours[col].to_numpy(), ref[col].to_numpy())
    for col in ("volume", "quote_volume", "taker_buy_base", "taker_buy_quote"):
        # the file's sums are rounded to 8 decimals
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-15, atol=1e-8)
    np.testing.assert_array_equal(ours["trades"].to_numpy(), ref["trades"].to_numpy())
