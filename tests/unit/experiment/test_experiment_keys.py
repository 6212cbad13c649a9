"""Run keys and data fingerprints: stable across processes and hash seeds, sensitive to content."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantforge.errors import ConfigError, DataError
from quantforge.experiment.config import EngineSpec
from quantforge.experiment.keys import (
    canonical_json,
    data_fingerprint,
    git_revision,
    run_key,
    run_keyer,
)

REPO = Path(__file__).resolve().parents[3]
FINGERPRINT = "0123456789abcdef0123456789abcdef"


def bars(n: int = 500) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    return pl.DataFrame(
        {
            "open_time": pl.datetime_range(
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * (n - 1)),
                "15m",
                eager=True,
                time_unit="ms",
            ),
            "close": close,
            "volume": rng.uniform(1, 10, n),
            "trades": rng.integers(1, 100, n),
            "symbol": ["BTCUSDT"] * n,
        }
    )


# Computed in a fresh interpreter with another hash seed and compared with this process.
SCRIPT = """
import datetime as dt, json, sys
import numpy as np, polars as pl
sys.path.insert(0, {tests!r})
from test_experiment_keys import bars
from quantforge.experiment.config import EngineSpec
from quantforge.experiment.keys import data_fingerprint, run_key
frame = bars()
fp = data_fingerprint(frame)
key = run_key("ma_cross", {{"slow": 50, "fast": 5, "mode": "ema", "t": 0.1}}, EngineSpec(), fp)
print(json.dumps([fp, key]))
"""


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_keys_are_identical_in_another_process(seed: str) -> None:
    frame = bars()
    fp = data_fingerprint(frame)
    key = run_key("ma_cross", {"fast": 5, "slow": 50, "t": 0.1, "mode": "ema"}, EngineSpec(), fp)
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=str(Path(__file__).parent))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout) == [fp, key]


def test_run_key_canonicalises_and_discriminates() -> None:
    base = run_key("ma_cross", {"fast": 5, "slow": 50}, {"cash": 1e4}, FINGERPRINT, code="1")
    assert len(base) == 32
    assert int(base, 16) >= 0
    same = run_key(
        "ma_cross", {"slow": np.int64(50), "fast": 5}, {"cash": 10000.0}, FINGERPRINT, code="1"
    )
    assert same == base
    variants = [
        run_key("regime_ma_cross", {"fast": 5, "slow": 50}, {"cash": 1e4}, FINGERPRINT, code="1"),
        run_key("ma_cross", {"fast": 5, "slow": 60}, {"cash": 1e4}, FINGERPRINT, code="1"),
        run_key("ma_cross", {"fast": 5.0, "slow": 50}, {"cash": 1e4}, FINGERPRINT, code="1"),
        run_key("ma_cross", {"fast": 5, "slow": 50}, {"cash": 2e4}, FINGERPRINT, code="1"),
        run_key("ma_cross", {"fast": 5, "slow": 50}, {"cash": 1e4}, "f" * 32, code="1"),
        run_key("ma_cross", {"fast": 5, "slow": 50}, {"cash": 1e4}, FINGERPRINT, code="2"),
    ]
    assert len({base, *variants}) == 7


def test_engine_model_and_its_dump_give_the_same_key() -> None:
    spec = EngineSpec()
    assert run_key("s", {}, spec, FINGERPRINT) == run_key(
        "s", {}, spec.model_dump(mode="json"), FINGERPRINT
    )


def test_canonical_json() -> None:
    assert canonical_json({"b": [1, 2.5], "a": {"y": None, "x": True}}) == (
        '{"a":{"x":true,"y":null},"b":[1,2.5]}'
    )
    assert canonical_json(0.1 + 0.2) == "0.30000000000000004"  # shortest repr, not rounded
    with pytest.raises(ConfigError, match="finite"):
        canonical_json({"x": float("nan")})
    with pytest.raises(ConfigError, match=r"params\.w"):
        run_key("s", {"w": object()}, {}, FINGERPRINT)


def test_fingerprint_ignores_chunking_and_slicing_history() -> None:
    frame = bars()
    fp = data_fingerprint(frame)
    chunked = pl.concat([frame[:100], frame[100:250], frame[250:]], rechunk=False)
    assert chunked.n_chunks() == 3
    assert data_fingerprint(chunked) == fp
    padded = pl.concat([frame[:10], frame], rechunk=True)
    assert data_fingerprint(padded[10:]) == fp  # a slice with a non-zero offset


def test_fingerprint_sees_every_change() -> None:
    frame = bars()
    fp = data_fingerprint(frame)
    changed = [
        frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 321)
            .then(pl.col("close") + 1e-9)
            .otherwise(pl.col("close"))
            .alias("close")
        ),
        frame[:-1],
        frame[1:],
        frame.select(["close", "open_time", "volume", "trades", "symbol"]),
        frame.rename({"volume": "vol"}),
        frame.with_columns(pl.col("trades").cast(pl.Int32)),
        frame.with_columns(pl.col("symbol").str.replace("BTC", "ETH")),
        frame.with_columns(pl.col("open_time").dt.offset_by("1ms")),
    ]
    prints = {data_fingerprint(f) for f in changed}
    assert fp not in prints
    assert len(prints) == len(changed)


def test_fingerprint_of_selected_columns_and_nulls() -> None:
    frame = bars()
    assert data_fingerprint(frame, ["open_time", "close"]) == data_fingerprint(
        frame.select(["open_time", "close"])
    )
    assert data_fingerprint(frame, ["close"]) != data_fingerprint(frame, ["volume"])
    nulls = pl.DataFrame({"x": [1.0, None, 3.0]})
    nans = pl.DataFrame({"x": [1.0, float("nan"), 3.0]})
    zeros = pl.DataFrame({"x": [1.0, 0.0, 3.0]})
    assert len({data_fingerprint(f) for f in (nulls, nans, zeros)}) == 3
    flags = pl.DataFrame({"b": [True, None, False]})
    assert data_fingerprint(flags) != data_fingerprint(pl.DataFrame({"b": [True, False, False]}))
    with pytest.raises(DataError, match="not in the frame"):
        data_fingerprint(frame, ["nope"])
    with pytest.raises(DataError, match="cannot fingerprint column"):
        data_fingerprint(pl.DataFrame({"l": [[1], [2]]}))


def test_git_revision_of_this_checkout() -> None:
    revision = git_revision(REPO)
    if (REPO / ".git").exists():
        assert revision is not None
        assert len(revision) == 40
    assert git_revision("/") is None or len(git_revision("/") or "") == 40


def test_run_keyer_gives_run_keys_strings() -> None:
    engine = EngineSpec(fees={"maker": 0.001, "taker": 0.002}).model_dump(mode="json")
    engine["dates"] = [dt.date(2024, 1, 2), "é"]  # non-ASCII text and dates, as run_key sees them
    keyer = run_keyer(engine, "cd" * 16, code="9.9")
    rng = np.random.default_rng(5)
    for i in range(200):
        params = {
            "fast": int(rng.integers(1, 50)),
            "ratio": float(rng.random()),
            "ma_type": ["sma", "ema", "wma"][i % 3],
            "flag": bool(i % 2),
            "nested": {"b": [1, 2.5], "a": None},
        }
        strategy = "ma_cross" if i % 2 else "regime_ma_cross"
        assert keyer(strategy, params) == run_key(strategy, params, engine, "cd" * 16, code="9.9")
    with pytest.raises(ConfigError, match="finite"):
        keyer("ma_cross", {"fast": float("nan")})
