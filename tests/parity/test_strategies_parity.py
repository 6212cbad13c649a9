"""Parity: built-in strategies expressible as signals give identical ledgers on both engine paths.

Real data (BTCUSDT 15m, ``open_time`` cast to ``Datetime("ms", "UTC")``); ledgers are compared
as uncompressed Arrow IPC bytes, i.e. bit for bit.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

import quantforge as qf
from quantforge.indicators.cache import IndicatorCache
from quantforge.strategies import registry
from quantforge.strategies.library._common import BarArrays

ROWS = 60_000
SETTINGS = {
    "cash": 100_000.0,
    "fees": qf.Fees(maker=0.0002, taker=0.0004),
    "slippage": qf.slippage.FixedBps(2),
    "instrument": qf.Instrument(tick_size=0.01, lot_size=0.00001, min_notional=5.0),
}


def _ipc(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def assert_identical(a: qf.BacktestResult, b: qf.BacktestResult) -> None:
    for name in ("orders", "fills", "trades", "equity"):
        assert _ipc(getattr(a, name)) == _ipc(getattr(b, name)), name


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> pl.DataFrame:
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").head(ROWS)
    return bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "params",
    [
        {"fast": 10, "slow": 30, "ma_type": "sma", "stop_pct": 0.01},
        {"fast": 12, "slow": 50, "ma_type": "ema", "stop_pct": 0.005},
    ],
)
def test_ma_cross_signals_equal_events(btc: pl.DataFrame, params: dict) -> None:
    d = registry.get("ma_cross")
    fast = d.run(btc, params, path="signals", **SETTINGS)
    event = d.run(btc, params, path="events", **SETTINGS)
    assert fast.trades.height > 300
    assert {"signal", "stop"} <= set(fast.trades["exit_reason"].to_list())
    assert_identical(fast, event)


@pytest.mark.shared_data
def test_sma_cooldown_without_cooldown_or_limit_is_ma_cross(btc: pl.DataFrame) -> None:
    # sma_cooldown is event-only; with its extras off it must equal ma_cross's fast path
    cool = registry.get("sma_cooldown").run(
        btc, {"fast": 10, "slow": 30, "stop_pct": 0.01, "cooldown_bars": 0,
              "daily_loss_limit": 0.0}, **SETTINGS
    )  # fmt: skip
    base = registry.get("ma_cross").run(btc, {"fast": 10, "slow": 30}, path="signals", **SETTINGS)
    assert_identical(cool, base)
    # and the cooldown does change the ledger
    cooled = registry.get("sma_cooldown").run(btc, {"cooldown_bars": 20}, **SETTINGS)
    assert cooled.trades.height < base.trades.height


@pytest.mark.shared_data
def test_sweep_from_a_cache_equals_fresh_runs(btc: pl.DataFrame) -> None:
    d = registry.get("ma_cross")
    cache = IndicatorCache()
    arrays = BarArrays.of(btc)
    config = qf.Backtest(**SETTINGS)
    for fast, slow in [(5, 20), (10, 20), (5, 40)]:
        swept = d.signals(arrays, {"fast": fast, "slow": slow}, cache).run(btc, config)
        fresh = d.run(btc, {"fast": fast, "slow": slow}, path="events", **SETTINGS)
        assert_identical(swept, fresh)
    assert cache.misses == 4


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "params",
    [
        {},  # the documented defaults: EMA 10/30, EMA200 rising vs 10 bars, 2.5 ATR stop
        {"fast": 5, "slow": 20, "ma_type": "sma", "trend_period": 100, "atr_stop": 1.0,
         "rsi_min": 40.0, "rsi_max": 80.0},
    ],
)  # fmt: skip
def test_regime_ma_cross_signals_equal_events(btc: pl.DataFrame, params: dict) -> None:
    d = registry.get("regime_ma_cross")
    assert d.has_signals
    fast = d.run(btc, params, path="signals", **SETTINGS)
    event = d.run(btc, params, path="events", **SETTINGS)
    assert fast.trades.height > 20
    assert {"signal", "stop"} <= set(fast.trades["exit_reason"].to_list())
    assert_identical(fast, event)
    # the stop is attached at fill - atr_stop * ATR[signal bar], rounded to the tick
    cond = d.conditions(btc, params)
    atr_stop = d.resolve(params)["atr_stop"]
    orders = fast.orders
    times = btc["open_time"]
    for e in (
        orders.filter((pl.col("tag") == "entry") & (pl.col("status") == "filled"))
        .head(20)
        .iter_rows(named=True)
    ):
        signal = times.search_sorted(e["created_time"])
        stop = orders.row(e["order_id"] + 1, named=True)
        assert stop["type"] == "stop"
        want = round((e["fill_price"] - atr_stop * cond.atr[signal]) / 0.01) * 0.01
        assert stop["stop_price"] == pytest.approx(want, abs=1e-9)


@pytest.mark.shared_data
def test_regime_sweep_from_a_cache_equals_fresh_runs(btc: pl.DataFrame) -> None:
    d = registry.get("regime_ma_cross")
    cache = IndicatorCache()
    arrays = BarArrays.of(btc)
    config = qf.Backtest(**SETTINGS)
    for atr_stop in (1.5, 2.5):
        p = {"atr_stop": atr_stop}
        swept = d.signals(arrays, p, cache).run(btc, config)
        assert_identical(swept, d.run(btc, p, path="events", **SETTINGS))
