"""Golden tests: engine/metrics.py against quantstats 0.0.86 and empyrical-reloaded 0.7.1.

Both libraries get the very return series our metrics see (`returns_from_equity`), built from
real Binance bars (BTCUSDT 15m, ETHUSDT 1h: buy-and-hold and a deterministic SMA toy
strategy with fees) and from seeded synthetic returns. Where their convention matches ours
the figures must agree to 1e-9 relative; where it does not, the comment says how and the
test checks the documented relation (or a hand computation) instead. See docs/metrics.md,
"Where quantstats and empyrical differ".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import polars as pl
import pytest
import quantstats as qs
import scipy.stats

from quantforge.engine.metrics import (
    compute_metrics,
    monthly_returns,
    periods_per_year,
    returns_from_equity,
    rolling_sharpe,
)

REL = 1e-9
FEE = 0.001  # 10 bps per unit of position change in the toy strategy


@dataclass(frozen=True)
class Case:
    name: str
    timestamps_ms: np.ndarray
    equity: np.ndarray
    position: np.ndarray  # 0/1 per bar
    ppy: float
    rf: float


def _load_close(shared_data: Path, file: str, n_last: int | None) -> tuple[np.ndarray, np.ndarray]:
    df = pl.read_parquet(shared_data / file, columns=["open_time", "close"])
    if n_last is not None:
        df = df.tail(n_last)
    ts = df["open_time"].cast(pl.Int64).to_numpy()
    return ts, df["close"].to_numpy()


def _buy_and_hold(name: str, ts: np.ndarray, close: np.ndarray, ppy: float, rf: float) -> Case:
    equity = 10_000.0 * close / close[0]
    return Case(name, ts, equity, np.ones(close.size), ppy, rf)


def _sma_toy(name: str, ts: np.ndarray, close: np.ndarray, ppy: float, window: int) -> Case:
    # long while the close is above its `window`-bar SMA, decided at bar t, held over bar t+1;
    # FEE is paid on every entry and exit
    csum = np.concatenate(([0.0], np.cumsum(close)))
    sma = np.full(close.size, np.nan)
    sma[window - 1 :] = (csum[window:] - csum[:-window]) / window
    signal = np.where(np.isnan(sma), 0.0, (close > sma).astype(np.float64))
    position = np.concatenate(([0.0], signal[:-1]))
    bar_ret = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    turnover = np.abs(np.diff(position, prepend=0.0))
    factor = (1.0 + position * bar_ret) * (1.0 - FEE * turnover)
    equity = 10_000.0 * np.cumprod(factor)
    equity[0] = 10_000.0
    return Case(name, ts, equity, position, ppy, 0.0)


def _trades(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round trips of a 0/1 position: entry at the bar before the first bar held, exit after
    the exit fee (the bar after the last bar held). Plain loop, independent of the module."""
    e, pos = case.equity, case.position
    pnl, ret, held = [], [], []
    i, n = 0, pos.size
    while i < n:
        if pos[i] == 1.0:
            start = i
            while i < n and pos[i] == 1.0:
                i += 1
            end = min(i, n - 1)
            entry, exit_ = e[start - 1] if start > 0 else e[0], e[end]
            pnl.append(exit_ - entry)
            ret.append(exit_ / entry - 1.0)
            held.append(i - start)
        else:
            i += 1
    return np.array(pnl), np.array(ret), np.array(held, dtype=np.int64)


@pytest.fixture(scope="module")
def cases(shared_data: Path) -> list[Case]:
    btc_ts, btc = _load_close(shared_data, "BTCUSDT-15m.parquet", 70_080)  # last two years
    eth_ts, eth = _load_close(shared_data, "ETHUSDT-1h.parquet", None)
    p15, p1h = periods_per_year(900_000), periods_per_year(3_600_000)
    rng = np.random.default_rng(20261122)
    n = 2_520
    syn_ts = np.datetime64("2015-01-02", "ms").astype(np.int64) + 86_400_000 * np.arange(n)
    syn_ret = 0.0004 + 0.012 * rng.standard_t(5, n - 1)
    syn_eq = 1_000.0 * np.concatenate(([1.0], np.cumprod(1.0 + syn_ret)))
    syn_pos = np.concatenate(([0.0], (rng.random(n - 1) < 0.7).astype(np.float64)))
    return [
        _buy_and_hold("btc15m-hold", btc_ts, btc, p15, 0.0),
        _buy_and_hold("btc15m-hold-rf", btc_ts, btc, p15, 0.04),
        _sma_toy("btc15m-sma96", btc_ts, btc, p15, 96),
        _buy_and_hold("eth1h-hold", eth_ts, eth, p1h, 0.0),
        _sma_toy("eth1h-sma48", eth_ts, eth, p1h, 48),
        Case(
            "synthetic-daily", syn_ts, syn_eq, syn_pos, periods_per_year(86_400_000, "equity"), 0.03
        ),
    ]


