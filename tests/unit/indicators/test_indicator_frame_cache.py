"""Frame helpers (spec / compute / with_indicators) and the IndicatorCache."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import quantforge.indicators as qi
from quantforge.errors import ConfigError
from quantforge.indicators.cache import IndicatorCache
from quantforge.indicators.frame import compute, spec, with_indicators
from quantforge.indicators.registry import REGISTRY, lookup


@pytest.fixture
def bars(rng: np.random.Generator) -> pl.DataFrame:
    n = 300
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    spread = rng.uniform(0.1, 1.0, n)
    return pl.DataFrame(
        {
            "open_time": pl.Series(np.arange(n, dtype=np.int64) * 900_000 + 80_000_000).cast(
                pl.Datetime("ms", "UTC")
            ),
            "open": close + rng.normal(0.0, 0.2, n),
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.uniform(1.0, 10.0, n),
            "trades": rng.integers(1, 100, n),
        }
    )


def test_with_indicators_adds_named_columns(bars: pl.DataFrame) -> None:
    out = with_indicators(
        bars,
        fast=("ema", 12),
        rsi=spec("rsi", period=14),
        bb=spec("bollinger_bands", 20, num_std_down=1.0),
        opened=spec("sma", 5, column="open"),
        vwap=("session_vwap",),
        d=("dmi", 10),
    )
    close = bars["close"].to_numpy()
    np.testing.assert_array_equal(out["fast"].to_numpy(), qi.ema(close, 12))
    np.testing.assert_array_equal(out["rsi"].to_numpy(), qi.rsi(close, 14))
    bb = qi.bollinger_bands(close, 20, 2.0, 1.0)
    np.testing.assert_array_equal(out["bb_upper"].to_numpy(), bb.upper)
    np.testing.assert_array_equal(out["bb_lower"].to_numpy(), bb.lower)
    np.testing.assert_array_equal(out["opened"].to_numpy(), qi.sma(bars["open"].to_numpy(), 5))
    h, lo, v = bars["high"].to_numpy(), bars["low"].to_numpy(), bars["volume"].to_numpy()
    ms = bars["open_time"].dt.epoch("ms").to_numpy()
    expected_vwap = qi.session_vwap(qi.typical_price(h, lo, close), v, open_time=ms)
    np.testing.assert_array_equal(out["vwap"].to_numpy(), expected_vwap)
    assert {"d_plus_di", "d_minus_di", "d_adx"} <= set(out.columns)
    assert out.columns[: len(bars.columns)] == bars.columns
    assert out.schema["fast"] == pl.Float64


def test_session_vwap_resets_at_utc_midnight_in_frames(bars: pl.DataFrame) -> None:
    vwap = compute(bars, ("session_vwap",))
    assert isinstance(vwap, np.ndarray)
    times = bars["open_time"]
    first_of_day = (times.dt.truncate("1d") != times.dt.truncate("1d").shift(1)).fill_null(True)
    tp = qi.typical_price(bars["high"], bars["low"], bars["close"])
    idx = np.flatnonzero(first_of_day.to_numpy())
    assert idx.shape[0] >= 3
    np.testing.assert_allclose(vwap[idx], tp[idx], rtol=1e-15)


def test_spec_canonicalises_parameters() -> None:
    assert spec("rsi") == spec("rsi", 14) == spec("rsi", period=14)
    assert spec("macd", 5).params == (("fast", 5), ("slow", 26), ("signal", 9))
    assert spec("atr", columns={"close": "mid"}).columns == ("high", "low", "mid")


def test_spec_errors_are_actionable() -> None:
    with pytest.raises(ConfigError, match=r"unknown indicator 'emma'.*Did you mean 'ema'"):
        spec("emma", 20)
    with pytest.raises(ConfigError, match=r"no parameter 'peroid'.*Did you mean 'period'"):
        spec("sma", peroid=3)
    with pytest.raises(ConfigError, match="bad parameters for sma"):
        spec("sma", 3, 4)
    with pytest.raises(ConfigError, match="use columns="):
        spec("atr", column="mid")
    with pytest.raises(ConfigError, match="no input 'price'"):
        spec("atr", columns={"price": "mid"})


def test_missing_or_bad_column(bars: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="no column 'mid'"):
        compute(bars, spec("sma", 3, column="mid"))
    with pytest.raises(ConfigError, match="need numeric columns"):
        compute(bars.with_columns(pl.lit("x").alias("close")), ("sma", 3))
    with pytest.raises(ConfigError, match="expected spec"):
        with_indicators(bars, x=["sma", 3])  # type: ignore[arg-type]


def test_every_registry_entry_computes_on_a_frame(bars: pl.DataFrame) -> None:
    for name, info in REGISTRY.items():
        result = (
            compute(bars, (name,))
            if name
            not in {
                "sma",
                "ema",
                "wma",
                "rolling_std",
                "zscore",
                "rolling_max",
                "rolling_min",
                "vwap",
            }
            else compute(bars, (name, 5))
        )
        outputs = (result,) if isinstance(result, np.ndarray) else tuple(result)
        assert len(outputs) == max(1, len(info.outputs)), name
        for arr in outputs:
            assert arr.shape == (bars.height,), name
            assert np.isfinite(arr[-1]), name


# ---------------------------------------------------------------- cache


def test_cache_hits_and_misses_in_a_sweep(bars: pl.DataFrame) -> None:
    cache = IndicatorCache()
    close = bars["close"].to_numpy()  # read-only view from polars
    assert not close.flags.writeable
    for fast in (5, 10, 20):
        for slow in (20, 50):
            cache.get("ema", {"period": fast}, [close])
            cache.get("ema", {"period": slow}, [close])
    # distinct: 5, 10, 20, 50 -> 4 misses out of 12 requests
    assert (cache.misses, cache.hits) == (4, 8)
    assert cache.fingerprints_computed == 1  # one read-only array object, hashed once
    assert len(cache) == 4
    assert cache.nbytes == 4 * close.nbytes


def test_cache_canonical_params_share_entries(bars: pl.DataFrame) -> None:
    cache = IndicatorCache()
    close = bars["close"].to_numpy()
    a = cache.get("rsi", {}, [close])
    b = cache.get("rsi", {"period": 14}, [close])
    assert a is b
    assert (cache.misses, cache.hits) == (1, 1)
    c = cache.get("rsi", {"period": 15}, [close])
    assert c is not a


def test_cache_results_are_read_only_and_correct(bars: pl.DataFrame) -> None:
    cache = IndicatorCache()
    close = bars["close"].to_numpy()
    out = cache.get("bollinger_bands", {"period": 10}, [close])
    assert isinstance(out, qi.BollingerBands)
    np.testing.assert_array_equal(out.middle, qi.sma(close, 10))
    with pytest.raises(ValueError, match="read-only"):
        out.upper[0] = 1.0


def test_cache_same_content_different_objects(bars: pl.DataFrame) -> None:
    cache = IndicatorCache()
    a = bars["close"].to_numpy()
    b = np.array(a)  # writable copy, same bytes
    cache.get("sma", {"period": 3}, [a])
    cache.get("sma", {"period": 3}, [b])
    assert (cache.misses, cache.hits) == (1, 1)
    # writable arrays are re-hashed every call, so in-place changes are seen
    b[-1] += 1.0
    fresh = cache.get("sma", {"period": 3}, [b])
    assert cache.misses == 2
    assert fresh[-1] == pytest.approx(qi.sma(b, 3)[-1])
    assert cache.fingerprints_computed == 3  # a once, b on each of its two calls


def test_cache_distinguishes_dtype_and_inputs() -> None:
    cache = IndicatorCache()
    f = np.arange(10, dtype=np.float64)
    i = np.arange(10, dtype=np.int64)  # same bytes? no, but same values: still another key
    cache.get("sma", {"period": 2}, [f])
    cache.get("sma", {"period": 2}, [i])
    assert cache.misses == 2
    with pytest.raises(ConfigError, match="takes 3 input arrays"):
        cache.get("atr", {}, [f])


def test_cache_lru_eviction_by_bytes() -> None:
    x = np.arange(1000, dtype=np.float64)
    x.flags.writeable = False
    one = x.nbytes  # 8000 bytes per single-output result
    cache = IndicatorCache(max_bytes=2 * one)
    cache.get("sma", {"period": 2}, [x])
    cache.get("sma", {"period": 3}, [x])
    cache.get("sma", {"period": 2}, [x])  # hit, now most recently used
    cache.get("sma", {"period": 4}, [x])  # evicts period 3 (least recently used)
    assert cache.evictions == 1
    assert cache.nbytes == 2 * one
    cache.get("sma", {"period": 2}, [x])
    assert (cache.misses, cache.hits) == (3, 2)
    cache.get("sma", {"period": 3}, [x])  # was evicted -> miss again
    assert cache.misses == 4
    # a result bigger than the whole budget is returned but not stored
    big = cache.get("bollinger_bands", {"period": 5}, [x])
    assert len(big) == 3
    assert cache.nbytes <= 2 * one
    cache.get("bollinger_bands", {"period": 5}, [x])
    assert cache.misses == 6


def test_cache_forgets_fingerprints_of_dead_arrays() -> None:
    cache = IndicatorCache()
    x = np.arange(50, dtype=np.float64)
    x.flags.writeable = False
    cache.get("sma", {"period": 2}, [x])
    assert len(cache._fingerprints) == 1
    del x
    assert len(cache._fingerprints) == 0
    cache.clear()
    assert len(cache) == 0
    assert cache.nbytes == 0


def test_cache_bad_budget() -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        IndicatorCache(max_bytes=-1)


def test_with_indicators_uses_the_cache(bars: pl.DataFrame) -> None:
    cache = IndicatorCache()
    with_indicators(bars, cache=cache, a=("ema", 5), b=("ema", 5), c=("atr", 5))
    assert (cache.misses, cache.hits) == (2, 1)
    # close is read once per call: 4 columns (close, high, low; close reused) hashed
    assert cache.fingerprints_computed == 3
    with_indicators(bars, cache=cache, a=("ema", 5))
    assert cache.hits == 2


def test_lookup_lists_known_names() -> None:
    with pytest.raises(ConfigError, match="known: adx, atr"):
        lookup("nope")


def test_package_exports_are_sorted_and_complete() -> None:
    import types

    assert qi.__all__ == sorted(qi.__all__)
    public = {
        name
        for name in dir(qi)
        if not name.startswith("_")
        and not isinstance(getattr(qi, name), types.ModuleType)
        and name != "annotations"
    }
    assert public == set(qi.__all__)


def test_canonical_params_fast_path_equals_full_binding() -> None:
    import inspect

    from quantforge.indicators.registry import REGISTRY

    def bound(info: object, kwargs: dict[str, object]) -> tuple[tuple[str, object], ...]:
        # the binding the fast path must agree with
        fn = info.function  # type: ignore[attr-defined]
        n = len(info.inputs)  # type: ignore[attr-defined]
        sig = inspect.signature(fn)
        b = sig.bind(*([None] * n), **kwargs)
        b.apply_defaults()
        names = list(sig.parameters)[n:]
        return tuple((k, b.arguments[k]) for k in names if k in b.arguments)

    for info in REGISTRY.values():
        names = list(inspect.signature(info.function).parameters)[len(info.inputs) :]
        for kwargs in ({}, {names[0]: 7} if names else {}):
            try:
                want = bound(info, kwargs)
            except TypeError:
                with pytest.raises(ConfigError):
                    info.canonical_params((), kwargs)
                continue
            assert info.canonical_params((), kwargs) == want, info.name
        with pytest.raises(ConfigError, match="no parameter"):
            info.canonical_params((), {"not_a_param": 1})
