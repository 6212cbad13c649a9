"""Cross-library benchmark: quantforge vs vectorbt and backtesting.py, with the fills checked.

Run from the repository root with a Python that also has the optional libraries (they are not
project dependencies; see docs/benchmarks.md for the separate venv):
``python bench/bench_crosslib.py [--bars 1000000] [--bt-bars 100000] [--repeat 5]
[--bt-repeat 3] [--json out.json]``. Needs ``../shared/data/BTCUSDT-1m.parquet``.

The strategy is bench_engine.py's (its loader, signals and configuration are imported): SMA(20) /
SMA(100) crossover on real Binance BTCUSDT 1-minute bars, long only, fixed quantity 1, taker fee
4 bps on both fills, no slippage, a signal on bar t filling at bar t+1's open; once without a stop
and once with a stop-loss under the entry fill (2 %, ``--stop``). Each library that imports is
run on the same arrays; a library that does not import is skipped with the reason printed.

* vectorbt ``Portfolio.from_signals`` gets the signals shifted by one bar with ``price=open``
  (its orders fill at ``price`` on the bar of the signal), ``size=1`` (amount),
  ``stop_entry_price=FillPrice`` and its default ``StopLimit`` exit (at the stop, at the open
  when the open is past it: our convention).
* backtesting.py (slow, ~0.1 M bars/s) runs on the first ``--bt-bars`` bars with
  ``exclusive_orders=True``, ``commission=fee``, ``size=1`` and an absolute ``sl`` set from
  the next open (its market order's fill price; it only takes absolute stop levels).

Agreement (closed trades; a position open after the last bar is left out, each library values
it differently): trade count, entry/exit bar indices, entry/exit prices (relative 1e-12) and PnL
(absolute 1e-6). Without a stop both libraries must agree exactly. With the stop, backtesting.py
must agree exactly; vectorbt cannot, for two documented reasons, and every differing trade must
be explained by one of them (else the script exits 1):

* ``entry_bar_stop``: the stop was reached on the entry bar. We (and backtesting.py) arm the
  stop of an entry filled at the open for the rest of that bar; vectorbt's from_signals places
  one order per bar and checks stops from the bar after the entry.
* ``stop_before_pending_exit``: an exit signal's market order fills at the open of bar x and
  bar x's low also reaches the stop (open above it). We fill the exit at the open, the stop is
  then canceled; vectorbt checks the stop first and exits at the stop level, ignoring the signal.

Speed: median wall time of 2 x ``--repeat`` warm runs (compiled code warmed up first; each engine
runs in blocks of ``--repeat``, the blocks alternating over two rounds, see `blocks`), as bars/s,
and the ratio ours/theirs in bars/s measured in the same process. "ours" is the end-to-end call
(``Backtest.run_signals``: validation, kernel, trades/orders/fills/equity frames, metrics); the
bare kernel is also shown. vectorbt's figures are ``from_signals`` (simulation and order records)
and ``from_signals`` plus its trade records and equity curve (``pf.trades.values``,
``pf.value()``); backtesting.py's is ``Backtest(...).run()`` (simulation and its statistics).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import quantforge as qf

# the sibling script: its loader, signals, configuration and kernel timing are reused, not copied
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests.backtesting_py_harness
import bench_engine as be

PRICE_RTOL = 1e-12
PNL_ATOL = 1e-6


@dataclasses.dataclass
class Trades:
    """Closed trades as arrays (bar indices into the input, prices, PnL)."""

    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    pnl: np.ndarray

    @property
    def n(self) -> int:
        return int(self.entry_bar.shape[0])

    def head(self, m: int) -> Trades:
        return Trades(*(getattr(self, f.name)[:m] for f in dataclasses.fields(self)))


def blocks(
    jobs: dict[str, Callable[[], Any]], repeat: int, rounds: int = 2
) -> tuple[dict[str, float], dict[str, Any]]:
    """Time each job ``repeat`` times per round, in blocks, the blocks alternating over rounds.

    Each block starts with an untimed call. Blocks rather than call-by-call turns: one call of
    another library between two of ours left the allocator cold (twice the page faults) and made
    our end-to-end call about 2x slower, which measures the neighbour, not us. The rounds spread
    a shared machine's load swings over every engine. Returns the median seconds of each job
    and its last output.
    """
    times: dict[str, list[float]] = {name: [] for name in jobs}
    out: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in jobs.items():
            fn()
            for _ in range(repeat):
                t0 = time.perf_counter()
                out[name] = fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}, out


def ours_trades(result: qf.BacktestResult, bars: pl.DataFrame) -> tuple[Trades, np.ndarray]:
    t = result.trades.filter(pl.col("exit_reason") != "end_of_data")
    ts = bars["open_time"].cast(pl.Int64).to_numpy()

    def bar(col: str) -> np.ndarray:
        return np.searchsorted(ts, t[col].cast(pl.Int64).to_numpy())

    trades = Trades(
        bar("entry_time"),
        bar("exit_time"),
        t["entry_price"].to_numpy(),
        t["exit_price"].to_numpy(),
        t["pnl"].to_numpy(),
    )
    return trades, t["exit_reason"].to_numpy()


def compare(ours: Trades, theirs: Trades) -> list[int]:
    """Return the positions (in our trade list) of trades that differ.

    When the counts differ, every position from the first difference on.
    """
    if ours.n != theirs.n:
        m = min(ours.n, theirs.n)
        head = compare(ours.head(m), theirs.head(m))
        return list(range(head[0] if head else m, max(ours.n, theirs.n)))
    bad = (
        (ours.entry_bar != theirs.entry_bar)
        | (ours.exit_bar != theirs.exit_bar)
        | ~np.isclose(ours.entry_price, theirs.entry_price, rtol=PRICE_RTOL, atol=0.0)
        | ~np.isclose(ours.exit_price, theirs.exit_price, rtol=PRICE_RTOL, atol=0.0)
        | ~np.isclose(ours.pnl, theirs.pnl, rtol=0.0, atol=PNL_ATOL)
    )
    return np.flatnonzero(bad).tolist()


def describe(ours: Trades, theirs: Trades, pos: list[int], limit: int = 5) -> list[str]:
    out = []
    for i in pos[:limit]:
        a = (
            f"ours #{i}: bars {ours.entry_bar[i]}->{ours.exit_bar[i]} "
            f"{ours.entry_price[i]:.2f}->{ours.exit_price[i]:.2f} pnl {ours.pnl[i]:.6f}"
            if i < ours.n
            else f"ours #{i}: none"
        )
        b = (
            f"theirs: bars {theirs.entry_bar[i]}->{theirs.exit_bar[i]} "
            f"{theirs.entry_price[i]:.2f}->{theirs.exit_price[i]:.2f} pnl {theirs.pnl[i]:.6f}"
            if i < theirs.n
            else "theirs: none"
        )
        out.append(f"{a} | {b}")
    return out


def classify_vbt_stop(
    ours: Trades,
    reasons: np.ndarray,
    theirs: Trades,
    op: np.ndarray,
    lo: np.ndarray,
    stop_loss: float,
) -> dict[str, int]:
    """Sort the trades where vectorbt differs from us (stop variant) by documented cause."""
    counts = {"entry_bar_stop": 0, "stop_before_pending_exit": 0, "unexplained": 0}
    by_entry = {int(e): k for k, e in enumerate(theirs.entry_bar)}
    if set(by_entry) != {int(e) for e in ours.entry_bar}:
        # entries come from the same signals and both are flat before each one: they must match
        counts["unexplained"] += 1
    for i in range(ours.n):
        k = by_entry.get(int(ours.entry_bar[i]))
        if k is None:
            continue
        same = (
            ours.exit_bar[i] == theirs.exit_bar[k]
            and np.isclose(ours.exit_price[i], theirs.exit_price[k], rtol=PRICE_RTOL, atol=0.0)
            and abs(ours.pnl[i] - theirs.pnl[k]) <= PNL_ATOL
        )
        if same:
            continue
        x, stop = int(ours.exit_bar[i]), ours.entry_price[i] * (1.0 - stop_loss)
        if reasons[i] == "stop" and x == ours.entry_bar[i]:
            counts["entry_bar_stop"] += 1
        elif (
            reasons[i] == "signal"
            and theirs.exit_bar[k] == x
            and op[x] > stop >= lo[x]
            and theirs.exit_price[k] == stop
        ):
            counts["stop_before_pending_exit"] += 1
        else:
            counts["unexplained"] += 1
    return counts


def run_vectorbt(vbt: Any, market: Any, le: np.ndarray, lx: np.ndarray, stop: float | None):  # type: ignore[no-untyped-def]
    from vectorbt.portfolio.enums import StopEntryPrice

    # vectorbt fills on the bar of the signal at `price`: shift by one bar, price = open
    entries = np.r_[False, le[:-1]]
    exits = np.r_[False, lx[:-1]]
    kwargs: dict[str, Any] = {
        "close": market.close,
        "entries": entries,
        "exits": exits,
        "price": market.open,
        "open": market.open,
        "high": market.high,
        "low": market.low,
        "size": 1.0,
        "size_type": "amount",
        "direction": "longonly",
        "fees": be.FEE,
        "init_cash": 1_000_000.0,
        "freq": "1min",
    }
    if stop is not None:
        kwargs |= {"sl_stop": stop, "stop_entry_price": StopEntryPrice.FillPrice}
    return lambda: vbt.Portfolio.from_signals(**kwargs)


def vbt_trades(pf: Any) -> Trades:
    r = pf.trades.values
    r = r[r["status"] == 1]  # closed
    return Trades(r["entry_idx"], r["exit_idx"], r["entry_price"], r["exit_price"], r["pnl"])


def run_backtesting_py(bars: pl.DataFrame, le: np.ndarray, lx: np.ndarray, stop: float | None):  # type: ignore[no-untyped-def]
    from backtesting import Backtest
    from tests.backtesting_py_harness import backtesting_py_data, signal_cross_strategy

    data = backtesting_py_data(bars)
    SignalCross = signal_cross_strategy(bars, le, lx, stop)

    def run() -> Any:
        return Backtest(
            data, SignalCross, cash=1_000_000.0, commission=be.FEE, exclusive_orders=True
        ).run()

    return run


def bt_trades(stats: Any) -> Trades:
    t = stats["_trades"]
    return Trades(
        t["EntryBar"].to_numpy(),
        t["ExitBar"].to_numpy(),
        t["EntryPrice"].to_numpy(dtype=float),
        t["ExitPrice"].to_numpy(dtype=float),
        t["PnL"].to_numpy(dtype=float),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--bt-bars", type=int, default=100_000, help="backtesting.py's slice")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bt-repeat", type=int, default=3)
    ap.add_argument("--stop", type=float, default=be.STOP, help="stop-loss fraction (variant 2)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    res: dict[str, Any] = {"loadavg_start": os.getloadavg()[0]}
    versions = {"python": platform.python_version(), "quantforge": qf.__version__}
    for mod in ("numpy", "numba", "polars", "pandas"):
        versions[mod] = __import__(mod).__version__
    libs: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    try:
        import vectorbt as vbt

        libs["vectorbt"] = vbt
        versions["vectorbt"] = vbt.__version__
    except ImportError as e:  # optional: not a project dependency
        skipped["vectorbt"] = f"not importable ({e}); pip install vectorbt to include it"
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
    try:
        import backtesting

        libs["backtesting"] = backtesting
        versions["backtesting"] = backtesting.__version__
    except ImportError as e:
        skipped["backtesting"] = f"not importable ({e}); pip install backtesting to include it"
    # backtesting.py's known warnings: its stats use a pandas-3.1-deprecated accessor, and it
    # warns about a position left open at the end (compared without it, like the others)
    warnings.filterwarnings("ignore", r"Datetime\w*\.dayofweek is deprecated")
    warnings.filterwarnings("ignore", "Some trades remain open at the end of backtest")

    bars = be.load(args.bars)
    n = bars.height
    nb_bt = min(args.bt_bars, n)
    close = bars["close"].to_numpy()
    le, lx = be.signals(close)
    res |= {"bars": n, "bt_bars": nb_bt, "repeat": args.repeat, "bt_repeat": args.bt_repeat}
    be.warmup()

    failures: list[str] = []
    rows: list[tuple[str, str, int, float, str]] = []
    for variant, stop in (("no_stop", None), ("stop", args.stop)):
        cfg = dataclasses.replace(be.config(), exit_rules=qf.ExitRules(stop_loss=stop))
        market = cfg.market(bars)
        jobs: dict[str, Callable[[], Any]] = {
            "ours": lambda: cfg.run_signals(bars, le, lx),  # noqa: B023
            "kernel": lambda: be.kernel_once(cfg, market, le, lx)[0],  # noqa: B023
        }
        if "vectorbt" in libs:
            run = run_vectorbt(libs["vectorbt"], market, le, lx, stop)

            # closer to our end-to-end call: also materialise the trades and the equity curve
            def run_full(run: Callable[[], Any] = run) -> Any:
                pf = run()
                return pf.trades.values, pf.value().to_numpy()

            jobs |= {"vectorbt": run, "vectorbt_full": run_full}
        t, out = blocks(jobs, args.repeat)
        ours, reasons = ours_trades(out["ours"], bars)
        v: dict[str, Any] = {
            "stop_loss": stop,
            "trades": ours.n,
            "stop_exits": int((reasons == "stop").sum()),
            "ours_bars_per_s": n / t["ours"],
            "ours_kernel_bars_per_s": n / t["kernel"],
        }
        rows += [
            (variant, "quantforge (end to end)", n, n / t["ours"], ""),
            (variant, "quantforge (kernel)", n, n / t["kernel"], ""),
        ]

        if "vectorbt" in libs:
            theirs = vbt_trades(out["vectorbt"])
            bad = compare(ours, theirs)
            v |= {
                "vectorbt_bars_per_s": n / t["vectorbt"],
                "vectorbt_with_trades_equity_bars_per_s": n / t["vectorbt_full"],
                "ratio_vs_vectorbt": t["vectorbt"] / t["ours"],
                "ratio_kernel_vs_vectorbt": t["vectorbt"] / t["kernel"],
                "ratio_vs_vectorbt_with_trades_equity": t["vectorbt_full"] / t["ours"],
                "vectorbt_trades": theirs.n,
                "vectorbt_mismatched_trades": len(bad),
                "vectorbt_pnl_sum_diff": float(ours.pnl.sum() - theirs.pnl.sum()),
            }
            if stop is None:
                agree = "exact" if not bad else f"{len(bad)} DIFFER"
                if bad:
                    failures.append(f"vectorbt {variant}: {len(bad)} trades differ")
                    failures += describe(ours, theirs, bad)
            else:
                causes = classify_vbt_stop(ours, reasons, theirs, market.open, market.low, stop)
                v["vectorbt_mismatch_causes"] = causes
                agree = f"{ours.n - len(bad)}/{ours.n} same; " + ", ".join(
                    f"{k} {c}" for k, c in causes.items()
                )
                if causes["unexplained"]:
                    failures.append(f"vectorbt {variant}: unexplained differences")
                    failures += describe(ours, theirs, bad)
            rows.append((variant, "vectorbt from_signals", n, n / t["vectorbt"], agree))
            rows.append((variant, "vectorbt + trades, equity", n, n / t["vectorbt_full"], ""))

        if "backtesting" in libs:
            small = bars.head(nb_bt)
            sle, slx = le[:nb_bt], lx[:nb_bt]
            tb, ob = blocks(
                {
                    "backtesting": run_backtesting_py(small, sle, slx, stop),
                    "ours": lambda: cfg.run_signals(small, sle, slx),  # noqa: B023
                },
                args.bt_repeat,
            )
            ours_small, _ = ours_trades(ob["ours"], small)
            theirs = bt_trades(ob["backtesting"])
            bad = compare(ours_small, theirs)
            v |= {
                "backtesting_bars_per_s": nb_bt / tb["backtesting"],
                "backtesting_trades": theirs.n,
                "ours_trades_on_bt_slice": ours_small.n,
                "backtesting_mismatched_trades": len(bad),
                "ours_bars_per_s_on_bt_slice": nb_bt / tb["ours"],
                "ratio_vs_backtesting": tb["backtesting"] / tb["ours"],
            }
            if bad:
                failures.append(f"backtesting.py {variant}: {len(bad)} trades differ")
                failures += describe(ours_small, theirs, bad)
            agree = "exact" if not bad else f"{len(bad)} DIFFER"
            rows.append((variant, "backtesting.py run", nb_bt, nb_bt / tb["backtesting"], agree))
        res[variant] = v

    res["versions"] = versions
    res["skipped"] = skipped
    res["loadavg_end"] = os.getloadavg()[0]
    res["agree"] = not failures
    doc = json.dumps(res, indent=2, sort_keys=True, default=float)
    print(doc)
    if args.json is not None:
        args.json.write_text(doc)

    print(f"\n{'variant':8} {'engine':26} {'bars':>9} {'bars/s':>14}  fills vs quantforge")
    for variant, name, nbars, speed, agree in rows:
        print(f"{variant:8} {name:26} {nbars:>9,} {speed:>14,.0f}  {agree}")
    for variant in ("no_stop", "stop"):
        v = res[variant]
        for lib in ("vectorbt", "backtesting"):
            if f"ratio_vs_{lib}" in v:
                line = f"{variant:8} ours/{lib} speed ratio (bars/s): {v[f'ratio_vs_{lib}']:.2f}x"
                if f"ratio_kernel_vs_{lib}" in v:
                    line += (
                        f" end to end, {v[f'ratio_kernel_vs_{lib}']:.2f}x kernel (vs from_signals);"
                        f" {v['ratio_vs_vectorbt_with_trades_equity']:.2f}x end to end vs"
                        " from_signals + trades + equity"
                    )
                print(line)
    for lib, why in skipped.items():
        print(f"SKIPPED {lib}: {why}")
    versions_line = ", ".join(f"{k} {v}" for k, v in versions.items())
    print(f"versions: {versions_line}; load average {res['loadavg_start']:.2f} -> "
          f"{res['loadavg_end']:.2f}")  # fmt: skip
    if failures:
        print("FILLS DISAGREE:")
        for line in failures:
            print("  " + line)
        sys.exit(1)


if __name__ == "__main__":
    main()