def _ours(case: Case) -> dict[str, float]:
    pnl, ret, held = _trades(case)
    return compute_metrics(
        case.equity,
        periods_per_year=case.ppy,
        trade_pnl=pnl,
        trade_returns=ret,
        trade_bars_held=held,
        exposure=case.position,
        bar_seconds=365 * 86_400 / case.ppy,
        risk_free_rate=case.rf,
    )


def _series(case: Case) -> pd.Series:
    r = returns_from_equity(case.equity)
    return pd.Series(r, index=pd.to_datetime(case.timestamps_ms[1:], unit="ms"))


def _close(a: float, b: float, rel: float = REL) -> bool:
    return a == pytest.approx(b, rel=rel, abs=1e-15)


@pytest.mark.shared_data
def test_return_metrics_match_quantstats_and_empyrical(cases: list[Case]) -> None:
    for case in cases:
        m = _ours(case)
        s = _series(case)
        r = s.to_numpy()
        ppy, rf = case.ppy, case.rf
        rf_bar = (1 + rf) ** (1 / ppy) - 1  # empyrical takes a per-period rate
        checks = {
            "total_return": [qs.stats.comp(s), ep.cum_returns_final(r)],
            "annual_return": [
                qs.stats.cagr(s, periods=ppy),
                ep.annual_return(r, annualization=ppy),
            ],
            "annual_volatility": [
                qs.stats.volatility(s, periods=ppy),
                ep.annual_volatility(r, annualization=ppy),
            ],
            "sharpe": [
                qs.stats.sharpe(s, rf=rf, periods=ppy),
                ep.sharpe_ratio(r, risk_free=rf_bar, annualization=ppy),
            ],
            "sortino": [
                qs.stats.sortino(s, rf=rf, periods=ppy),
                ep.sortino_ratio(r, required_return=rf_bar, annualization=ppy),
            ],
            # both report drawdowns as negative numbers; ours is the positive fraction
            "max_drawdown": [-qs.stats.max_drawdown(s), -ep.max_drawdown(r)],
            "calmar": [qs.stats.calmar(s, periods=ppy), ep.calmar_ratio(r, annualization=ppy)],
            "skew": [qs.stats.skew(s), scipy.stats.skew(r, bias=False)],
            "kurtosis": [qs.stats.kurtosis(s), scipy.stats.kurtosis(r, bias=False)],
            "tail_ratio": [qs.stats.tail_ratio(s), ep.tail_ratio(r)],
            # quantstats' value_at_risk is parametric (normal); empyrical's is historical like ours
            "value_at_risk": [ep.value_at_risk(r)],
            "cvar": [
                qs.stats.conditional_value_at_risk(s, method="historical"),
                ep.conditional_value_at_risk(r),
            ],
            "probabilistic_sharpe_ratio": [
                qs.stats.probabilistic_sharpe_ratio(s, rf=rf, periods=ppy)
            ],
        }
        for key, theirs in checks.items():
            for value in theirs:
                assert _close(m[key], float(value)), (case.name, key, m[key], value)
        # sanity: the figures are not degenerate, so the comparisons above mean something
        assert 0.0 < m["max_drawdown"] < 1.0
        assert 0.0 < m["probabilistic_sharpe_ratio"] < 1.0
        assert m["kurtosis"] > 0.0, case.name  # real and t(5) returns are fat-tailed


@pytest.mark.shared_data
def test_ulcer_index_differs_from_quantstats_only_by_the_divisor(cases: list[Case]) -> None:
    # quantstats: sqrt(sum(D^2) / (n - 1)) over the n return bars; ours: sqrt(sum(D^2) / N)
    # over all N = n + 1 equity values (D_0 = 0 at the start), so ours = theirs * sqrt((n-1)/N)
    for case in cases:
        m = _ours(case)
        n = case.equity.size - 1
        theirs = qs.stats.ulcer_index(_series(case))
        assert _close(m["ulcer_index"], theirs * math.sqrt((n - 1) / (n + 1))), case.name


