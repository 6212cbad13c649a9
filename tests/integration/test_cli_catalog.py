"""`quantforge data list` / `data sync` through CliRunner, and the sync logic against a real
loopback Binance fake (tests/fakes/binance_server.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from tests.fakes.binance_server import FakeBinance, ms, synthetic_bar
from typer.testing import CliRunner

from quantforge.cli import app
from quantforge.data.catalog import Catalog
from quantforge.data.sources.binance import BinanceClient
from quantforge.data.sync import bar_floor, load_sync_config, next_open, sync_klines
from quantforge.errors import ConfigError

H = 3_600_000
Q = 900_000
NOW = ms("2024-03-01T10:07:30")
LISTED = ms("2024-02-28T00:00:00")


def run(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result


def expected_bars(symbol: str, interval: str, step: int, first: int, stop: int) -> pl.DataFrame:
    """The fake's own synthetic rows for [first, stop), as the catalog should hold them."""
    rows = [synthetic_bar(symbol, interval, t, t + step - 1) for t in range(first, stop, step)]
    frame = pl.DataFrame(
        {
            "open_time": [r[0] for r in rows],
            "open": [float(r[1]) for r in rows],
            "high": [float(r[2]) for r in rows],
            "low": [float(r[3]) for r in rows],
            "close": [float(r[4]) for r in rows],
            "volume": [float(r[5]) for r in rows],
            "quote_volume": [float(r[7]) for r in rows],
            "trades": [int(r[8]) for r in rows],
            "taker_buy_base": [float(r[9]) for r in rows],
            "taker_buy_quote": [float(r[10]) for r in rows],
        }
    )
    return frame.with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


@pytest.fixture
def fake():
    with FakeBinance(now_ms=NOW) as server:
        server.add_symbol("BTCUSDT", LISTED)
        server.add_symbol(
            "ETHUSDT", LISTED, gaps=[(ms("2024-02-29T03:00"), ms("2024-02-29T05:00"))]
        )
        yield server


def test_bar_floor_and_next_open() -> None:
    t = datetime(2024, 5, 17, 10, 7, 31, 500_000, tzinfo=UTC)
    assert bar_floor(t, "1m") == datetime(2024, 5, 17, 10, 7, tzinfo=UTC)
    assert bar_floor(t, "15m") == datetime(2024, 5, 17, 10, 0, tzinfo=UTC)
    assert bar_floor(t, "4h") == datetime(2024, 5, 17, 8, tzinfo=UTC)
    assert bar_floor(t, "1d") == datetime(2024, 5, 17, tzinfo=UTC)
    assert bar_floor(t, "1w") == datetime(2024, 5, 13, tzinfo=UTC)  # a Monday
    assert bar_floor(t, "1M") == datetime(2024, 5, 1, tzinfo=UTC)
    assert next_open(datetime(2024, 12, 1, tzinfo=UTC), "1M") == datetime(2025, 1, 1, tzinfo=UTC)
    assert next_open(datetime(2024, 1, 31, 23, tzinfo=UTC), "1h") == datetime(
        2024, 2, 1, tzinfo=UTC
    )


def test_sync_fetches_only_new_closed_bars(tmp_path: Path, fake: FakeBinance) -> None:
    cat = Catalog(tmp_path / "cat")
    since = datetime(2024, 2, 29, tzinfo=UTC)
    now = datetime.fromtimestamp(NOW / 1000, tz=UTC)
    with BinanceClient(fake.url) as client:
        first = sync_klines(cat, client, ["btcusdt"], ["1h", "15m"], now=now, since=since)
        # 2024-02-29 00:00 .. 2024-03-01 09:00 (10:00 is still forming at 10:07:30)
        assert [(r.interval, r.rows_fetched, r.rows_new, r.error) for r in first] == [
            ("1h", 34, 34, None),
            ("15m", 136, 136, None),
        ]
        assert first[0].last == datetime(2024, 3, 1, 9, tzinfo=UTC)
        start_ms = ms("2024-02-29T00:00")
        assert cat.read_bars("BTCUSDT", "1h").equals(
            expected_bars("BTCUSDT", "1h", H, start_ms, ms("2024-03-01T10:00"))
        )
        assert cat.read_bars("BTCUSDT", "15m").equals(
            expected_bars("BTCUSDT", "15m", Q, start_ms, ms("2024-03-01T10:00"))
        )
        # nothing closed since: no request at all
        before = len(fake.requests_to("/api/v3/klines"))
        again = sync_klines(cat, client, ["BTCUSDT"], ["1h", "15m"], now=now)
        assert [(r.start, r.rows_new) for r in again] == [(None, 0), (None, 0)]
        assert len(fake.requests_to("/api/v3/klines")) == before
        # two hours later: exactly the bars that closed in between, asked from last + interval
        fake.now_ms = NOW + 2 * H
        later = sync_klines(cat, client, ["BTCUSDT"], ["1h", "15m"], now=now + timedelta(hours=2))
        assert [(r.rows_fetched, r.rows_new) for r in later] == [(2, 2), (8, 8)]
        asked = fake.requests_to("/api/v3/klines")[before:]
        assert int(asked[0].params["startTime"]) == ms("2024-03-01T10:00")
        assert int(asked[1].params["startTime"]) == ms("2024-03-01T10:00")
        assert cat.read_bars("BTCUSDT", "1h").height == 36
        (info_1h,) = [d for d in cat.datasets() if d.interval == "1h"]
        assert (info_1h.gaps, info_1h.last) == (0, datetime(2024, 3, 1, 11, tzinfo=UTC))


