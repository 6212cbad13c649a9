"""Benchmark the Parquet catalog on real data: write, merge and read throughput (local disk).

Uses ``../shared/data/BTCUSDT-1m.parquet`` (1,052,640 one-minute bars, 2023-12 → 2025-11);
exits with a message when it is absent. Every figure is the median of ``--runs`` warm runs.

Target (ARCHITECTURE/issue): read one year of 1-minute bars (525,600 rows) for one symbol in
≤ 30 ms warm.

The 365-day read is also timed, interleaved run by run in the same process, on a copy of the
catalog whose partitions were written the way quantforge wrote them before the pyarrow writer
(Polars ``write_parquet``, zstd default level, 65,536-row groups), read both through
``read_bars`` and through the lazy Polars scan that ``read_bars`` used then — the old-vs-new
ratio. ``cpu ms`` is process CPU time (all threads): on a shared machine it is steadier than
wall time, and wall ≈ cpu / cores used.

``--layouts`` adds a comparison of Parquet writer options on the 2025 partition (428,000
rows): write time, file size, and read time through pyarrow (the catalog's reader) and Polars.

    python bench/bench_catalog.py [--runs 7] [--data PATH] [--json-only] [--layouts]
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
    cpu_s: float | None = None


def timed(fn: Callable[[], Any], runs: int, *, warmup: int = 1) -> tuple[Timing, Any]:
    """Return (median and best seconds of ``runs`` calls after ``warmup`` calls, last result)."""
    timings, results = interleaved([fn], runs, warmup=warmup)
    return timings[0], results[0]


def interleaved(
    fns: list[Callable[[], Any]], runs: int, *, warmup: int = 1
) -> tuple[list[Timing], list[Any]]:
    """Time several functions alternately (run i of each back to back), so load hits all alike."""
    results: list[Any] = [None] * len(fns)
    for _ in range(warmup):
        results = [fn() for fn in fns]
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            start, cpu = time.perf_counter(), time.process_time()
            results[i] = fn()
            walls[i].append(time.perf_counter() - start)
            cpus[i].append(time.process_time() - cpu)
    timings = [
        Timing(statistics.median(w), min(w), statistics.median(c))
        for w, c in zip(walls, cpus, strict=True)
    ]
    return timings, results


def old_layout_copy(root: Path, target: Path) -> None:
    """Copy a catalog, rewriting every partition as the pre-pyarrow writer did."""
    shutil.copytree(root, target)
    for path in target.rglob("data.parquet"):
        frame = pl.read_parquet(path)
        frame.write_parquet(path, compression="zstd", statistics=True, row_group_size=65_536)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("data.parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json-only", action="store_true")
    parser.add_argument("--layouts", action="store_true", help="compare Parquet writer options")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (needs ../shared/data, see MANIFEST.md)")
        return 0

    bars = pl.read_parquet(args.data)
    rows = bars.height
    last_day = bars.tail(1440)
    results: list[dict[str, Any]] = []
    load_before = load()

    def record(name: str, timing: Timing, n_rows: int, note: str = "") -> None:
        seconds = timing.median_s
        results.append(
            {
                "name": name,
                "ms": round(seconds * 1000, 2),
                "best_ms": round(timing.best_s * 1000, 2),
                "cpu_ms": None if timing.cpu_s is None else round(timing.cpu_s * 1000, 2),
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
        old = Catalog(Path(tmp) / "old-layout")
        old_layout_copy(root, Path(old.root))
        (new_t, old_new_reader_t, old_old_reader_t), (year, old_year, old_scan) = interleaved(
            [
                lambda: cat.read_bars("BTCUSDT", "1m", start=window[0], end=window[1]),
                lambda: old.read_bars("BTCUSDT", "1m", start=window[0], end=window[1]),
                lambda: old.scan_bars("BTCUSDT", "1m", start=window[0], end=window[1]).collect(),
            ],
            args.runs,
        )
        assert year.height == 525_600, year.height
        assert year.equals(old_year)
        assert year.equals(old_scan)
        record("read 365 days (525,600 rows)", new_t, year.height, "target <= 30 ms")
        record("  same, old layout, new reader", old_new_reader_t, year.height, "Polars-written")
        record("  same, old layout, old reader", old_old_reader_t, year.height, "before: lazy scan")
        old_size = folder_bytes(Path(old.root))

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

        layouts = compare_layouts(bars, args.runs) if args.layouts else []

    payload = {
        "benchmark": "catalog",
        "data": str(args.data),
        "rows": rows,
        "bytes_on_disk": size,
        "bytes_on_disk_old_layout": old_size,
        "load_avg_before": load_before,
        "load_avg_after": load(),
        "runs": args.runs,
        "python": platform.python_version(),
        "polars": pl.__version__,
        "cpus": os.cpu_count(),
        "results": results,
        "layouts": layouts,
    }
    print(json.dumps(payload, indent=2))
    if not args.json_only:
        print()
        print(
            f"{'case':34} {'median ms':>10} {'best ms':>9} {'cpu ms':>8} {'rows':>10} "
            f"{'Mrows/s':>8}  note"
        )
        for r in results:
            mrows = f"{r['rows_per_s'] / 1e6:.2f}" if r["rows_per_s"] else "-"
            cpu = "-" if r["cpu_ms"] is None else f"{r['cpu_ms']:.1f}"
            print(
                f"{r['name']:34} {r['ms']:>10.2f} {r['best_ms']:>9.2f} {cpu:>8} "
                f"{r['rows']:>10,} {mrows:>8}  {r['note']}"
            )
        print(
            f"catalog size on disk: {size / 1e6:.1f} MB for {rows:,} rows "
            f"(old layout: {old_size / 1e6:.1f} MB); load {load_before} -> "
            f"{payload['load_avg_after']}"
        )
        if layouts:
            print()
            print(
                f"{'layout (2025 partition)':40} {'MB':>6} {'write ms':>9} "
                f"{'pyarrow read ms (cpu)':>22} {'polars read ms (cpu)':>21}"
            )
            for r in layouts:
                print(
                    f"{r['layout']:40} {r['mb']:>6.1f} {r['write_ms']:>9.1f} "
                    f"{r['pyarrow_ms']:>12.1f} ({r['pyarrow_cpu_ms']:>6.1f}) "
                    f"{r['polars_ms']:>11.1f} ({r['polars_cpu_ms']:>6.1f})"
                )
    return 0


def compare_layouts(bars: pl.DataFrame, runs: int) -> list[dict[str, Any]]:
    """Write the 2025 partition with several writer options; time writes, reads, sizes."""
    import pyarrow.parquet as pq

    from quantforge.data._parquet import partition_bytes, read_partitions

    year = bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC"))).filter(
        pl.col("open_time").dt.year() == 2025
    )
    table = year.to_arrow()
    floats = [n for n, t in year.schema.items() if t == pl.Float64]
    bss = dict.fromkeys(floats, "BYTE_STREAM_SPLIT")
    delta = dict.fromkeys(["open_time", "trades"], "DELTA_BINARY_PACKED")

    def pyarrow_writer(level: int, encodings: dict[str, str] | None, rows: int = 65_536) -> Any:
        def write(path: Path) -> None:
            pq.write_table(
                table, path, compression="zstd", compression_level=level, use_dictionary=False,
                column_encoding=encodings, row_group_size=rows, write_statistics=True,
            )  # fmt: skip

        return write

    def polars_writer(level: int | None) -> Any:
        def write(path: Path) -> None:
            year.write_parquet(
                path, compression="zstd", compression_level=level, statistics=True,
                row_group_size=65_536,
            )  # fmt: skip

        return write

    options: dict[str, Any] = {
        "polars zstd default plain (old catalog)": polars_writer(None),
        "polars zstd-1 plain": polars_writer(1),
        "pyarrow zstd-1 plain": pyarrow_writer(1, None),
        "pyarrow zstd-1 delta ints": pyarrow_writer(1, delta),
        "pyarrow zstd-1 bss floats": pyarrow_writer(1, bss),
        "pyarrow zstd-1 bss + delta": pyarrow_writer(1, bss | delta),
        "pyarrow zstd-3 bss + delta": pyarrow_writer(3, bss | delta),
        "pyarrow zstd-9 bss + delta": pyarrow_writer(9, bss | delta),
        "pyarrow zstd--1 delta ints": pyarrow_writer(-1, delta),
        "pyarrow zstd--1 bss + delta (catalog)": lambda p: p.write_bytes(partition_bytes(year)),
        "pyarrow zstd--3 bss + delta": pyarrow_writer(-3, bss | delta),
        "pyarrow zstd--7 bss + delta": pyarrow_writer(-7, bss | delta),
        "pyarrow zstd--1 bss + delta, 128k groups": pyarrow_writer(-1, bss | delta, 131_072),
        "pyarrow uncompressed bss + delta (ref)": lambda p: pq.write_table(
            table,
            p,
            compression="none",
            use_dictionary=False,
            column_encoding=bss | delta,
            row_group_size=65_536,
        ),
    }
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths: list[Path] = []
        for i, (name, write) in enumerate(options.items()):
            path = Path(tmp) / f"{i}.parquet"
            timing, _ = timed(lambda w=write, p=path: w(p), 3, warmup=0)
            paths.append(path)
            out.append({"layout": name, "mb": path.stat().st_size / 1e6,
                        "write_ms": timing.median_s * 1000})  # fmt: skip
        readers: list[Callable[[], Any]] = []
        for path in paths:
            readers.append(
                lambda p=str(path): read_partitions(
                    [p], "open_time", None, None, sorted_by_time=True
                )
            )
            readers.append(lambda p=path: pl.read_parquet(p))
        timings, frames = interleaved(readers, runs)
        for row, frame in zip(out, frames[::2], strict=True):
            assert frame.equals(year), row["layout"]
        for row, arrow_t, polars_t in zip(out, timings[::2], timings[1::2], strict=True):
            row |= {
                "pyarrow_ms": arrow_t.median_s * 1000,
                "pyarrow_cpu_ms": (arrow_t.cpu_s or 0) * 1000,
                "polars_ms": polars_t.median_s * 1000,
                "polars_cpu_ms": (polars_t.cpu_s or 0) * 1000,
            }
    return [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in out]


if __name__ == "__main__":
    sys.exit(main())