@pytest.mark.shared_data
def test_trade_metrics_match_quantstats_on_the_trade_series(cases: list[Case]) -> None:
    # quantstats computes win rate, profit factor, payoff and streaks on whatever series it is
    # given; fed the per-trade P&L (no zero-P&L trade here, where its win rate would exclude
    # scratches and ours would not) they are trade statistics with our definitions.
    for case in (c for c in cases if not np.all(c.position == 1.0)):  # not buy-and-hold
        pnl, ret, held = _trades(case)
        assert pnl.size > 20, case.name
        assert np.all(pnl != 0.0), case.name
        m = _ours(case)
        p = pd.Series(pnl)
        q = pd.Series(ret)
        checks = {
            "n_trades": float(pnl.size),
            "win_rate": qs.stats.win_rate(p, prepare_returns=False),
            "profit_factor": qs.stats.profit_factor(p, prepare_returns=False),
            "payoff_ratio": qs.stats.payoff_ratio(p, prepare_returns=False),
            "avg_win": qs.stats.avg_win(p, prepare_returns=False),
            "avg_loss": qs.stats.avg_loss(p, prepare_returns=False),
            "max_consecutive_wins": qs.stats.consecutive_wins(p, prepare_returns=False),
            "max_consecutive_losses": qs.stats.consecutive_losses(p, prepare_returns=False),
            "best_trade": qs.stats.best(q, prepare_returns=False),
            "worst_trade": qs.stats.worst(q, prepare_returns=False),
            "avg_holding_bars": float(held.mean()),
            "expectancy": float(pnl.mean()),
        }
        for key, value in checks.items():
            assert _close(m[key], float(value)), (case.name, key, m[key], value)
        # SQN is on trade returns (docs/metrics.md); no library reports it: hand formula
        sqn = math.sqrt(ret.size) * ret.mean() / ret.std(ddof=1)
        assert _close(m["sqn"], sqn), case.name
        # gross exposure of a 0/1 position is the fraction of bars held
        assert _close(m["exposure"], float(case.position.mean())), case.name


@pytest.mark.shared_data
def test_rolling_sharpe_matches_quantstats(cases: list[Case]) -> None:
    for case in cases:
        s = _series(case)
        window = 96
        theirs = qs.stats.rolling_sharpe(
            s, rolling_period=window, periods_per_year=case.ppy, prepare_returns=False
        ).to_numpy()
        ours = rolling_sharpe(s.to_numpy(), window, case.ppy)
        # pandas gives ±inf or a rounding-noise figure on windows of identical returns (flat,
        # out of the market); ours is nan there (zero dispersion): compare elsewhere
        rolling = s.rolling(window, min_periods=1)
        flat = (rolling.max() == rolling.min()).to_numpy()
        both = ~np.isnan(ours) & ~flat
        assert both.sum() > 0.5 * s.size, case.name
        np.testing.assert_allclose(ours[both], theirs[both], rtol=1e-8, atol=1e-9)
        assert np.isnan(ours[flat]).all()


@pytest.mark.shared_data
def test_monthly_returns_match_quantstats(cases: list[Case]) -> None:
    for case in cases:
        ours = monthly_returns(case.timestamps_ms, case.equity)
        theirs = qs.stats.monthly_returns(_series(case), eoy=True, compounded=True)
        assert list(theirs.index.astype(int)) == ours.years.tolist(), case.name
        table = theirs.iloc[:, :12].to_numpy(dtype=np.float64)
        has = ~np.isnan(ours.table)
        np.testing.assert_allclose(ours.table[has], table[has], rtol=REL, atol=1e-14)
        # quantstats writes 0 for a month without data, ours is nan (no bar, no return)
        assert np.all(table[~has] == 0.0), case.name
        np.testing.assert_allclose(ours.annual, theirs["EOY"].to_numpy(), rtol=REL, atol=1e-14)
        total = np.prod(1.0 + ours.table[has]) - 1.0
        assert _close(total, case.equity[-1] / case.equity[0] - 1.0, rel=1e-9), case.name


def test_documented_differences_on_degenerate_series() -> None:
    # docs/metrics.md, "Where quantstats and empyrical differ": pinned so a library upgrade
    # that changes them is noticed. Returns of exactly +1 % every bar: no dispersion, no loss.
    r = np.full(30, 0.01)
    s = pd.Series(r, index=pd.date_range("2024-01-01", periods=30, freq="D"))
    equity = 100.0 * np.concatenate(([1.0], np.cumprod(1.0 + r)))
    m = compute_metrics(
        equity,
        periods_per_year=365.0,
        trade_pnl=np.array([]),
        trade_returns=np.array([]),
        trade_bars_held=np.array([], dtype=np.int64),
        exposure=np.ones(equity.size),
        bar_seconds=86_400.0,
    )
    # Sharpe: ours nan (no risk, no risk-adjusted return); empyrical inf; quantstats divides
    # by the rounding residue of the standard deviation
    assert math.isnan(m["sharpe"])
    assert ep.sharpe_ratio(r, annualization=365) == math.inf
    assert qs.stats.sharpe(s, periods=365) > 1e12
    # Sortino: ours inf like empyrical; quantstats nan
    assert m["sortino"] == math.inf
    assert ep.sortino_ratio(r, annualization=365) == math.inf
    assert math.isnan(qs.stats.sortino(s, periods=365))
    # Calmar without drawdown: ours inf; the CAGR it divides is the libraries' CAGR
    assert m["calmar"] == math.inf
    assert _close(m["annual_return"], ep.annual_return(r, annualization=365))
