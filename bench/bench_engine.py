"""Engine benchmark: fast path, NumPy reference, cold start, event path, memory.

Run: ``.venv/bin/python bench/bench_engine.py [--bars 1000000] [--repeat 5] [--json out.json]``.
Prints a table and a JSON document (medians of ``--repeat`` runs). Needs
``../shared/data/BTCUSDT-1m.parquet`` (real Binance spot 1-minute bars).

Strategy everywhere: SMA(20) / SMA(100) crossover, long only, 2% stop-loss, taker fee 4 bps,
fixed quantity 1 BTC, 1,000,000 USDT cash (so the NumPy reference can size trades the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

import quantforge as qf
from quantforge.engine import _kernel as k
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.backtest import warmup
from quantforge.engine.state import SimState

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("QUANTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
FAST, SLOW, STOP, FEE = 20, 100, 0.02, 0.0004


def load(n: int) -> pl.DataFrame:
    bars = pl.read_parquet(DATA / "BTCUSDT-1m.parquet").head(n)
    return bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


def sma(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, x])
    out = np.full(x.shape[0], np.nan)
    out[w - 1 :] = (c[w:] - c[:-w]) / w
    return out


def signals(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    above = sma(close, FAST) > sma(close, SLOW)
    prev = np.r_[False, above[:-1]]
    return above & ~prev, ~above & prev


def config() -> qf.Backtest:
    return qf.Backtest(
        cash=1_000_000.0,
        fees=qf.Fees(taker=FEE),
        sizing=qf.sizing.FixedQty(1.0),
        exit_rules=qf.ExitRules(stop_loss=STOP),
    )


def kernel_once(cfg: qf.Backtest, market, le, lx) -> tuple[float, SimState]:  # type: ignore[no-untyped-def]
    n = market.n
    z = np.zeros(n, dtype=np.bool_)
    mode, value = cfg.sizing.lower()
    sl, tp, tk, tv, to = cfg.exit_rules.lower()
    sl_d, tp_d = cfg.exit_rules.distances(n)
    params = cfg.params()
    lim = np.full(n, np.nan)
    size = np.full(n, value)
    state = SimState(n, cfg.cash, capacity=1 << 16)
    t0 = time.perf_counter()
    start = 0
    while start < n:
        start = loops.simulate_signals_nb(
            start, n, market.open, market.high, market.low, market.close, market.volume, market.atr,
            market.flags, market.funding, le, lx, z, z, lim, mode, size, sl, tp, sl_d, tp_d, tk,
            tv, to, 1,
            state.orders, state.active, state.fills, state.trades, state.fs, state.ist, params,
            state.cash_out, state.pos_out,
        )  # fmt: skip
        if start < n:
            state.grow()
    return time.perf_counter() - t0, state


def numpy_reference(op, hi, lo, le, lx) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Same strategy, NumPy-vectorised per trade (searchsorted + argmax over each holding span)."""
    n = op.shape[0]
    ups = np.flatnonzero(le)
    downs = np.flatnonzero(lx)
    pnl = 0.0
    trades = 0
    t = 0  # first bar whose close may trigger an entry
    while True:
        u = np.searchsorted(ups, t)
        if u >= ups.shape[0] or ups[u] + 1 >= n:
            break
        e = ups[u] + 1
        entry = op[e]
        stop = entry * (1.0 - STOP)
        d = np.searchsorted(downs, e)
        x = downs[d] + 1 if d < downs.shape[0] and downs[d] + 1 < n else n
        span = lo[e:x] <= stop
        if span.any():
            j = e + int(np.argmax(span))
            price = stop if j == e else min(op[j], stop)
            exit_bar = j
        elif x < n:
            price = op[x]
            exit_bar = x
        else:
            break  # open at the end: not counted
        pnl += price - entry - (price + entry) * FEE
        trades += 1
        t = exit_bar
    return trades, pnl


class Quiet(qf.Strategy):
    def on_bar(self, ctx: qf.Context) -> None:
        return None


class Follower(qf.Strategy):
    def __init__(self, le: np.ndarray, lx: np.ndarray) -> None:
        self.le, self.lx = le, lx

    def on_bar(self, ctx: qf.Context) -> None:
        i = ctx.i
        pos = ctx.position
        if pos > 0 and self.lx[i]:
            ctx.close_position()
        elif pos == 0 and self.le[i] and not self.lx[i]:
            ctx.buy()


COLD = """
import time
t0 = time.perf_counter()
import numpy as np, polars as pl, quantforge as qf
n = 1000
c = 100 + np.sin(np.arange(n) / 10.0)
bars = pl.DataFrame({"open_time": np.arange(n) * 60000, "open": c, "high": c + 1, "low": c - 1,
                     "close": c, "volume": np.ones(n)})
e = np.zeros(n, bool); e[::50] = True
x = np.zeros(n, bool); x[25::50] = True
qf.backtest(bars, entries=e, exits=x, exit_rules=qf.ExitRules(stop_loss=0.02))
print(time.perf_counter() - t0)
"""

