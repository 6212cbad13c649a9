"""Benchmark the data layer: dump import throughput, dollar bars, resampling, checks.

Run: .venv/bin/python bench/bench_data.py [n_kline_rows] [n_trades]
(defaults 1,000,000 and 10,000,000). Prints one JSON line, then a table. Timings are medians.

* import: the real BTCUSDT 1m parquet (../shared/data) written out as ONE header-less Binance
  spot kline CSV (ms) in a temp dir, then (a) parsed with `read_binance_dump`, (b) parsed from a
  zip, (c) imported end to end (parse + check + write) into a fresh temp catalog.
  Target: >= 2 million kline rows/s for the import. Also timed: the parts (check, catalog write,
  Parquet serialisation alone) and, in the same run, the serialisation the catalog used before
  (Polars `write_parquet`, zstd default level) as a reference. `*_cpu_s` figures are process
  CPU time (all threads), steadier than wall time on a shared machine.
* dollar bars: SYNTHETIC trades (seeded random walk, lognormal sizes) — clearly not market data.
  Target: 10 million trades in <= 1 s.
* resample / check: the real 1m bars (1m -> 1h; check_bars at 1m).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from quantforge.bars import dollar_bars
from quantforge.data._parquet import partition_bytes
from quantforge.data.catalog import Catalog
from quantforge.data.ingest import import_files
from quantforge.data.resample import resample_bars
from quantforge.data.sources.binance_dumps import read_binance_dump
from quantforge.data.validate import check_bars

SHARED = Path(
    os.environ.get(
        "QUANTFORGE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)


def _median(
    fn: Callable[[], object], repeat: int, setup: Callable[[], None] | None = None
) -> float:
    return _median_cpu(fn, repeat, setup)[0]


def _median_cpu(
    fn: Callable[[], object], repeat: int, setup: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Return the median wall and median process-CPU seconds of ``repeat`` calls."""
    times = []
    cpus = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpus)


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _minute_bars(n_rows: int) -> pl.DataFrame:
    bars = pl.read_parquet(SHARED / "BTCUSDT-1m.parquet")
    while bars.height < n_rows:  # repeat shifted copies if more rows are asked for than exist
        shift = (bars["open_time"].max() or 0) + 60_000 - (bars["open_time"].min() or 0)
        bars = pl.concat([bars, bars.with_columns(pl.col("open_time") + shift)])
    return bars.head(n_rows)


def _write_dump(bars: pl.DataFrame, path: Path) -> None:
    t = pl.col("open_time")
    bars.select(
        t, "open", "high", "low", "close", "volume", (t + 59_999).alias("close_time"),
        "quote_volume", "trades", "taker_buy_base", "taker_buy_quote", pl.lit(0).alias("ignore"),
    ).write_csv(path, include_header=False)  # fmt: skip


