"""`quantforge data fetch` end to end: CliRunner/subprocess → loopback fake → tmp catalog."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from tests.fakes.binance_server import FakeBinance, ms, synthetic_bar
from typer.testing import CliRunner, Result

from quantforge.cli import app
from quantforge.data.catalog import Catalog
from quantforge.errors import ConfigError, InvalidSymbolError

NOW = ms("2024-06-01T12:34:56.789")
AGG_BODY = "fixtures/rest/api_v3_aggTrades.XRPETH.first1000.2019-10-11.json"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
    )


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(now_ms=NOW) as server:
        server.add_symbol("BTCUSDT", first_open=ms("2017-08-17T04:00"))
        yield server


def test_fetch_bars_into_catalog(fake: FakeBinance, tmp_path: Path) -> None:
    cat_dir = str(tmp_path / "cat")
    args = ["data", "fetch", "btcusdt", "--interval", "15m", "--start", "2024-01-01"]
    result = run(*args, "--end", "2024-03-01", "--catalog", cat_dir, "--base-url", fake.url)
    assert result.exit_code == 0, result.output
    assert (
        "BTCUSDT 15m: fetched 5,760 bars (5,760 new, 5,760 in catalog) "
        "2024-01-01 00:00 → 2024-02-29 23:45 UTC"
    ) in result.output
    assert len(fake.requests) == 6

    bars = Catalog(cat_dir).read_bars("BTCUSDT", "15m")
    assert bars.height == 5760
    assert bars["open_time"][0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert bars["open_time"][-1] == datetime(2024, 2, 29, 23, 45, tzinfo=UTC)
    t = ms("2024-02-10T07:30")
    ref = synthetic_bar("BTCUSDT", "15m", t, t + 900_000 - 1)
    row = bars.filter(pl.col("open_time") == datetime(2024, 2, 10, 7, 30, tzinfo=UTC)).row(
        0, named=True
    )
    assert (row["open"], row["close"], row["trades"]) == (float(ref[1]), float(ref[4]), ref[8])

    # overlapping re-run: only the new day is new; the base URL comes from the environment
    result = run(
        *args[:-1],
        "2024-02-15",
        "--end",
        "2024-03-02",
        "--catalog",
        cat_dir,
        env={"QUANTFORGE_BINANCE_BASE_URL": fake.url},
    )
    assert result.exit_code == 0, result.output
    assert "fetched 1,536 bars (96 new, 5,856 in catalog)" in result.output
    assert Catalog(cat_dir).read_bars("BTCUSDT", "15m")["open_time"].is_unique().all()


def test_fetch_up_to_now_stores_only_closed_bars(fake: FakeBinance, tmp_path: Path) -> None:
    cat_dir = str(tmp_path / "cat")
    result = run(
        "data", "fetch", "BTCUSDT", "-i", "1h", "--start", "2024-06-01",
        "--catalog", cat_dir, "--base-url", fake.url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bars = Catalog(cat_dir).read_bars("BTCUSDT", "1h")
    assert bars.height == 12  # 12:00 is still forming at the server's 12:34:56
    assert bars["open_time"][-1] == datetime(2024, 6, 1, 11, tzinfo=UTC)


def test_fetch_agg_trades(shared_data: Path, tmp_path: Path) -> None:
    body_path = shared_data / AGG_BODY
    body = json.loads(body_path.read_text())
    cat_dir = str(tmp_path / "cat")
    start = datetime.fromtimestamp(body[0]["T"] / 1000, tz=UTC).isoformat()
    end = datetime.fromtimestamp((body[-1]["T"] + 1) / 1000, tz=UTC).isoformat()
    with FakeBinance() as fake:
        fake.add_agg_trades("XRPETH", body)
        result = run(
            "data", "fetch", "XRPETH", "--trades", "--start", start, "--end", end,
            "--catalog", cat_dir, "--base-url", fake.url,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "XRPETH aggTrades: fetched 1,000 trades (1,000 new, 1,000 in catalog)" in result.output
    stored = Catalog(cat_dir).read_trades("XRPETH", kind="aggTrades")
    assert stored["trade_id"].to_list() == [t["a"] for t in body]
    assert stored["price"].to_list() == [float(t["p"]) for t in body]


def test_fetch_from_public_dumps(shared_data: Path, tmp_path: Path) -> None:
    csv = shared_data / "fixtures/public-data/spot/BTCUSDT-1m-2023-03-24.csv"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(csv.name, csv.read_bytes())
    content = buffer.getvalue()
    path = "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-03-24.zip"
    cat_dir, keep = str(tmp_path / "cat"), tmp_path / "zips"
    with FakeBinance() as fake:
        fake.add_file(path, content)
        digest = hashlib.sha256(content).hexdigest()
        fake.add_file(path + ".CHECKSUM", f"{digest}  BTCUSDT-1m-2023-03-24.zip\n".encode())
        result = run(
            "data", "fetch", "BTCUSDT", "-i", "1m", "--start", "2023-03-23T12:00",
            "--end", "2023-03-24T18:00", "--source", "dumps", "--data-url", fake.url,
            "--keep-dumps", str(keep), "--catalog", cat_dir,
        )  # fmt: skip
        asked = [r.path for r in fake.requests]
    assert result.exit_code == 0, result.output
    # 2023-03-23 is not served (404, skipped); 2023-03-24 00:00–17:59 minus the 12:40–13:59 halt
    assert "fetched 1,000 bars (1,000 new, 1,000 in catalog)" in result.output
    assert "2023-03-24 00:00 → 2023-03-24 17:59 UTC" in result.output
    assert asked[0].endswith("BTCUSDT-1m-2023-03-23.zip.CHECKSUM")
    assert (keep / "BTCUSDT-1m-2023-03-24.zip").is_file()


def test_fetch_agg_trades_from_public_dumps(shared_data: Path, tmp_path: Path) -> None:
    # an aggTrades dump (spot layout: a,p,q,f,l,T,m,M; no header) made from the real REST body
    body = json.loads(
        (
            shared_data / "fixtures/rest/api_v3_aggTrades.XRPETH.first1000.2019-10-11.json"
        ).read_text()
    )
    lines = [
        f"{t['a']},{t['p']},{t['q']},{t['f']},{t['l']},{t['T']},{t['m']},{t['M']}" for t in body
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("XRPETH-aggTrades-2019-10-11.csv", "\n".join(lines) + "\n")
    content = buffer.getvalue()
    path = "/data/spot/daily/aggTrades/XRPETH/XRPETH-aggTrades-2019-10-11.zip"
    cat_dir = str(tmp_path / "cat")
    with FakeBinance() as fake:
        fake.add_file(path, content)
        digest = hashlib.sha256(content).hexdigest()
        fake.add_file(path + ".CHECKSUM", f"{digest}  XRPETH-aggTrades-2019-10-11.zip\n".encode())
        result = run(
            "data", "fetch", "XRPETH", "--trades", "--start", "2019-10-11", "--end", "2019-10-12",
            "--source", "dumps", "--data-url", fake.url, "--catalog", cat_dir,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "XRPETH aggTrades: fetched 1,000 trades (1,000 new" in result.output
    stored = Catalog(cat_dir).read_trades("XRPETH", kind="aggTrades")
    assert stored["trade_id"].to_list() == [t["a"] for t in body]
    assert stored["is_buyer_maker"].to_list() == [t["m"] for t in body]


def test_usage_errors(fake: FakeBinance, tmp_path: Path) -> None:
    base = ["data", "fetch", "BTCUSDT", "--start", "2024-01-01", "--catalog", str(tmp_path)]
    neither = run(*base, "--base-url", fake.url)
    assert isinstance(neither.exception, ConfigError)
    assert "--interval 15m" in str(neither.exception)
    both = run(*base, "-i", "1m", "--trades", "--base-url", fake.url)
    assert isinstance(both.exception, ConfigError)
    backwards = run(*base, "-i", "1m", "--end", "2023-01-01", "--base-url", fake.url)
    assert isinstance(backwards.exception, ConfigError)
    assert fake.requests == []


def test_unknown_symbol_is_a_clear_error(fake: FakeBinance, tmp_path: Path) -> None:
    result = run(
        "data", "fetch", "NOPEUSDT", "-i", "1m", "--start", "2024-01-01", "--end", "2024-01-02",
        "--catalog", str(tmp_path), "--base-url", fake.url,
    )  # fmt: skip
    assert isinstance(result.exception, InvalidSymbolError)
    assert len(fake.requests) == 1


def test_main_turns_errors_into_message_and_exit_code(fake: FakeBinance, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    proc = subprocess.run(
        [
            sys.executable, "-c", "from quantforge.cli import main; main()",
            "data", "fetch", "NOPEUSDT", "-i", "1m", "--start", "2024-01-01",
            "--end", "2024-01-02", "--catalog", str(tmp_path), "--base-url", fake.url,
        ],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "error:" in proc.stderr
    assert "NOPEUSDT" in proc.stderr
    assert "Traceback" not in proc.stderr
