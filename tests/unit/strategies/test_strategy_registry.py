"""The name -> strategy registry and the uniform run/signals interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import quantforge as qf
from quantforge.errors import ConfigError, NotFoundError
from quantforge.experiment.config import load_experiment
from quantforge.indicators.cache import IndicatorCache
from quantforge.strategies import registry

NAMES = ["ma_cross", "regime_ma_cross", "ema_rsi_atr", "sma_cooldown", "opening_range_breakout"]


def test_names_and_lookup() -> None:
    assert registry.names() == NAMES
    assert registry.get("ma_cross").name == "ma_cross"
    with pytest.raises(NotFoundError, match=r"unknown strategy 'ma_crss'; did you mean 'ma_cross'"):
        registry.get("ma_crss")
    assert registry.parameter_names("ma_cross") == ("fast", "slow", "ma_type", "stop_pct")
    assert registry.parameter_names("nope") is None


def test_experiment_files_catch_misspelt_parameters(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: t\ndata: {exchange: binance, symbols: [BTCUSDT], interval: 15m,\n"
        "  start: 2024-01-01, end: 2024-02-01}\n"
        "strategy: {name: ma_cross, params: {fast: [5, 10], slwo: 30}}\n"
    )
    with pytest.raises(ConfigError, match="did you mean 'slow'"):
        load_experiment(path, strategy_parameters=registry.parameter_names)


def test_run_rejects_exit_rules_and_unknown_settings(make_bars) -> None:
    bars = make_bars(np.linspace(100, 120, 50))
    d = registry.get("ma_cross")
    with pytest.raises(ConfigError, match="exit_rules is set by strategy 'ma_cross'"):
        d.run(bars, exit_rules=qf.ExitRules(stop_loss=0.1))
    with pytest.raises(ConfigError, match="bad engine setting"):
        d.run(bars, cassh=1.0)
    with pytest.raises(ConfigError, match="run it on the event path"):
        registry.get("sma_cooldown").run(bars, path="signals")
    with pytest.raises(ConfigError, match="path="):
        d.run(bars, path="fast")  # type: ignore[arg-type]


def test_signals_from_a_cache_compute_each_indicator_once(make_bars, rng) -> None:
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 2_000)))
    bars = make_bars(close)
    d = registry.get("ma_cross")
    cache = IndicatorCache()
    arrays = registry.STRATEGIES["ma_cross"].signals  # bound method
    from quantforge.strategies.library._common import BarArrays

    a = BarArrays.of(bars)
    combos = [(f, s) for f in (5, 10, 20) for s in (30, 50)]
    for f, s in combos:
        plan = arrays(a, {"fast": f, "slow": s}, cache)
        direct = d.signals(bars, {"fast": f, "slow": s})
        assert np.array_equal(plan.entries, direct.entries)
        assert np.array_equal(plan.exits, direct.exits)
        r1 = plan.run(bars, qf.Backtest(cash=1_000.0))
        r2 = d.run(bars, {"fast": f, "slow": s}, cash=1_000.0)
        assert r1.trades.equals(r2.trades)
    assert cache.misses == 5  # sma 5, 10, 20, 30, 50
    assert cache.hits == 2 * len(combos) - 5
