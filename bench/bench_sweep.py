"""End-to-end sweep benchmark: the regime strategy over N combinations on a year of BTCUSDT 15m.

Each case runs in a fresh subprocess (so peak RSS is per case) and goes through the whole
runner: fingerprint, grid, run keys, executor, SQLite store, summary.csv, one JSON per run,
artifacts for the top 10, and (unless --no-plots) the HTML report and PNGs of the top 5 — what
`quantforge run` does with an experiment file's defaults. Cases: the local pool at several N
(time, throughput, peak RSS of the parent — memory must stay flat as N grows), Ray vs the local
pool at the same N, and a per-run profile of where the time goes inside one combination.

Run:
    .venv/bin/python bench/bench_sweep.py                     # default cases (100, 1000; ray 100)
    .venv/bin/python bench/bench_sweep.py --n 100 1000 10000 --ray 1000 --strategy regime_ma_cross
    .venv/bin/python bench/bench_sweep.py --n --ray --parent-only 10000   # the runner alone
Prints one JSON document, then a table. Real data: /work/shared/data/BTCUSDT-15m.parquet
(or $QUANTFORGE_SHARED_DATA), the last 35,040 bars (one year).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

SHARED = Path(os.environ.get("QUANTFORGE_SHARED_DATA", "/work/shared/data"))
BARS = 35_040

_FAST = {"start": 5, "stop": 50, "step": 5}
_SLOW = {"start": 60, "stop": 150, "step": 10}
#: the grid of N combinations per strategy (parameters not named keep their defaults)
GRIDS: dict[str, dict[int, dict[str, Any]]] = {
    "regime_ma_cross": {
        10: {"fast": _FAST},
        100: {"fast": _FAST, "slow": _SLOW},
        1000: {
            "fast": _FAST,
            "slow": _SLOW,
            "atr_ratio": {"start": 0.5, "stop": 0.95, "step": 0.05},
        },
        10_000: {
            "fast": _FAST,
            "slow": _SLOW,
            "atr_ratio": {"start": 0.5, "stop": 0.95, "step": 0.05},
            "rsi_min": {"start": 40, "stop": 58, "step": 2},
        },
    },
    "ma_cross": {
        10: {"fast": _FAST},
        100: {"fast": _FAST, "slow": _SLOW},
        1000: {
            "fast": _FAST,
            "slow": _SLOW,
            "stop_pct": {"start": 0.005, "stop": 0.05, "step": 0.005},
        },
        10_000: {
            "fast": {"start": 1, "stop": 50, "step": 1},
            "slow": _SLOW,
            "stop_pct": {"start": 0.005, "stop": 0.05, "step": 0.005},
            "ma_type": ["sma", "ema"],
        },
    },
}


def bars() -> pl.DataFrame:
    frame = pl.read_parquet(SHARED / "BTCUSDT-15m.parquet").tail(BARS)
    return frame.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


def config(strategy: str, n: int, folder: Path, kind: str) -> Any:
    from quantforge.experiment.config import parse_experiment

    if n not in GRIDS[strategy]:
        raise SystemExit(f"n must be one of {sorted(GRIDS[strategy])}; got {n}")
    params = GRIDS[strategy][n]
    frame = bars()
    return parse_experiment(
        {
            "name": f"bench-{strategy}-{n}",
            "data": {
                "symbols": ["BTCUSDT"],
                "interval": "15m",
                "start": frame["open_time"][0].isoformat(),
                "end": (frame["open_time"][-1]).isoformat(),
                "catalog": str(folder / "unused-catalog"),
            },
            "strategy": {"name": strategy, "params": params},
            "engine": {
                "fees": {"maker": 0.001, "taker": 0.001},
                "slippage": {"model": "fixed_bps", "params": {"bps": 1.0}},
            },
            "outputs": {
                "results_dir": str(folder),
                "plots_top_n": int(os.environ.get("QF_BENCH_PLOTS", "5")),
            },
            "executor": {"kind": kind},
        }
    ), frame


def descendants_cpu_s() -> float:
    """Return the CPU seconds (user + system) used so far by every live descendant process.

    The local pool's workers are forkserver children, so RUSAGE_CHILDREN never sees them; /proc
    does (Linux only; 0 elsewhere).
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    mine = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                grew = True
    mine.discard(os.getpid())
    return sum(ticks[p] for p in mine) / os.sysconf("SC_CLK_TCK")


