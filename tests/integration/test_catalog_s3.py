"""The catalog on S3-compatible storage: a real moto S3 server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import polars as pl
import pytest
from moto.server import ThreadedMotoServer

from quantforge.data.catalog import Catalog
from quantforge.errors import NotFoundError

H = 3_600_000
CREDS = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"qf-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def keys(endpoint: str, bucket: str) -> dict[str, str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return {o["Key"]: o["ETag"] for o in listing.get("Contents", [])}


def make_bars(start: datetime, n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1000)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    return pl.DataFrame(
        {
            "open_time": pl.Series(t0 + H * np.arange(n), dtype=pl.Int64).cast(
                pl.Datetime("ms", "UTC")
            ),
            "open": close - 0.1,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": rng.uniform(1, 5, n),
            "trades": rng.integers(1, 50, n),
        }
    )


def test_s3_round_trip_merge_and_layout(s3_endpoint: str, bucket: str) -> None:
    opts = {"client_kwargs": {"endpoint_url": s3_endpoint}, **CREDS}
    cat = Catalog(f"s3://{bucket}/cat", storage_options=opts)
    a = make_bars(datetime(2023, 12, 31, 12, tzinfo=UTC), 48, seed=1)
    report = cat.write_bars(a, symbol="BTCUSDT", interval="1h")
    assert report.rows_new == 48
    assert sorted(keys(s3_endpoint, bucket)) == [
        "cat/exchange=binance/symbol=BTCUSDT/interval=1h/year=2023/data.parquet",
        "cat/exchange=binance/symbol=BTCUSDT/interval=1h/year=2024/data.parquet",
    ]
    assert cat.read_bars("BTCUSDT", "1h").equals(a)
    # overlapping import: incoming wins, no duplicates; only the touched partition is rewritten
    b = make_bars(datetime(2024, 1, 2, 6, tzinfo=UTC), 10, seed=2)
    etags = keys(s3_endpoint, bucket)
    report = cat.write_bars(b, symbol="BTCUSDT", interval="1h")
    assert (report.rows_new, report.rows_total) == (4, 52)
    after = keys(s3_endpoint, bucket)
    k23 = "cat/exchange=binance/symbol=BTCUSDT/interval=1h/year=2023/data.parquet"
    assert after[k23] == etags[k23]
    out = cat.read_bars("BTCUSDT", "1h")
    assert out.height == 52
    assert out.filter(pl.col("open_time") >= b["open_time"][0]).head(10).equals(b)
    # time filter across the year boundary, start inclusive / end exclusive
    part = cat.read_bars("BTCUSDT", "1h", start="2023-12-31T22:00", end="2024-01-01T01:00")
    assert part["open_time"].to_list() == [
        datetime(2023, 12, 31, 22, tzinfo=UTC) + timedelta(hours=i) for i in range(3)
    ]
    # same rows again: nothing rewritten (ETags unchanged), no temp objects ever visible
    cat.write_bars(b, symbol="BTCUSDT", interval="1h")
    assert keys(s3_endpoint, bucket) == after
    assert all(k.endswith("/data.parquet") for k in after)
    assert cat.last_time("BTCUSDT", "1h") == datetime(2024, 1, 2, 15, tzinfo=UTC)
    (info,) = cat.datasets()
    assert (info.rows, info.gaps, info.first) == (52, 0, a["open_time"][0])
    with pytest.raises(NotFoundError, match="did you mean 'BTCUSDT'"):
        cat.read_bars("BTCUSDX", "1h")


def test_s3_endpoint_from_env_and_fresh_listings(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    reader = Catalog(f"s3://{bucket}/x")
    assert reader.datasets() == []
    writer = Catalog(f"s3://{bucket}/x/")
    writer.write_bars(
        make_bars(datetime(2024, 5, 1, tzinfo=UTC), 5), symbol="ETHUSDT", interval="1h"
    )
    # a catalog opened before the write sees it (listings are not cached)
    assert [d.symbol for d in reader.datasets()] == ["ETHUSDT"]
    assert reader.read_bars("ETHUSDT", "1h").height == 5


def test_s3_shared_data_round_trip(s3_endpoint: str, bucket: str, shared_data) -> None:
    eth = pl.read_parquet(shared_data / "ETHUSDT-1h.parquet")
    opts = {"client_kwargs": {"endpoint_url": s3_endpoint}, **CREDS}
    cat = Catalog(f"s3://{bucket}", storage_options=opts)
    cat.write_bars(eth, symbol="ETHUSDT", interval="1h")
    (info,) = cat.datasets()
    assert (info.rows, info.gaps, info.gap_runs, info.largest_gap) == (
        43_985,
        14,
        7,
        timedelta(hours=4),
    )
    out = cat.read_bars("ETHUSDT", "1h", start="2025-01-01", end="2025-02-01")
    assert out.height == 31 * 24
