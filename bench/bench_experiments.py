"""Time the experiment plumbing: grid expansion, run keys, data fingerprints, the local executor
(per-task overhead and shared-payload delivery) and the SQLite results store.

Run: .venv/bin/python bench/bench_experiments.py [workers]. Prints one JSON line, then a table.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantforge.executors.local import LocalExecutor
from quantforge.experiment.keys import data_fingerprint, run_key
from quantforge.experiment.space import ParamGrid, ParamSpace, Range
from quantforge.store.repository import ResultStore, RunRecord


def noop(task: int) -> int:
    return task


def touch_shared(task: int, shared: dict[str, Any]) -> float:
    return float(shared["close"][task * 1000])


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    out: dict[str, float] = {}

    space = ParamSpace.build(
        {"fast": Range(1, 200, 1), "slow": Range(2, 400, 1), "k": Range(0.5, 3.0, 0.5)},
        ["fast < slow"],
    )
    grid = ParamGrid(space)
    t0 = time.perf_counter()
    n = len(grid)
    out["grid_constrained_combinations"] = n
    out["grid_combinations_per_s"] = n / (time.perf_counter() - t0)

    combos = [c for _, c in zip(range(50_000), grid, strict=False)]
    t0 = time.perf_counter()
    for c in combos:
        run_key("ma_cross", c, {"cash": 1e4, "fees": {"maker": 1e-3}}, "ab" * 16, code="0.1.0")
    out["run_keys_per_s"] = len(combos) / (time.perf_counter() - t0)

    n_bars = 1_000_000
    rng = np.random.default_rng(1)
    frame = pl.DataFrame(
        {
            "open_time": np.arange(n_bars, dtype=np.int64) * 900_000,
            **{c: rng.normal(100, 1, n_bars) for c in ("open", "high", "low", "close", "volume")},
        }
    ).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    t0 = time.perf_counter()
    data_fingerprint(frame)
    elapsed = time.perf_counter() - t0
    out["fingerprint_1m_bars_s"] = elapsed
    out["fingerprint_mb_per_s"] = frame.estimated_size("mb") / elapsed

    with LocalExecutor(workers=workers) as executor:
        list(executor.map(noop, range(workers * 4)))  # start the pool
        n_tasks = 20_000
        t0 = time.perf_counter()
        results = list(executor.map(noop, range(n_tasks)))
        elapsed = time.perf_counter() - t0
        assert len(results) == n_tasks
        out["local_noop_tasks_per_s"] = n_tasks / elapsed
        out["local_overhead_us_per_task"] = elapsed / n_tasks * 1e6

        shared = {c: frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}
        out["shared_payload_mb"] = sum(a.nbytes for a in shared.values()) / 1e6
        t0 = time.perf_counter()
        results = list(executor.map(touch_shared, range(1000), shared=shared))
        out["local_shared_1000_tasks_s"] = time.perf_counter() - t0
        assert all(r.ok for r in results)

    with tempfile.TemporaryDirectory() as folder:
        store = ResultStore.open(f"sqlite:///{Path(folder) / 'r.db'}")
        experiment_id = store.create_experiment("bench", {}, code_version="0.1.0")
        now = dt.datetime.now(dt.UTC)
        n_runs = 20_000
        records = (
            RunRecord(
                run_key=f"{i:032x}",
                strategy="ma_cross",
                params={"fast": i % 50, "slow": i % 200},
                metrics={"sharpe": float(rng.normal()), "pnl_to_max_drawdown": float(rng.normal())},
                started_at=now,
                finished_at=now,
                duration_s=0.01,
            )
            for i in range(n_runs)
        )
        t0 = time.perf_counter()
        store.add_runs(experiment_id, records)
        out["sqlite_runs_inserted_per_s"] = n_runs / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.runs(experiment_id, order_by="sharpe", limit=10)
        out["sqlite_top10_of_20k_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.existing_keys(experiment_id)
        out["sqlite_existing_keys_20k_s"] = time.perf_counter() - t0
        store.close()

    print(json.dumps(out))
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value:>14,.4f}")


if __name__ == "__main__":
    main()