def case(strategy: str, n: int, kind: str, workers: int) -> dict[str, Any]:
    from quantforge.experiment.runner import build_executor, run_experiment
    from quantforge.store import ResultStore

    with tempfile.TemporaryDirectory(dir=os.environ.get("QF_BENCH_RESULTS")) as tmp:
        folder = Path(tmp)
        cfg, frame = config(strategy, n, folder, kind)
        frame = frame.filter(pl.col("open_time") < cfg.data.end)
        executor = build_executor(cfg, workers=workers)
        cpu_self = resource.getrusage(resource.RUSAGE_SELF)
        cpu_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        t_init = time.perf_counter()
        if kind == "ray":
            import ray

            ray.init(num_cpus=workers, include_dashboard=False, configure_logging=False)
        init_s = time.perf_counter() - t_init
        try:
            with ResultStore.open(cfg.store_url()) as store:
                t0 = time.perf_counter()
                outcome = run_experiment(
                    cfg, store=store, executor=executor, bars={"BTCUSDT": frame}
                )
                wall = time.perf_counter() - t0
                cpu_workers = descendants_cpu_s()
                # streamed: a 10,000-row frame of every run here would add its own ~100 MB to the
                # parent's peak RSS, which is the runner's figure to measure
                worker_s = sum(
                    run.duration_s or 0.0 for run in store.iter_runs(outcome.experiment_id)
                )
        finally:
            executor.close()
            if kind == "ray":
                import ray

                ray.shutdown()
    # CPU seconds are what a loaded, shared machine does not inflate (wall seconds are)
    self_now = resource.getrusage(resource.RUSAGE_SELF)
    children_now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_parent = (self_now.ru_utime + self_now.ru_stime) - (cpu_self.ru_utime + cpu_self.ru_stime)
    # a pool started by this case: its workers' CPU is theirs; forked helpers that exited count too
    cpu_workers += (children_now.ru_utime + children_now.ru_stime) - (
        cpu_children.ru_utime + cpu_children.ru_stime
    )
    return {
        "strategy": strategy,
        "n": n,
        "executor": kind,
        "workers": workers,
        "bars": frame.height,
        "ok": outcome.ok,
        "errors": outcome.errors,
        "wall_s": round(wall, 2),
        "init_s": round(init_s, 2),
        "runs_per_s": round(n / wall, 1),
        "mean_run_ms": round(1000 * worker_s / n, 2),
        # wall time not explained by the runs themselves (spread over the workers)
        "overhead_s": round(wall - worker_s / workers, 2),
        "cpu_parent_s": round(cpu_parent, 2),
        "cpu_workers_s": round(cpu_workers, 2),
        "load_1min": round(os.getloadavg()[0], 2),
        # where the wall time went, phase by phase (ExperimentOutcome.timings)
        **{f"{k}_s": round(v, 2) for k, v in getattr(outcome, "timings", {}).items()},
        "peak_rss_parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_child_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


class ReplayExecutor:
    """An executor that runs nothing: every task gets one precomputed `RunOutput` at once.

    With it, `run_experiment` costs only what the parent does per combination (task and key
    generation, storing, run files, summary) — the figure to watch when changing the runner.
    The best runs' artifacts fail to reproduce (every run claims the same metrics) and are
    skipped with a log line; that phase is timed in the real cases.
    """

    def __init__(self, output: Any) -> None:
        self.output = output

    def map(self, fn: Any, tasks: Any, *, shared: Any = None) -> Any:
        from quantforge.executors.base import TaskResult, TaskStatus

        for index, task in enumerate(tasks):
            yield TaskResult(index, task, TaskStatus.OK, self.output, duration_s=0.002)

    def close(self) -> None:
        return None


def parent_only(strategy: str, n: int) -> dict[str, Any]:
    """Time the runner's own work for N combinations (no simulation: `ReplayExecutor`)."""
    import logging
    import uuid

    from quantforge.experiment.runner import run_experiment
    from quantforge.experiment.tasks import RunTask, SweepPayload, bar_columns, run_task
    from quantforge.store import ResultStore

    logging.getLogger("quantforge").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(dir=os.environ.get("QF_BENCH_RESULTS")) as tmp:
        folder = Path(tmp)
        cfg, frame = config(strategy, n, folder, "local")
        frame = frame.filter(pl.col("open_time") < cfg.data.end)
        payload = SweepPayload(
            uuid.uuid4().hex, {"BTCUSDT": bar_columns(frame)}, {"BTCUSDT": cfg.backtest("BTCUSDT")}
        )
        output = run_task(RunTask("k", strategy, "BTCUSDT", {}), payload)
        with ResultStore.open(cfg.store_url()) as store:
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            outcome = run_experiment(
                cfg, store=store, executor=ReplayExecutor(output), bars={"BTCUSDT": frame}
            )
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
    return {
        "strategy": strategy,
        "n": n,
        "executor": "replay",
        "wall_s": round(wall, 2),
        "cpu_parent_s": round(cpu, 2),
        "parent_us_per_run": round(1e6 * cpu / n, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        **{f"{k}_s": round(v, 2) for k, v in getattr(outcome, "timings", {}).items()},
    }


def profile(strategy: str) -> dict[str, Any]:
    """Split one combination's time: indicators (cold / cached), full result vs metrics only."""
    from quantforge.experiment.tasks import (
        bar_arrays,
        bar_columns,
        frame_from_columns,
        simulate,
        simulate_metrics,
    )
    from quantforge.indicators.cache import IndicatorCache

    with tempfile.TemporaryDirectory() as tmp:
        cfg, frame = config(strategy, 10, Path(tmp), "local")
    columns = bar_columns(frame)
    arrays, engine_frame = bar_arrays(columns), frame_from_columns(columns)
    backtest = cfg.backtest("BTCUSDT")
    cache = IndicatorCache()
    params = {"fast": 20, "slow": 100}
    simulate(strategy, params, engine_frame, arrays, backtest, cache)  # JIT, cache warm
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        simulate(strategy, params, engine_frame, arrays, backtest, cache)
    cached = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(5):
        simulate(strategy, params, engine_frame, arrays, backtest, IndicatorCache())
    cold = (time.perf_counter() - t0) / 5
    markets: dict[Any, Any] = {}
    simulate_metrics(strategy, params, engine_frame, arrays, backtest, cache, markets)
    t0 = time.perf_counter()
    for _ in range(reps):  # the route sweep workers take: no frames, engine arrays memoised
        simulate_metrics(strategy, params, engine_frame, arrays, backtest, cache, markets)
    lean = (time.perf_counter() - t0) / reps
    return {
        "strategy": strategy,
        "bars": frame.height,
        "run_ms_indicators_cached": round(1000 * cached, 2),
        "run_ms_indicators_cold": round(1000 * cold, 2),
        "run_ms_metrics_only": round(1000 * lean, 2),
        "engine_path": "signals" if _has_signals(strategy) else "events",
    }


def _has_signals(strategy: str) -> bool:
    from quantforge.strategies.registry import get

    return get(strategy).has_signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--ray", type=int, nargs="*", default=[100])
    parser.add_argument("--strategy", default="regime_ma_cross", choices=sorted(GRIDS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--case", nargs=3, metavar=("STRATEGY", "N", "EXECUTOR"))
    parser.add_argument(
        "--parent-only",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="also time the runner's own work for N combinations, nothing simulated",
    )
    parser.add_argument(
        "--results-dir",
        help="where the cases' stores and run files go (default: the system temp folder). "
        "On ext4 without a journal, creating files within a minute or so of deleting many "
        "scans the deleted inodes (seconds per 10,000 files): compare code changes on tmpfs "
        "(/dev/shm), quote figures on disk after a quiet spell",
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="skip the report and PNGs of the top runs (default: 5, as an experiment file's "
        "outputs.plots_top_n)",
    )
    args = parser.parse_args()
    if args.no_plots:
        os.environ["QF_BENCH_PLOTS"] = "0"  # the case subprocesses inherit it
    if args.results_dir:
        os.environ["QF_BENCH_RESULTS"] = args.results_dir  # the case subprocesses inherit it
    if args.case:
        strategy, n, kind = args.case
        if kind == "replay":
            print(json.dumps(parent_only(strategy, int(n))))
        else:
            print(json.dumps(case(strategy, int(n), kind, args.workers)))
        return

    def sub(strategy: str, n: int, kind: str) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "--case", strategy, str(n), kind]
        cmd += ["--workers", str(args.workers)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    results: dict[str, Any] = {"profile": profile(args.strategy), "cases": []}
    for n in args.n:
        results["cases"].append(sub(args.strategy, n, "local"))
    for n in args.parent_only:
        results["cases"].append(sub(args.strategy, n, "replay"))
    for n in args.ray:
        local = next((c for c in results["cases"] if c["n"] == n), None)
        if local is None:
            local = sub(args.strategy, n, "local")
            results["cases"].append(local)
        remote = sub(args.strategy, n, "ray")
        remote["ray_vs_local"] = round(remote["wall_s"] / local["wall_s"], 2)
        results["cases"].append(remote)
    print(json.dumps(results))
    print()
    p = results["profile"]
    print(
        f"one {p['strategy']} run on {p['bars']} bars ({p['engine_path']} path): "
        f"{p['run_ms_indicators_cached']} ms with cached indicators, "
        f"{p['run_ms_indicators_cold']} ms cold; sweep route (metrics only, cached): "
        f"{p['run_ms_metrics_only']} ms"
    )
    head = ("executor", "n", "wall_s", "sweep_s", "artifacts_s", "outputs_s", "plots_s",
            "runs_per_s", "mean_run_ms", "cpu_parent_s", "parent_us_per_run", "cpu_workers_s",
            "load_1min", "peak_rss_parent_mb", "peak_rss_child_mb", "init_s",
            "ray_vs_local")  # fmt: skip
    print(" | ".join(f"{h:>12}" for h in head))
    for c in results["cases"]:
        print(" | ".join(f"{c.get(h, '-')!s:>12}" for h in head))
    ten_k = next((c for c in results["cases"] if c["n"] == 10_000), None)
    if ten_k is None:
        rate = max(c["runs_per_s"] for c in results["cases"] if c["executor"] == "local")
        print(f"10,000 combinations at the measured rate: ~{10_000 / rate:.0f} s (target 30 s)")


if __name__ == "__main__":
    main()