def _synthetic_trades(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(20261122)
    price = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-5, n)))
    qty = rng.lognormal(-5.0, 1.5, n)
    time_us = 1_723_161_600_000_000 + np.cumsum(rng.integers(0, 20_000, n))
    return pl.DataFrame(
        {
            "time": pl.Series(time_us).cast(pl.Datetime("us", "UTC")),
            "trade_id": np.arange(n, dtype=np.int64),
            "price": np.round(price, 2),
            "qty": np.round(qty, 5),
            "is_buyer_maker": rng.random(n) < 0.5,
        }
    )


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_trades = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    results: dict[str, float | int | str] = {
        "n_kline_rows": n_rows,
        "n_trades": n_trades,
        "cpus": os.cpu_count() or 0,
        "load_avg_before": _load(),
    }
    bars = _minute_bars(n_rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "BTCUSDT-1m-bench.csv"
        _write_dump(bars, csv_path)
        zip_path = folder / "BTCUSDT-1m-bench.zip"
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(csv_path, arcname=csv_path.name)
        results["dump_csv_mb"] = round(csv_path.stat().st_size / 1e6, 1)
        parse_s = _median(lambda: read_binance_dump(csv_path), 3)
        parse_zip_s = _median(lambda: read_binance_dump(zip_path), 3)
        counter = iter(range(1000))
        cat_root = folder / "cat"

        def fresh() -> None:
            nonlocal cat_root
            cat_root = folder / f"cat{next(counter)}"

        import_s, import_cpu_s = _median_cpu(
            lambda: import_files([csv_path], Catalog(cat_root), "BTCUSDT", "1m"), 3, setup=fresh
        )
        results["import_cpu_s"] = round(import_cpu_s, 4)
        results["parse_csv_cpu_s"] = round(
            _median_cpu(lambda: read_binance_dump(csv_path), 3)[1], 4
        )
        # where the import time goes: parse / check / catalog write (fresh catalog each time)
        parsed = read_binance_dump(csv_path).frame
        results["import_part_check_s"] = round(_median(lambda: check_bars(parsed, "1m"), 3), 4)
        results["import_part_write_s"] = round(
            _median(
                lambda: Catalog(cat_root).write_bars(parsed, symbol="BTCUSDT", interval="1m"),
                3,
                setup=fresh,
            ),
            4,
        )
        years = [part for _key, part in parsed.group_by(pl.col("open_time").dt.year())]
        new_s, new_cpu = _median_cpu(lambda: [partition_bytes(y) for y in years], 3)
        old_s, old_cpu = _median_cpu(
            lambda: [y.write_parquet(io.BytesIO(), compression="zstd") for y in years], 3
        )
        results.update(
            import_part_serialise_s=round(new_s, 4),
            import_part_serialise_cpu_s=round(new_cpu, 4),
            reference_old_serialise_s=round(old_s, 4),
            reference_old_serialise_cpu_s=round(old_cpu, 4),
        )
    results.update(
        parse_csv_s=round(parse_s, 4),
        parse_zip_s=round(parse_zip_s, 4),
        import_s=round(import_s, 4),
        parse_rows_per_s=round(n_rows / parse_s),
        import_rows_per_s=round(n_rows / import_s),
    )

    frame = bars.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))
    results["resample_1m_to_1h_s"] = round(_median(lambda: resample_bars(frame, "1m", "1h"), 5), 4)
    results["check_bars_1m_s"] = round(_median(lambda: check_bars(frame, "1m"), 5), 4)

    trades = _synthetic_trades(n_trades)
    threshold = float((trades["price"] * trades["qty"]).sum()) / 5_000.0  # ~5,000 bars
    dollar_bars(trades.head(1000), threshold)  # JIT warm-up (cached after the first run)
    results["dollar_bars_s"] = round(_median(lambda: dollar_bars(trades, threshold), 5), 4)
    results["dollar_bars_trades_per_s"] = round(n_trades / float(results["dollar_bars_s"]))
    results["dollar_bars_data"] = "synthetic (seeded random walk)"

    results["load_avg_after"] = _load()
    print(json.dumps(results))
    print(f"{'measure':<30}{'median':>14}{'throughput':>22}")
    print(f"{'parse dump CSV':<30}{parse_s:>13.3f}s{n_rows / parse_s:>16,.0f} rows/s")
    print(f"{'parse dump zip':<30}{parse_zip_s:>13.3f}s{n_rows / parse_zip_s:>16,.0f} rows/s")
    print(f"{'import (parse+check+write)':<30}{import_s:>13.3f}s{n_rows / import_s:>16,.0f} rows/s")
    for part in ("check", "write", "serialise"):
        sec = float(results[f"import_part_{part}_s"])
        print(f"{'  of which ' + part:<30}{sec:>13.3f}s{n_rows / sec:>16,.0f} rows/s")
    sec = float(results["reference_old_serialise_s"])
    print(f"{'  old serialise (reference)':<30}{sec:>13.3f}s{n_rows / sec:>16,.0f} rows/s")
    print(
        f"cpu s: import {results['import_cpu_s']}, parse {results['parse_csv_cpu_s']}, serialise "
        f"{results['import_part_serialise_cpu_s']} (old {results['reference_old_serialise_cpu_s']})"
        f"; load {results['load_avg_before']} -> {results['load_avg_after']}"
    )
    rs = float(results["resample_1m_to_1h_s"])
    print(f"{'resample 1m -> 1h':<30}{rs:>13.3f}s{n_rows / rs:>16,.0f} rows/s")
    cs = float(results["check_bars_1m_s"])
    print(f"{'check_bars 1m':<30}{cs:>13.3f}s{n_rows / cs:>16,.0f} rows/s")
    ds = float(results["dollar_bars_s"])
    print(f"{'dollar bars (synthetic)':<30}{ds:>13.3f}s{n_trades / ds:>14,.0f} trades/s")


if __name__ == "__main__":
    main()
