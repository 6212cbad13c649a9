"""Time compute_metrics, rolling_sharpe and monthly_returns on a synthetic 1M-bar curve.

Run: .venv/bin/python bench/bench_metrics.py [n_bars]. Prints one JSON line, then a table.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from quantforge.engine.metrics import compute_metrics, monthly_returns, rolling_sharpe


def _best_of(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = np.random.default_rng(7)
    equity = 10_000.0 * np.cumprod(1.0 + rng.normal(2e-6, 1e-3, n))
    exposure = (rng.random(n) < 0.6).astype(np.float64)
    n_trades = n // 50
    pnl = rng.normal(1.0, 20.0, n_trades)
    rets = pnl / 10_000.0
    held = rng.integers(1, 100, n_trades)
    ts = 1_700_000_000_000 + 60_000 * np.arange(n, dtype=np.int64)
    r = np.diff(equity) / equity[:-1]
    timings = {
        "compute_metrics_s": _best_of(
            lambda: compute_metrics(
                equity,
                periods_per_year=525_600.0,
                trade_pnl=pnl,
                trade_returns=rets,
                trade_bars_held=held,
                exposure=exposure,
                bar_seconds=60.0,
            )
        ),
        "rolling_sharpe_w1440_s": _best_of(lambda: rolling_sharpe(r, 1440, 525_600.0)),
        "monthly_returns_s": _best_of(lambda: monthly_returns(ts, equity)),
    }
    print(json.dumps({"n_bars": n, "n_trades": n_trades, **timings}))
    print(f"{'function':<26}{'best of 5 (ms)':>16}")
    for name, sec in timings.items():
        print(f"{name:<26}{sec * 1e3:>16.1f}")


if __name__ == "__main__":
    main()
