"""Benchmark the Parquet catalog on real data: write, merge and read throughput (local disk).

Uses ``../shared/data/BTCUSDT-1m.parquet`` (1,052,640 one-minute bars, 2023-12 → 2025-11);
exits with a message when it is absent. Every figure is the median of ``--runs`` warm runs.

Target (ARCHITECTURE/issue): read one year of 1-minute bars (525,600 rows) for one symbol in
≤ 30 ms warm.

    python bench/bench_catalog.py [--runs 7] [--data PATH] [--json-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from quantforge.data.catalog import Catalog

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "BTCUSDT-1m.parquet"


class Timing(NamedTuple):
    median_s: float
    best_s: float


def timed(fn: Callable[[], Any], runs: int, *, warmup: int = 1) -> tuple[Timing, Any]:
    """Return (median and best seconds of ``runs`` calls after ``warmup`` calls, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return Timing(statistics.median(samples), min(samples)), result


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("data.parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (needs ../shared/data, see MANIFEST.md)")
        return 0

    bars = pl.read_parquet(args.data)
    rows = bars.height
    last_day = bars.tail(1440)
    results: list[dict[str, Any]] = []

    def record(name: str, timing: Timing, n_rows: int, note: str = "") -> None:
        seconds = timing.median_s
        results.append(
            {
                "name": name,
                "ms": round(seconds * 1000, 2),
                "best_ms": round(timing.best_s * 1000, 2),
                "rows": n_rows,
                "rows_per_s": round(n_rows / seconds) if seconds > 0 else None,
                "note": note,
            }
        )

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10_000))

        def fresh_write() -> Any:
            cat = Catalog(Path(tmp) / f"w{next(counter)}")
            return cat.write_bars(bars, symbol="BTCUSDT", interval="1m")

        timing, _ = timed(fresh_write, max(3, args.runs // 2), warmup=0)
        record("write all (empty catalog)", timing, rows, "3 year partitions, zstd")

        root = Path(tmp) / "main"
        cat = Catalog(root)
        cat.write_bars(bars, symbol="BTCUSDT", interval="1m")
        size = folder_bytes(root)

        timing, report = timed(
            lambda: cat.write_bars(bars, symbol="BTCUSDT", interval="1m"), args.runs
        )
        assert report.rows_new == 0
        record("re-import same rows (no-op)", timing, rows, "merge + compare, no rewrite")

        timing, _ = timed(
            lambda: cat.write_bars(last_day, symbol="BTCUSDT", interval="1m"), args.runs
        )
        record("re-import 1 day (no-op)", timing, last_day.height, "merge + compare")

        # the sync case: append the newest day to a catalog that ends the day before
        base = Path(tmp) / "base"
        Catalog(base).write_bars(bars.head(rows - 1440), symbol="BTCUSDT", interval="1m")
        samples = []
        for i in range(args.runs):
            copy = Path(tmp) / f"append{i}"
            shutil.copytree(base, copy)
            start = time.perf_counter()
            Catalog(copy).write_bars(last_day, symbol="BTCUSDT", interval="1m")
            samples.append(time.perf_counter() - start)
            shutil.rmtree(copy)
        appended = Timing(statistics.median(samples), min(samples))
        record("append 1 day to a year", appended, 1440, "sync: rewrite year")

        versions = [last_day.with_columns(pl.col("close") + 0.01), last_day]
        turn = iter(range(10_000))

        def overwrite() -> Any:  # alternate two versions so every call really rewrites
            frame = versions[next(turn) % 2]
            return cat.write_bars(frame, symbol="BTCUSDT", interval="1m")

        timing, _ = timed(overwrite, args.runs)
        record("overwrite 1 day (rewrite year)", timing, last_day.height, "partition rewritten")

        window = ("2024-12-01", "2025-12-01")  # 365 days = 525,600 rows, two partitions
        timing, year = timed(
            lambda: cat.read_bars("BTCUSDT", "1m", start=window[0], end=window[1]), args.runs
        )
        assert year.height == 525_600, year.height
        record("read 365 days (525,600 rows)", timing, year.height, "target <= 30 ms")

        timing, full = timed(
            lambda: cat.read_bars("BTCUSDT", "1m", start="2024-01-01", end="2025-01-01"),
            args.runs,
        )
        record("read calendar year 2024", timing, full.height, "one partition, no filter")

        partition = next(root.rglob("year=2024/data.parquet"))
        timing, raw = timed(lambda: pl.read_parquet(partition), args.runs)
        record("baseline: pl.read_parquet 2024", timing, raw.height, "same file, no catalog")

        timing, week = timed(
            lambda: cat.read_bars("BTCUSDT", "1m", start="2024-06-01", end="2024-06-08"),
            args.runs,
        )
        record("read 1 week", timing, week.height, "row-group pruning")

        timing, everything = timed(lambda: cat.read_bars("BTCUSDT", "1m"), args.runs)
        record("read all", timing, everything.height, "")

        timing, _ = timed(lambda: cat.last_time("BTCUSDT", "1m"), args.runs)
        record("last_time", timing, 1, "")

        timing, infos = timed(cat.datasets, args.runs)
        record("datasets() (gaps from data)", timing, infos[0].rows, "")

    payload = {
        "benchmark": "catalog",
        "data": str(args.data),
        "rows": rows,
        "bytes_on_disk": size,
        "runs": args.runs,
        "python": platform.python_version(),
        "polars": pl.__version__,
        "cpus": os.cpu_count(),
        "results": results,
    }
    print(json.dumps(payload, indent=2))
    if not args.json_only:
        print()
        print(f"{'case':34} {'median ms':>10} {'best ms':>9} {'rows':>10} {'Mrows/s':>8}  note")
        for r in results:
            mrows = f"{r['rows_per_s'] / 1e6:.2f}" if r["rows_per_s"] else "-"
            print(
                f"{r['name']:34} {r['ms']:>10.2f} {r['best_ms']:>9.2f} {r['rows']:>10,} "
                f"{mrows:>8}  {r['note']}"
            )
        print(f"catalog size on disk: {size / 1e6:.1f} MB for {rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
