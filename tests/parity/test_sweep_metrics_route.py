"""Parity: the sweep's metrics-only route gives the full result's metrics bit for bit.

`Backtest.run_signals_metrics`, `SignalPlan.metrics` and `experiment.tasks.simulate_metrics`
skip the Polars frames and compute the metrics from the kernel's arrays; every key must equal
``run_signals(...).metrics`` exactly (same float bits, NaN where NaN, same infinities).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantforge as qf
from quantforge.engine import Backtest, ExitRules, Fees, Instrument, TrailingStop
from quantforge.engine import _kernel_metrics as km
from quantforge.engine import lean_metrics as lean_module
from quantforge.engine.costs import AtrFraction
from quantforge.engine.lean_metrics import lean_metrics
from quantforge.engine.metrics import compute_metrics
from quantforge.errors import DataValidationError
from quantforge.experiment.tasks import (
    bar_arrays,
    bar_columns,
    frame_from_columns,
    simulate,
    simulate_metrics,
)
from quantforge.indicators.cache import IndicatorCache
from quantforge.strategies import registry

ROWS = 20_000


def assert_same_metrics(full: Mapping[str, float], lean: Mapping[str, float]) -> None:
    assert list(full) == list(lean)
    for name, a in full.items():
        b = lean[name]
        assert type(a) is type(b), name
        if isinstance(a, float) and math.isnan(a):
            assert math.isnan(b), (name, a, b)
        else:
            # equal values with equal bits (== alone would let 0.0 and -0.0 pass)
            assert a == b, (name, a, b)
            if isinstance(a, float):
                assert math.copysign(1.0, a) == math.copysign(1.0, b), name


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> pl.DataFrame:
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").tail(ROWS)
    return bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


BACKTEST = Backtest(fees=Fees(maker=0.001, taker=0.001), slippage=qf.slippage.FixedBps(1.0))

CASES: list[tuple[str, dict[str, Any]]] = [
    ("ma_cross", {"fast": 10, "slow": 30, "ma_type": "sma", "stop_pct": 0.01}),
    ("ma_cross", {"fast": 12, "slow": 50, "ma_type": "ema", "stop_pct": 0.005}),
    ("ma_cross", {"fast": 5, "slow": 120}),
    ("regime_ma_cross", {}),
    ("regime_ma_cross", {"fast": 5, "slow": 60, "atr_ratio": 0.5}),
    ("regime_ma_cross", {"fast": 20, "slow": 100, "ma_type": "sma", "rsi_min": 40.0}),
    ("regime_ma_cross", {"fast": 45, "slow": 140, "atr_ratio": 0.95, "atr_stop": 1.0}),
]


@pytest.mark.shared_data
def test_simulate_metrics_equals_full_result_on_btc(btc: pl.DataFrame) -> None:
    columns = bar_columns(btc)
    frame, arrays = frame_from_columns(columns), bar_arrays(columns)
    cache = IndicatorCache()
    markets: dict[int | None, Any] = {}  # shared across cases, as in a worker
    for strategy, params in CASES:
        full = simulate(strategy, params, frame, arrays, BACKTEST, cache)
        assert full.trades.height > 5, (strategy, params)
        lean = simulate_metrics(strategy, params, frame, arrays, BACKTEST, cache, markets)
        assert_same_metrics(full.metrics, lean)
        # without the memo of engine arrays, too
        assert_same_metrics(
            full.metrics, simulate_metrics(strategy, params, frame, arrays, BACKTEST, cache)
        )
    assert list(markets) == [None]


@pytest.mark.shared_data
def test_signal_plan_metrics_equals_run(btc: pl.DataFrame) -> None:
    definition = registry.get("regime_ma_cross")
    plan = definition.signals(btc, {"fast": 8, "slow": 70})
    assert_same_metrics(plan.run(btc, BACKTEST).metrics, plan.metrics(btc, BACKTEST))


@pytest.mark.shared_data
def test_market_memo_is_keyed_by_atr_period(btc: pl.DataFrame) -> None:
    """ATR slippage needs ATR arrays; the memo keeps one engine market per ATR period."""
    atr_slip = Backtest(fees=Fees(taker=0.0004), slippage=AtrFraction(0.1, period=10))
    columns = bar_columns(btc)
    frame, arrays = frame_from_columns(columns), bar_arrays(columns)
    markets: dict[int | None, Any] = {}
    for config in (BACKTEST, atr_slip, BACKTEST, atr_slip):
        lean = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, config, None, markets)
        full = simulate("ma_cross", {"fast": 7}, frame, arrays, config)
        assert_same_metrics(full.metrics, lean)
    assert sorted(markets, key=str) == [10, None]
    fixed = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, BACKTEST, None, markets)
    atr = simulate_metrics("ma_cross", {"fast": 7}, frame, arrays, atr_slip, None, markets)
    assert fixed["total_return"] != atr["total_return"]


@pytest.mark.shared_data
def test_run_signals_metrics_shorts_trailing_atr_open_at_end(btc: pl.DataFrame) -> None:
    n = btc.height
    rng = np.random.default_rng(7)
    entries = rng.random(n) < 0.01
    exits = rng.random(n) < 0.01
    short_entries = rng.random(n) < 0.01
    short_exits = rng.random(n) < 0.01
    entries[-3] = True  # a position still open on the last bar is booked as end_of_data
    config = Backtest(
        fees=Fees(maker=0.0002, taker=0.0004),
        slippage=qf.slippage.FixedBps(2),
        exit_rules=ExitRules(trailing=TrailingStop(atr_multiple=2.0, atr_period=21)),
        instrument=Instrument(market="linear_perp", tick_size=0.01, lot_size=0.00001),
    )
    full = config.run_signals(btc, entries, exits, short_entries, short_exits)
    assert full.trades["exit_reason"].to_list()[-1] == "end_of_data"
    assert {"long", "short"} <= set(full.trades["side"].to_list())
    lean = config.run_signals_metrics(btc, entries, exits, short_entries, short_exits)
    assert_same_metrics(full.metrics, lean)
    market = config.market(btc)
    assert_same_metrics(
        full.metrics,
        config.run_signals_metrics(market, entries, exits, short_entries, short_exits),
    )


def test_no_trades_gives_identical_nan_metrics() -> None:
    n = 50
    close = np.linspace(100.0, 120.0, n)
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 60_000,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": np.ones(n),
        }
    )
    none = np.zeros(n, dtype=np.bool_)
    full = Backtest().run_signals(bars, none, none)
    lean = Backtest().run_signals_metrics(bars, none, none)
    assert_same_metrics(full.metrics, lean)
    assert any(isinstance(v, float) and math.isnan(v) for v in lean.values())


@st.composite
def series_and_signals(draw: st.DrawFn) -> tuple[pl.DataFrame, list[np.ndarray]]:
    n = draw(st.integers(min_value=2, max_value=300))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, draw(st.sampled_from([0.001, 0.02, 0.1])), n)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + rng.random(n) * 0.01)
    low = np.minimum(open_, close) * (1.0 - rng.random(n) * 0.01)
    step = draw(st.sampled_from([60_000, 900_000, 86_400_000]))
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * step,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.random(n) * 10.0 + 0.1,
        }
    )
    rate = draw(st.sampled_from([0.0, 0.05, 0.3]))
    signals = [rng.random(n) < rate for _ in range(4)]
    return bars, signals


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=series_and_signals(),
    stop=st.sampled_from([None, 0.01, 0.05]),
    calendar=st.sampled_from(["crypto", "equity"]),
    rfr=st.sampled_from([0.0, 0.03]),
)
def test_hypothesis_series(
    data: tuple[pl.DataFrame, list[np.ndarray]], stop: float | None, calendar: str, rfr: float
) -> None:
    bars, (le, lx, se, sx) = data
    config = Backtest(
        cash=10_000.0,
        fees=Fees(maker=0.0002, taker=0.0004),
        exit_rules=ExitRules(stop_loss=stop),
        calendar=calendar,
        risk_free_rate=rfr,
    )
    full = config.run_signals(bars, le, lx, se, sx)
    assert_same_metrics(full.metrics, config.run_signals_metrics(bars, le, lx, se, sx))


@pytest.mark.shared_data
def test_regime_conditions_memo_equals_fresh_computation(btc: pl.DataFrame) -> None:
    """Condition parts remembered per indicator cache equal a computation without any cache."""
    definition = registry.get("regime_ma_cross")
    arrays = bar_arrays(bar_columns(btc))
    cache = IndicatorCache()
    grid = [
        {"fast": f, "slow": s, "atr_ratio": r, "rsi_min": m}
        for f in (5, 20)
        for s in (60, 100)
        for r in (0.5, 0.8)
        for m in (40.0, 50.0)
    ]
    fields = ("trend_up", "active", "rsi_ok", "cross_up", "cross_down", "atr")
    for _ in range(2):  # the second pass is served from the memo
        for params in grid:
            memo = definition.conditions(arrays, params, cache)
            fresh = definition.conditions(arrays, params, None)
            for name in fields:
                assert np.array_equal(getattr(memo, name), getattr(fresh, name), equal_nan=True)
            memo.cross_down[:] = True  # what comes out is a copy: the memo stays intact
    again = definition.conditions(arrays, grid[0], cache)
    assert np.array_equal(again.cross_down, definition.conditions(arrays, grid[0]).cross_down)


# --- the compiled curve statistics (engine.lean_metrics) against compute_metrics -------------


def _numpy_reference(e: np.ndarray, g: np.ndarray, qty: np.ndarray, price: np.ndarray,
                     pnl: np.ndarray, ppy: float, rf: float) -> dict[str, float]:  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(e > 0.0, np.abs(g) / e, 0.0)
    return compute_metrics(
        e,
        periods_per_year=ppy,
        trade_pnl=pnl,
        trade_returns=pnl / 1_000.0,
        trade_bars_held=np.arange(pnl.size, dtype=np.int64) % 7 + 1,
        exposure=exposure,
        bar_seconds=900.0,
        risk_free_rate=rf,
        fill_notional=np.abs(qty * price),
    )


def _lean(e: np.ndarray, g: np.ndarray, qty: np.ndarray, price: np.ndarray, pnl: np.ndarray,
          ppy: float, rf: float) -> dict[str, float]:  # fmt: skip
    return lean_metrics(
        e,
        g,
        periods_per_year=ppy,
        trade_pnl=pnl,
        trade_returns=pnl / 1_000.0,
        trade_bars_held=np.arange(pnl.size, dtype=np.int64) % 7 + 1,
        fill_qty=qty,
        fill_price=price,
        bar_seconds=900.0,
        risk_free_rate=rf,
    )


@st.composite
def curves(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.sampled_from([2, 3, 4, 5, 9, 17, 129, 300, 1_000, 5_000, 20_000]))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "fat", "flat_spells", "ties", "constant"]))
    if kind == "normal":
        rets = rng.normal(0.0, draw(st.sampled_from([1e-4, 0.003, 0.05])), n - 1)
    elif kind == "fat":
        rets = rng.standard_t(2, n - 1) * 0.01
    elif kind == "flat_spells":  # flat while out of the market, as a strategy's curve is
        rets = rng.normal(0.0, 0.004, n - 1) * (rng.random(n - 1) < 0.3)
    elif kind == "ties":
        rets = rng.choice([-0.01, 0.0, 0.01, 0.02], n - 1)
    else:
        rets = np.zeros(n - 1)
    rets = np.maximum(rets, -0.5)
    e = draw(st.sampled_from([1.0, 10_000.0, 1e7])) * np.concatenate(([1.0], np.cumprod(1 + rets)))
    g = e * rng.uniform(-1.5, 1.5, n) * (rng.random(n) < 0.6)
    n_fills = int(rng.integers(0, 400))
    qty = rng.uniform(-5.0, 5.0, n_fills)
    price = rng.uniform(10.0, 1e5, n_fills)
    n_trades = int(rng.integers(0, 200))
    pnl = rng.normal(0.0, 50.0, n_trades) * (rng.random(n_trades) < 0.8)  # scratch trades too
    return e, g, qty, price, pnl


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=curves(),
    ppy=st.sampled_from([252.0, 8_760.0, 35_040.0]),
    rf=st.sampled_from([0.0, 0.04]),
)
def test_lean_metrics_equal_compute_metrics_on_hypothesis_curves(
    data: tuple[np.ndarray, ...], ppy: float, rf: float
) -> None:
    e, g, qty, price, pnl = data
    stats = np.zeros(km.N_STATS)
    n = e.size - 1
    index = [*lean_module._quantile_index(n, 0.05), *lean_module._quantile_index(n, 0.95)]
    km.curve_stats_nb(e, g, qty, price, 0.0, np.array(index), stats)
    assert stats[km.S_OK] == 1.0  # the compiled pass ran, no NumPy fallback
    assert_same_metrics(_numpy_reference(e, g, qty, price, pnl, ppy, rf),
                        _lean(e, g, qty, price, pnl, ppy, rf))  # fmt: skip


def test_lean_metrics_fall_back_on_ruin_and_single_values() -> None:
    rng = np.random.default_rng(3)
    qty, price, pnl = rng.uniform(1, 2, 5), rng.uniform(1, 2, 5), rng.normal(size=4)
    ruined = np.array([100.0, 50.0, -3.0, 20.0, 10.0])
    single = np.array([100.0])
    for e in (ruined, single):
        g = np.ones_like(e)
        assert_same_metrics(_numpy_reference(e, g, qty, price, pnl, 252.0, 0.0),
                            _lean(e, g, qty, price, pnl, 252.0, 0.0))  # fmt: skip
    with pytest.raises(DataValidationError, match="equity"):
        _lean(np.array([100.0, np.nan]), np.zeros(2), qty, price, pnl, 252.0, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=3_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    lo=st.integers(min_value=0, max_value=50),
)
def test_pairwise_sum_is_numpys_sum(n: int, seed: int, lo: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_t(3, n + lo) * 10.0 ** rng.integers(-6, 6, n + lo)
    got = km.pairwise_sum_nb(a, lo, n)
    want = np.sum(a[lo:])
    assert got == want
    assert math.copysign(1.0, got) == math.copysign(1.0, want)


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(
        st.sampled_from([-0.0, 0.0, -0.0, 1e-300, -1e300, 1e300, 0.1, -0.3, 2.5e-8]),
        max_size=400,
    ),
    lo=st.integers(min_value=0, max_value=9),
)
def test_pairwise_sum_signed_zeros_and_cancellation(a: list[float], lo: int) -> None:
    # sums of negative zeros (NumPy gives +0.0: it starts from the identity 0.0), huge values
    # cancelling inside and across the 128-value leaf blocks, every length around 8 and 128
    x = np.asarray(a, dtype=np.float64)
    start = min(lo, x.shape[0])
    got = km.pairwise_sum_nb(x, start, x.shape[0] - start)
    want = np.sum(x[start:])
    if math.isnan(want):  # +1e300 overflowing to inf and -inf meeting: same order, same NaN
        assert math.isnan(got)
        return
    assert got == want
    assert math.copysign(1.0, got) == math.copysign(1.0, want)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=5_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    kind=st.sampled_from(["continuous", "ties", "mostly_zero"]),
)
def test_order_statistics_are_exact(n: int, seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    r = rng.standard_t(2, n)
    if kind == "ties":
        r = rng.integers(-3, 4, n).astype(np.float64)
    elif kind == "mostly_zero":  # a curve out of the market most of the time
        r = r * (rng.random(n) < rng.choice([0.01, 0.1, 0.5]))
    ranks = sorted(int(k) for k in rng.integers(0, n, 4))
    k1, k2 = ranks[0], min(ranks[0] + 1, n - 1)
    k3, k4 = ranks[2], min(ranks[2] + 1, n - 1)
    before = r.copy()
    got = km._order_stats_nb(r, k1, k2, k3, k4, np.empty(n), np.empty(n))
    s = np.sort(r)
    assert got == (s[k1], s[k2], s[k3], s[k4])
    assert np.array_equal(r, before)


@pytest.mark.shared_data
def test_sweep_route_uses_the_compiled_pass_on_btc(
    btc: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fallback(*args: object) -> None:
        raise AssertionError("lean_metrics fell back to NumPy on a valid curve")

    monkeypatch.setattr(lean_module, "_numpy_route", no_fallback)
    columns = bar_columns(btc)
    frame, arrays = frame_from_columns(columns), bar_arrays(columns)
    for strategy, params in CASES[:4]:
        lean = simulate_metrics(strategy, params, frame, arrays, BACKTEST, IndicatorCache(), {})
        assert lean["turnover"] > 0.0


@pytest.mark.parametrize("pnl", [[-0.0, 0.0], [0.0, -0.0], [-0.0, -0.0, 1.0], [0.0, -1.0, -0.0]])
def test_best_and_worst_trade_keep_numpys_signed_zero(pnl: list[float]) -> None:
    # hypothesis found a flat trade (return -0.0) next to a 0.0 one: a compiled max picked the
    # other zero than NumPy's
    e = np.array([1_000.0, 1_001.0, 1_000.5, 1_002.0, 1_003.0])
    g = np.array([0.0, 500.0, 500.0, 0.0, 0.0])
    qty, price = np.array([1.0, 1.0]), np.array([100.0, 101.0])
    pnl_arr = np.array(pnl)
    assert_same_metrics(
        _numpy_reference(e, g, qty, price, pnl_arr, 35_040.0, 0.0),
        _lean(e, g, qty, price, pnl_arr, 35_040.0, 0.0),
    )
