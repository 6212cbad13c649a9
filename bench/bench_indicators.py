"""Throughput of every indicator on ~1M bars, quantforge vs TA-Lib (median of several runs).

Usage::

    .venv/bin/python bench/bench_indicators.py [--bars 1000000] [--runs 5] [--json out.json]

Data: the first ``--bars`` rows of ../shared/data/BTCUSDT-1m.parquet (real Binance 1m bars);
a seeded random walk when that file is absent (reported in the JSON as ``"data"``). JIT
compilation happens before timing. Prints a table and writes/prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import quantforge.indicators as qi
from quantforge.indicators.cache import IndicatorCache
from quantforge.indicators.mtf import mtf_indicator

try:
    import talib
except ImportError:  # pragma: no cover - TA-Lib is a dev dependency
    talib = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[1]
SMA_TYPE = talib.MA_Type.SMA if talib is not None else 0  # type: ignore[attr-defined]


def load(n: int) -> tuple[dict[str, np.ndarray], pl.DataFrame, str]:
    env = os.environ.get("QUANTFORGE_SHARED_DATA")
    folder = Path(env) if env else REPO.parent / "shared" / "data"
    path = folder / "BTCUSDT-1m.parquet"
    if path.is_file():
        frame = pl.scan_parquet(path).head(n).collect()
        source = f"BTCUSDT-1m.parquet first {frame.height} rows"
    else:
        rng = np.random.default_rng(7)
        close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
        spread = np.abs(rng.normal(0.0, 5.0, n))
        frame = pl.DataFrame(
            {
                "open_time": np.arange(n, dtype=np.int64) * 60_000 + 1_700_000_000_000,
                "open": close,
                "high": close + spread,
                "low": close - spread,
                "close": close,
                "volume": rng.uniform(1.0, 50.0, n),
            }
        )
        source = f"seeded random walk, {n} rows (real data not found)"
    arrays = {k: np.ascontiguousarray(frame[k].to_numpy()) for k in OHLCV_KEYS}
    arrays["open_time"] = frame["open_time"].to_numpy()
    return arrays, frame, source


OHLCV_KEYS = ("open", "high", "low", "close", "volume")


def _maybe(fn: Callable[[], object]) -> Callable[[], object] | None:
    return fn if talib is not None else None


def cases(
    d: dict[str, np.ndarray],
) -> list[tuple[str, Callable[[], object], Callable[[], object] | None]]:
    h, lo, c, v, t = d["high"], d["low"], d["close"], d["volume"], d["open_time"]
    ta = talib
    return [
        ("sma(20)", lambda: qi.sma(c, 20), _maybe(lambda: ta.SMA(c, 20))),
        ("sma(200)", lambda: qi.sma(c, 200), _maybe(lambda: ta.SMA(c, 200))),
        ("ema(20)", lambda: qi.ema(c, 20), _maybe(lambda: ta.EMA(c, 20))),
        ("wma(20)", lambda: qi.wma(c, 20), _maybe(lambda: ta.WMA(c, 20))),
        ("rsi(14)", lambda: qi.rsi(c, 14), _maybe(lambda: ta.RSI(c, 14))),
        ("true_range", lambda: qi.true_range(h, lo, c), _maybe(lambda: ta.TRANGE(h, lo, c))),
        ("atr(14)", lambda: qi.atr(h, lo, c, 14), _maybe(lambda: ta.ATR(h, lo, c, 14))),
        (
            "bollinger_bands(20,2)",
            lambda: qi.bollinger_bands(c, 20),
            _maybe(lambda: ta.BBANDS(c, 20, 2.0, 2.0, SMA_TYPE)),
        ),
        ("macd(12,26,9)", lambda: qi.macd(c), _maybe(lambda: ta.MACD(c, 12, 26, 9))),
        (
            "stochastic(14,3,3)",
            lambda: qi.stochastic(h, lo, c),
            _maybe(lambda: ta.STOCH(h, lo, c, 14, 3, SMA_TYPE, 3, SMA_TYPE)),
        ),
        ("dmi(14) (+DI,-DI,ADX)", lambda: qi.dmi(h, lo, c, 14), None),
        ("adx(14)", lambda: qi.adx(h, lo, c, 14), _maybe(lambda: ta.ADX(h, lo, c, 14))),
        ("rolling_std(20)", lambda: qi.rolling_std(c, 20), _maybe(lambda: ta.STDDEV(c, 20, 1))),
        ("zscore(20)", lambda: qi.zscore(c, 20), None),
        (
            "linreg_slope(14)",
            lambda: qi.linreg_slope(c, 14),
            _maybe(lambda: ta.LINEARREG_SLOPE(c, 14)),
        ),
        ("roc(10)", lambda: qi.roc(c, 10), _maybe(lambda: ta.ROC(c, 10))),
        ("obv", lambda: qi.obv(c, v), _maybe(lambda: ta.OBV(c, v))),
        ("donchian(20)", lambda: qi.donchian(h, lo, 20), None),
        ("rolling_max(20)", lambda: qi.rolling_max(h, 20), _maybe(lambda: ta.MAX(h, 20))),
        ("rolling_vwap(20)", lambda: qi.rolling_vwap(c, v, 20), None),
        ("session_vwap(UTC day)", lambda: qi.session_vwap(c, v, open_time=t), None),
    ]


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # JIT / caches warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_times(
    ours: Callable[[], object], theirs: Callable[[], object] | None, runs: int
) -> tuple[list[float], list[float]]:
    """Time ours and TA-Lib alternately, so both see the same machine load."""
    ours()
    if theirs is not None:
        theirs()
    ours_t: list[float] = []
    theirs_t: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        ours()
        ours_t.append(time.perf_counter() - start)
        if theirs is not None:
            start = time.perf_counter()
            theirs()
            theirs_t.append(time.perf_counter() - start)
    return ours_t, theirs_t


def bench_sweep(frame: pl.DataFrame, runs: int) -> dict[str, Any]:
    """An EMA-cross grid (10 fast x 10 slow): with and without IndicatorCache."""
    close = frame["close"].to_numpy()
    fast, slow = range(5, 55, 5), range(60, 260, 20)

    def uncached() -> None:
        for f in fast:
            for s in slow:
                qi.ema(close, f)
                qi.ema(close, s)

    def cached() -> IndicatorCache:
        cache = IndicatorCache()
        for f in fast:
            for s in slow:
                cache.get("ema", {"period": f}, [close])
                cache.get("ema", {"period": s}, [close])
        return cache

    stats = cached()
    return {
        "grid": "ema cross 10 x 10",
        "uncached_s": median_time(uncached, runs),
        "cached_s": median_time(cached, runs),
        "misses": stats.misses,
        "hits": stats.hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    data, frame, source = load(args.bars)
    n = data["close"].shape[0]
    rows = []
    for name, ours, theirs in cases(data):
        ours_t, theirs_t = paired_times(ours, theirs or None, args.runs)
        ours_s = statistics.median(ours_t)
        talib_s = statistics.median(theirs_t) if theirs_t else None
        rows.append(
            {
                "indicator": name,
                "ours_ms": ours_s * 1e3,
                "ours_min_ms": min(ours_t) * 1e3,
                "ours_mbars_per_s": n / ours_s / 1e6,
                "talib_ms": None if talib_s is None else talib_s * 1e3,
                "talib_min_ms": min(theirs_t) * 1e3 if theirs_t else None,
                "ours_over_talib": None if talib_s is None else ours_s / talib_s,
            }
        )
    mtf_s = median_time(
        lambda: mtf_indicator(frame, "4h", ("ema", 20), base_interval="1m"), args.runs
    )
    result = {
        "bars": n,
        "runs": args.runs,
        "data": source,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "indicators": rows,
        "mtf_ema20_4h_ms": mtf_s * 1e3,
        "sweep": bench_sweep(frame, max(1, args.runs // 2)),
    }

    loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result["machine"]["loadavg_1m_at_end"] = loadavg
    print(
        f"{n:,} bars ({source}); median (min) of {args.runs} alternating runs; load {loadavg:.1f}"
    )
    header = (
        f"{'indicator':<24}{'ours ms':>9}{'(min)':>8}{'Mbar/s':>8}{'TA-Lib ms':>11}{'(min)':>8}"
    )
    print(header + f"{'ours/TA':>9}")
    for row in rows:
        ta_ms = "-" if row["talib_ms"] is None else f"{row['talib_ms']:.2f}"
        ta_min = "-" if row["talib_min_ms"] is None else f"{row['talib_min_ms']:.2f}"
        ratio = "-" if row["ours_over_talib"] is None else f"{row['ours_over_talib']:.2f}"
        print(
            f"{row['indicator']:<24}{row['ours_ms']:>9.2f}{row['ours_min_ms']:>8.2f}"
            f"{row['ours_mbars_per_s']:>8.1f}{ta_ms:>11}{ta_min:>8}{ratio:>9}"
        )
    sweep = result["sweep"]
    print(f"mtf ema(20) on 4h, aligned to 1m: {result['mtf_ema20_4h_ms']:.1f} ms")
    print(
        f"sweep {sweep['grid']}: uncached {sweep['uncached_s'] * 1e3:.1f} ms, cached "
        f"{sweep['cached_s'] * 1e3:.1f} ms ({sweep['misses']} misses, {sweep['hits']} hits)"
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