def test_sync_keeps_going_after_a_failed_symbol(tmp_path: Path, fake: FakeBinance) -> None:
    cat = Catalog(tmp_path / "cat")
    now = datetime.fromtimestamp(NOW / 1000, tz=UTC)
    with BinanceClient(fake.url, max_retries=0) as client:
        results = sync_klines(
            cat, client, ["NOPEUSDT", "ETHUSDT"], ["1h"], now=now, since=datetime(2024, 2, 29)
        )
    assert results[0].error is not None
    assert "NOPEUSDT" in results[0].error or "symbol" in results[0].error.lower()
    # the maintenance gap (03:00, 04:00) is served as missing bars and reported, not invented
    assert (results[1].rows_new, results[1].error) == (32, None)
    (info,) = cat.datasets()
    assert (info.symbol, info.gaps, info.gap_runs) == ("ETHUSDT", 2, 1)


def test_sync_empty_dataset_needs_since(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")

    class Unused:
        def fetch_klines(self, *args, **kwargs):
            raise AssertionError("must not be called")

    with pytest.raises(ConfigError, match="--since"):
        sync_klines(cat, Unused(), ["BTCUSDT"], ["1m"], now=datetime.now(UTC))


def test_load_sync_config_toml_yaml_and_errors(tmp_path: Path) -> None:
    toml = tmp_path / "sync.toml"
    toml.write_text(
        'symbols = ["btcusdt", "ETHUSDT"]\nintervals = ["1m", "1mo"]\nsince = "2024-01-01"\n'
    )
    cfg = load_sync_config(toml)
    assert cfg.symbols == ["BTCUSDT", "ETHUSDT"]
    assert cfg.intervals == ["1m", "1M"]
    assert cfg.since == datetime(2024, 1, 1, tzinfo=UTC)
    yml = tmp_path / "sync.yaml"
    yml.write_text("symbols: [SOLUSDT]\nintervals: [15m]\ncatalog: s3://bucket/cat\n")
    assert load_sync_config(yml).catalog == "s3://bucket/cat"
    bad = tmp_path / "bad.toml"
    bad.write_text('symbols = ["BTCUSDT"]\nintervals = ["1x"]\nsymbol = "oops"\n')
    with pytest.raises(ConfigError, match="intervals") as info:
        load_sync_config(bad)
    assert "symbol" in str(info.value)
    (tmp_path / "broken.toml").write_text("symbols = [")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_sync_config(tmp_path / "broken.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_sync_config(tmp_path / "absent.toml")


def test_cli_list_empty_and_filled(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    result = run("data", "list", "--catalog", str(root))
    assert result.exit_code == 0, result.output
    assert "holds no data yet" in result.output
    t0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    hours = [h for h in range(48) if h not in (5, 6, 7, 30)]
    bars = pl.DataFrame(
        {
            "open_time": [t0 + h * H for h in hours],
            **{c: [1.0] * len(hours) for c in ("open", "high", "low", "close", "volume")},
        }
    )
    Catalog(root).write_bars(bars, symbol="ETHUSDT", interval="1h")
    result = run("data", "list", "--catalog", str(root))
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "ETHUSDT" in line)
    cells = [c.strip() for c in row.strip("│┃| ").split("│")]
    assert cells == [
        "binance",
        "ETHUSDT",
        "1h",
        "2024-01-01 00:00",
        "2024-01-02 23:00",
        "44",
        "4",
        "2",
        "3h",
    ]


def test_cli_sync_then_list(tmp_path: Path, fake: FakeBinance) -> None:
    root = tmp_path / "cat"
    args = ["data", "sync", "--symbols", "BTCUSDT", "--intervals", "1h", "--catalog", str(root)]
    result = run(*args, "--since", "2024-03-01", "--base-url", fake.url)
    assert result.exit_code == 0, result.output
    assert "10 new bar(s) in 1 dataset(s)" in result.output
    # the same via a config file; nothing new, so nothing added
    config = tmp_path / "sync.toml"
    config.write_text(f'symbols = ["BTCUSDT"]\nintervals = ["1h"]\nbase_url = "{fake.url}"\n')
    result = run("data", "sync", "--config", str(config), "--catalog", str(root))
    assert result.exit_code == 0, result.output
    assert "0 new bar(s)" in result.output
    listing = run("data", "list", "--catalog", str(root))
    assert "2024-03-01 09:00" in listing.output


def test_cli_sync_usage_errors(tmp_path: Path, fake: FakeBinance) -> None:
    result = run("data", "sync", "--catalog", str(tmp_path / "c"))
    assert isinstance(result.exception, ConfigError)
    result = run(
        "data", "sync", "--symbols", "BTCUSDT", "--intervals", "1h",
        "--catalog", str(tmp_path / "c"), "--base-url", fake.url,
    )  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert "--since" in str(result.exception)
    result = run(
        "data", "sync", "--symbols", "NOPE", "--intervals", "1h", "--since", "2024-03-01",
        "--catalog", str(tmp_path / "c"), "--base-url", fake.url,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "failed" in result.output