MEMORY = """
import sys, numpy as np, polars as pl
sys.path.insert(0, {bench!r})
import bench_engine as b
bars = b.load({n})
le, lx = b.signals(bars["close"].to_numpy())
import quantforge as qf
qf.engine.warmup()
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS mark
base = status("VmRSS:")
r = b.config().run_signals(bars, le, lx)
peak = status("VmHWM:")
print((peak - base) / 1024.0)
"""


def subprocess_seconds(code: str, env: dict[str, str] | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--event-bars", type=int, default=300_000)
    ap.add_argument("--skip-compile", action="store_true", help="skip the cold-compile probe")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    res: dict[str, float | int | str] = {}
    t0 = time.perf_counter()
    warmup()
    res["warmup_s_in_process"] = time.perf_counter() - t0
    bars = load(args.bars)
    n = bars.height
    res["bars"] = n
    close = bars["close"].to_numpy()
    le, lx = signals(close)
    cfg = config()
    market = cfg.market(bars)

    kernel_times = []
    state = None
    for _ in range(args.repeat):
        dt, state = kernel_once(cfg, market, le, lx)
        kernel_times.append(dt)
    assert state is not None
    res["fast_kernel_s"] = statistics.median(kernel_times)
    res["fast_kernel_bars_per_s"] = n / res["fast_kernel_s"]
    res["trades"] = int(state.ist[k.I_NTRADE])

    e2e = []
    result = None
    for _ in range(max(1, args.repeat // 2)):
        t0 = time.perf_counter()
        result = cfg.run_signals(bars, le, lx)
        e2e.append(time.perf_counter() - t0)
    assert result is not None
    res["fast_end_to_end_s"] = statistics.median(e2e)
    res["fast_end_to_end_bars_per_s"] = n / res["fast_end_to_end_s"]

    np_times = []
    ref = (0, 0.0)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ref = numpy_reference(market.open, market.high, market.low, le, lx)
        np_times.append(time.perf_counter() - t0)
    res["numpy_reference_s"] = statistics.median(np_times)
    res["speedup_vs_numpy"] = res["numpy_reference_s"] / res["fast_kernel_s"]
    closed = result.trades.filter(pl.col("exit_reason") != "end_of_data")
    res["numpy_reference_agrees"] = str(
        ref[0] == closed.height and abs(ref[1] - closed["pnl"].sum()) < 1e-6 * max(1.0, abs(ref[1]))
    )

    ev = bars.head(args.event_bars)
    ele, elx = le[: ev.height], lx[: ev.height]
    cfg.run_strategy(ev.head(1000), Quiet())  # first call loads the result-side code paths
    for name, strat in (("event_quiet", Quiet()), ("event_sma_stop", Follower(ele, elx))):
        times = []
        for _ in range(max(1, args.repeat // 2)):
            t0 = time.perf_counter()
            cfg.run_strategy(ev, strat)
            times.append(time.perf_counter() - t0)
        res[f"{name}_bars_per_s"] = ev.height / statistics.median(times)

    res["cold_start_warm_cache_s"] = statistics.median(subprocess_seconds(COLD) for _ in range(3))
    if not args.skip_compile:
        with tempfile.TemporaryDirectory() as tmp:
            res["first_compile_s"] = subprocess_seconds(COLD, {"NUMBA_CACHE_DIR": tmp})
    res["rss_above_baseline_mb"] = subprocess_seconds(
        MEMORY.format(bench=str(Path(__file__).parent), n=args.bars)
    )
    res["peak_rss_mb_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    targets = {
        "fast_kernel_bars_per_s": (">=", 25e6),
        "speedup_vs_numpy": (">=", 2.0),
        "cold_start_warm_cache_s": ("<=", 1.5),
        "first_compile_s": ("<=", 15.0),
        "event_quiet_bars_per_s": (">=", 5e5),
        "rss_above_baseline_mb": ("<", 250.0),
    }
    print(f"{'metric':34} {'value':>16}  target")
    for key, value in res.items():
        tgt = targets.get(key)
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        mark = ""
        if tgt is not None and isinstance(value, float):
            ok = value >= tgt[1] if tgt[0] == ">=" else value <= tgt[1]
            mark = f"{tgt[0]} {tgt[1]:,.1f} {'ok' if ok else 'MISSED'}"
        print(f"{key:34} {shown:>16}  {mark}")
    doc = json.dumps(res, indent=2, sort_keys=True)
    print(doc)
    if args.json is not None:
        args.json.write_text(doc)


if __name__ == "__main__":
    main()
