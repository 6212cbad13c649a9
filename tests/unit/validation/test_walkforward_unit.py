"""Walk-forward windows by hand, stitching, and a full run on synthetic bars."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from quantforge.cli.demo import synthetic_bars
from quantforge.errors import ConfigError
from quantforge.experiment.config import parse_experiment
from quantforge.experiment.optimize import SegmentResult, simulate_segment
from quantforge.experiment.tasks import bar_arrays, bar_columns, frame_from_columns, simulate
from quantforge.experiment.walkforward import (
    WalkForwardSpec,
    run_walk_forward,
    stitch_equity,
    walk_forward_windows,
)

DAY = 86_400_000


def test_rolling_and_anchored_bars_by_hand() -> None:
    t = np.arange(12)
    rolling = WalkForwardSpec(unit="bars", in_sample=5, out_of_sample=2, step=3)
    got = [(w.is_start, w.is_end, w.oos_end) for w in walk_forward_windows(t, rolling)]
    assert got == [(0, 5, 7), (3, 8, 10)]
    anchored = WalkForwardSpec(mode="anchored", unit="bars", in_sample=5, out_of_sample=2)
    got = [(w.is_start, w.is_end, w.oos_end) for w in walk_forward_windows(t, anchored)]
    assert got == [(0, 5, 7), (0, 7, 9), (0, 9, 11)]


def test_day_windows_by_hand() -> None:
    t = np.arange(10 * 24, dtype=np.int64) * 3_600_000  # 10 days of hourly bars
    spec = WalkForwardSpec(unit="days", in_sample=4, out_of_sample=2)
    got = [(w.is_start, w.is_end, w.oos_end) for w in walk_forward_windows(t, spec)]
    assert got == [(0, 96, 144), (48, 144, 192), (96, 192, 240)]


def test_spec_rejects_overlapping_oos_and_too_short_data() -> None:
    with pytest.raises(ValueError, match="overlap"):
        WalkForwardSpec(unit="bars", in_sample=5, out_of_sample=3, step=2)
    with pytest.raises(ConfigError, match="no walk-forward window"):
        walk_forward_windows(
            np.arange(5), WalkForwardSpec(unit="bars", in_sample=4, out_of_sample=2)
        )


def test_stitch_equity_chains_segments() -> None:
    a = SegmentResult({}, np.array([1100.0, 1210.0]), np.array([0, 1]), np.zeros(0), 0)
    b = SegmentResult({}, np.array([900.0, 990.0]), np.array([2, 3]), np.zeros(0), 0)
    times, eq = stitch_equity([a, b], 1000.0)
    assert times.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(eq, [1100.0, 1210.0, 1089.0, 1197.9])


@pytest.fixture(scope="module")
def setup() -> tuple:
    bars = synthetic_bars(
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 1, tzinfo=dt.UTC), "15m"
    )
    config = parse_experiment(
        {
            "name": "wf",
            "data": {
                "symbols": ["BTCUSDT"],
                "interval": "15m",
                "start": "2024-01-01",
                "end": "2024-05-01",
            },
            "strategy": {
                "name": "ma_cross",
                "params": {"fast": [5, 10, 20], "slow": [50, 100]},
            },
            "ranking": {"metric": "sharpe"},
        }
    )
    return bars, config


def test_segment_without_warmup_equals_plain_run(setup: tuple) -> None:
    bars, config = setup
    columns = bar_columns(bars)
    bt = config.backtest("BTCUSDT")
    seg = simulate_segment("ma_cross", {"fast": 10, "slow": 50}, columns, bt, 100, 3000)
    part = {k: v[100:3000] for k, v in columns.items()}
    direct = simulate(
        "ma_cross", {"fast": 10, "slow": 50}, frame_from_columns(part), bar_arrays(part), bt
    )
    assert seg.metrics["total_return"] == pytest.approx(direct.metrics["total_return"], abs=0)
    assert seg.n_trades == direct.trades.height


def test_segment_warmup_takes_no_entry_before_start(setup: tuple) -> None:
    bars, config = setup
    columns = bar_columns(bars)
    bt = config.backtest("BTCUSDT")
    seg = simulate_segment(
        "ma_cross", {"fast": 10, "slow": 50}, columns, bt, 2000, 3000, warmup=500
    )
    assert seg.equity.size == 1000
    assert seg.time_ms[0] == columns["open_time"][2000]
    # trades exist and the equity before the first fill is the starting cash
    assert seg.n_trades > 0
    assert seg.equity[0] == pytest.approx(bt.cash)


def test_run_walk_forward_grid(setup: tuple) -> None:
    bars, config = setup
    spec = WalkForwardSpec(in_sample=40, out_of_sample=20, min_trades=15, warmup_bars=200)
    res = run_walk_forward(config, spec, bars=bars)
    assert len(res.windows) == 4  # 120 days: IS 40 + 4 x 20 OOS
    table = res.table()
    assert table.height == 4
    # each window's chosen params are the in-sample best of the grid (oracle: brute force)
    columns = bar_columns(bars)
    bt = config.backtest("BTCUSDT")
    for w in res.windows:
        scores = {
            (f, s): simulate_segment(
                "ma_cross", {"fast": f, "slow": s}, columns, bt, w.window.is_start, w.window.is_end
            ).metrics["sharpe"]
            for f in (5, 10, 20)
            for s in (50, 100)
        }
        best = max(scores, key=lambda k: scores[k])
        assert (w.params["fast"], w.params["slow"]) == best
        assert w.flagged == (int(w.oos_metrics["n_trades"]) < 15)
    # stitched OOS equity: its total return is the product of the windows' returns
    product = np.prod([1 + w.oos_return for w in res.windows]) - 1
    assert res.oos_metrics["total_return"] == pytest.approx(product, rel=1e-9)
    assert res.equity.size == sum(w.window.oos_end - w.window.oos_start for w in res.windows)
    assert 0.0 <= res.consistency <= 1.0
    assert res.consistency == np.mean([w.oos_return > 0 for w in res.windows])
    names = [s.name for s in res.stability]
    assert names == ["fast", "slow"]
