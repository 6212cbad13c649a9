"""Hypothesis property tests of engine/metrics.py: invariants every equity curve must satisfy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantforge.engine.metrics import (
    METRIC_NAMES,
    compute_metrics,
    drawdown_series,
    monthly_returns,
    returns_from_equity,
    rolling_sharpe,
)

bar_return = st.one_of(
    st.just(0.0), st.floats(-0.9, 2.0, allow_nan=False, allow_infinity=False, width=64)
)
curves = st.builds(
    lambda start, rets: start * np.concatenate(([1.0], np.cumprod(1.0 + np.array(rets)))),
    st.floats(1.0, 1e6),
    st.lists(bar_return, min_size=0, max_size=200),
)
trade_pnls = st.lists(
    st.one_of(st.just(0.0), st.floats(-1e4, 1e4, allow_nan=False)), min_size=0, max_size=60
)
ppys = st.sampled_from([252.0, 365.0, 8_760.0, 35_040.0, 525_600.0])

# every metric that depends only on returns, so must not change when equity is rescaled
SCALE_FREE = tuple(k for k in METRIC_NAMES if k not in ("final_equity", "max_drawdown_abs"))
SCALE_FREE_TRADES = ("win_rate", "n_wins", "n_losses", "max_consecutive_wins", "profit_factor")


def _metrics(equity: np.ndarray, ppy: float, pnl: list[float] | None = None, rf: float = 0.0):
    p = np.array(pnl if pnl is not None else [], dtype=np.float64)
    return compute_metrics(
        equity,
        periods_per_year=ppy,
        trade_pnl=p,
        trade_returns=p / 1_000.0,
        trade_bars_held=np.ones(p.size, dtype=np.int64),
        exposure=np.ones(equity.size),
        bar_seconds=60.0,
        risk_free_rate=rf,
    )


notionals = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=60)


def _turnover(equity: np.ndarray, ppy: float, notional: list[float]) -> dict[str, float]:
    return compute_metrics(
        equity,
        periods_per_year=ppy,
        trade_pnl=np.zeros(0),
        trade_returns=np.zeros(0),
        trade_bars_held=np.zeros(0, dtype=np.int64),
        exposure=np.zeros(equity.size),
        bar_seconds=60.0,
        fill_notional=np.array(notional, dtype=np.float64),
    )


@settings(max_examples=150, deadline=None)
@given(equity=curves, ppy=ppys, notional=notionals, k=st.integers(-20, 20), c=st.floats(1e-3, 1e3))
def test_turnover_is_scale_free_and_zero_without_fills(
    equity: np.ndarray, ppy: float, notional: list[float], k: int, c: float
) -> None:
    base = _turnover(equity, ppy, notional)
    assert base["turnover"] >= 0.0
    n = equity.size - 1
    if n:
        assert base["turnover_annual"] == base["turnover"] * ppy / n
    else:
        assert math.isnan(base["turnover_annual"])
    # cash and quantities scaled together: a power of two is exact, any factor nearly so
    two = _turnover(equity * 2.0**k, ppy, [v * 2.0**k for v in notional])
    assert _same(base["turnover"], two["turnover"], rel=0.0)
    assert _same(base["turnover_annual"], two["turnover_annual"], rel=0.0)
    any_c = _turnover(equity * c, ppy, [v * c for v in notional])
    assert _same(base["turnover"], any_c["turnover"], rel=1e-12)
    # buying and selling the same amount counts the same
    assert _turnover(equity, ppy, [-v for v in notional])["turnover"] == base["turnover"]
    flat = _turnover(equity, ppy, [])
    assert flat["turnover"] == 0.0
    if n:
        assert flat["turnover_annual"] == 0.0


def _same(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == pytest.approx(b, rel=rel, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(equity=curves, ppy=ppys, k=st.integers(-20, 20))
def test_power_of_two_rescaling_changes_no_return_metric(
    equity: np.ndarray, ppy: float, k: int
) -> None:
    # multiplying by 2**k is exact in binary floating point: every return is bitwise the same
    base = _metrics(equity, ppy)
    scaled = _metrics(equity * 2.0**k, ppy)
    for key in SCALE_FREE:
        assert _same(base[key], scaled[key], rel=0.0), key
    assert scaled["max_drawdown_abs"] == base["max_drawdown_abs"] * 2.0**k


@settings(max_examples=150, deadline=None)
@given(equity=curves, ppy=ppys, c=st.floats(1e-3, 1e3))
def test_any_rescaling_leaves_return_metrics_unchanged(
    equity: np.ndarray, ppy: float, c: float
) -> None:
    r = returns_from_equity(equity)
    # keep away from the zero-dispersion threshold, where a rounding step may cross it
    assume(r.size < 2 or r.std(ddof=1) > 1e-6 * np.abs(r).max() + 1e-10 or np.ptp(r) == 0.0)
    base = _metrics(equity, ppy)
    scaled = _metrics(equity * c, ppy)
    for key in ("total_return", "annual_volatility", "sharpe", "max_drawdown", "ulcer_index"):
        assert _same(base[key], scaled[key], rel=1e-9), key
    # a currency difference of two large values: accurate to the equity level, not to itself
    assert scaled["max_drawdown_abs"] == pytest.approx(
        base["max_drawdown_abs"] * c, rel=1e-9, abs=1e-12 * c * float(equity.max())
    )


@settings(max_examples=200, deadline=None)
@given(equity=curves, ppy=ppys, pnl=trade_pnls, rf=st.sampled_from([0.0, 0.03]))
def test_ranges_and_consistency(
    equity: np.ndarray, ppy: float, pnl: list[float], rf: float
) -> None:
    m = _metrics(equity, ppy, pnl, rf)
    assert tuple(m) == METRIC_NAMES
    assert 0.0 <= m["max_drawdown"] <= 1.0
    assert 0.0 <= m["ulcer_index"] <= m["max_drawdown"] + 1e-15
    assert 0.0 <= m["max_drawdown_duration_bars"] <= equity.size - 1
    assert m["max_drawdown_abs"] >= 0.0
    assert m["total_return"] >= -1.0
    assert math.isnan(m["annual_return"]) or m["annual_return"] >= -1.0
    n = equity.size - 1
    # CAGR compounds back to the total return (where it is not rounded to -1 or overflowed)
    if n >= 1 and -0.999 < m["annual_return"] < 1e6:
        years = n / ppy
        assert (1 + m["annual_return"]) ** years == pytest.approx(1 + m["total_return"], rel=1e-6)
    if n >= 1:
        assert m["cvar"] <= m["value_at_risk"] + 1e-15
        r = returns_from_equity(equity)
        assert m["value_at_risk"] <= float(np.median(r)) + 1e-15
    psr = m["probabilistic_sharpe_ratio"]
    if not math.isnan(psr):
        assert 0.0 <= psr <= 1.0
        if m["sharpe"] > 0:
            assert psr >= 0.5
        if m["sharpe"] < 0:
            assert psr <= 0.5
    # trades
    t = len(pnl)
    assert m["n_trades"] == t
    assert m["n_wins"] + m["n_losses"] <= t
    assert m["max_consecutive_wins"] <= m["n_wins"]
    assert m["max_consecutive_losses"] <= m["n_losses"]
    assert (m["max_consecutive_wins"] >= 1) == (m["n_wins"] >= 1)
    if t:
        assert 0.0 <= m["win_rate"] <= 1.0
    else:
        assert math.isnan(m["win_rate"])
    assert math.isnan(m["profit_factor"]) or m["profit_factor"] >= 0.0
    if m["n_losses"] == 0 and m["n_wins"] > 0:
        assert m["profit_factor"] == math.inf
    # NaN only where documented: these are always defined
    for key in ("total_return", "max_drawdown", "ulcer_index", "exposure", "n_trades"):
        assert not math.isnan(m[key]), key


@settings(max_examples=200, deadline=None)
@given(equity=curves, ppy=ppys, rf=st.sampled_from([0.0, 0.05, -0.01]))
def test_sharpe_sign_is_the_sign_of_mean_excess_return(
    equity: np.ndarray, ppy: float, rf: float
) -> None:
    m = _metrics(equity, ppy, rf=rf)
    r = returns_from_equity(equity)
    if r.size < 2 or math.isnan(m["sharpe"]):
        return
    excess = float(np.mean(r - ((1 + rf) ** (1 / ppy) - 1)))
    assert np.sign(m["sharpe"]) == np.sign(excess)
    if not math.isnan(m["sortino"]):
        assert np.sign(m["sortino"]) == np.sign(excess)


@settings(max_examples=150, deadline=None)
@given(
    start=st.floats(1.0, 1e6),
    steps=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1.0)), min_size=0, max_size=200),
    ppy=ppys,
)
def test_monotonic_equity_has_no_drawdown(start: float, steps: list[float], ppy: float) -> None:
    equity = start * np.concatenate(([1.0], np.cumprod(1.0 + np.array(steps))))
    equity = np.maximum.accumulate(equity)  # rounding may not dip either
    m = _metrics(equity, ppy)
    assert m["max_drawdown"] == 0.0
    assert m["max_drawdown_abs"] == 0.0
    assert m["max_drawdown_duration_bars"] == 0.0
    assert m["ulcer_index"] == 0.0
    assert np.all(drawdown_series(equity) == 0.0)
    assert m["calmar"] == math.inf or math.isnan(m["calmar"])
    assert m["pnl_to_max_drawdown"] == math.inf or math.isnan(m["pnl_to_max_drawdown"])
    assert m["sortino"] == math.inf or math.isnan(m["sortino"])


@settings(max_examples=100, deadline=None)
@given(equity=curves)
def test_drawdown_series_bounds(equity: np.ndarray) -> None:
    dd = drawdown_series(equity)
    assert dd.shape == equity.shape
    assert np.all(dd <= 0.0)
    assert np.all(dd >= -1.0)
    at_peak = equity >= np.maximum.accumulate(equity)
    assert np.all(dd[at_peak] == 0.0)


@settings(max_examples=150, deadline=None)
@given(
    rets=st.lists(bar_return, min_size=2, max_size=150),
    window=st.integers(2, 40),
)
def test_rolling_sharpe_matches_direct_windows(rets: list[float], window: int) -> None:
    r = np.array(rets)
    got = rolling_sharpe(r, window, 365.0)
    assert got.shape == r.shape
    assert np.isnan(got[: window - 1]).all()
    for i in range(window - 1, r.size):
        win = r[i - window + 1 : i + 1]
        s = win.std(ddof=1)
        # nan exactly where the window has no dispersion (docs/metrics.md, zero rule)
        if np.ptp(win) == 0.0 or s <= 1e-12 * np.abs(win).max() + 1e-12:
            assert np.isnan(got[i]), (i, win)
            continue
        assert got[i] == pytest.approx(win.mean() / s * math.sqrt(365.0), rel=1e-9), (i, win)


@settings(max_examples=80, deadline=None)
@given(
    equity=curves,
    t0=st.integers(0, 2_000_000_000_000),
    gaps=st.lists(st.integers(0, 40 * 86_400_000), min_size=201, max_size=201),
)
def test_monthly_returns_compound_to_total_return(
    equity: np.ndarray, t0: int, gaps: list[int]
) -> None:
    ts = t0 + np.cumsum(np.array(gaps[: equity.size], dtype=np.int64))
    m = monthly_returns(ts, equity)
    months = m.table[~np.isnan(m.table)]
    total = equity[-1] / equity[0] - 1.0
    assert np.prod(1.0 + months) - 1.0 == pytest.approx(total, rel=1e-9, abs=1e-12)
    assert np.prod(1.0 + m.annual[~np.isnan(m.annual)]) - 1.0 == pytest.approx(
        total, rel=1e-9, abs=1e-12
    )
    assert m.table.shape == (m.years.size, 12)
