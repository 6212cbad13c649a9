"""The Lambda sync handler end to end: a real moto S3 server and the Binance fake, both on
127.0.0.1, with the handler configured through environment variables as in the SAM template."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import boto3
import polars as pl
import pytest
from moto.server import ThreadedMotoServer
from tests.fakes.binance_server import FakeBinance, ms, synthetic_bar

from quantforge.data.catalog import Catalog
from quantforge.data.lambda_handler import handler, job_from
from quantforge.errors import ConfigError, DataSourceError

H = 3_600_000
NOW = ms("2024-03-01T10:07:30")

# a scheduled EventBridge event as Lambda receives it
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2024-03-01T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/qf-Every15Minutes"],
    "detail": {},
}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    bucket = f"qf-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "QUANTFORGE_CATALOG_BUCKET": bucket,
        "QUANTFORGE_CATALOG_PREFIX": "catalog",
        "QUANTFORGE_SYMBOLS": "BTCUSDT,ETHUSDT",
        "QUANTFORGE_INTERVALS": "1h",
        "QUANTFORGE_SINCE": "2024-02-29",
        "QUANTFORGE_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QUANTFORGE_CATALOG", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with FakeBinance(now_ms=NOW) as fake:
        fake.add_symbol("BTCUSDT", ms("2024-01-01"))
        fake.add_symbol("ETHUSDT", ms("2024-01-01"))
        monkeypatch.setenv("QUANTFORGE_BINANCE_BASE_URL", fake.url)
        yield {"bucket": bucket, "endpoint": s3_endpoint, "fake": fake}


def object_keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_handler_syncs_into_s3_and_resumes(env) -> None:
    bucket, endpoint, fake = env["bucket"], env["endpoint"], env["fake"]
    summary = handler(SCHEDULED_EVENT, None)
    assert summary["catalog"] == f"s3://{bucket}/catalog"
    assert (summary["rows_new"], summary["errors"]) == (68, 0)
    assert [(r["symbol"], r["rows_new"], r["last"]) for r in summary["results"]] == [
        ("BTCUSDT", 34, "2024-03-01T09:00:00+00:00"),
        ("ETHUSDT", 34, "2024-03-01T09:00:00+00:00"),
    ]
    assert object_keys(endpoint, bucket) == [
        f"catalog/exchange=binance/symbol={s}/interval=1h/year=2024/data.parquet"
        for s in ("BTCUSDT", "ETHUSDT")
    ]
    cat = Catalog(f"s3://{bucket}/catalog")  # endpoint from AWS_ENDPOINT_URL
    bars = cat.read_bars("BTCUSDT", "1h")
    first = ms("2024-02-29")
    rows = [synthetic_bar("BTCUSDT", "1h", t, t + H - 1) for t in range(first, first + 34 * H, H)]
    assert bars["open_time"].dt.epoch("ms").to_list() == [r[0] for r in rows]
    assert bars["close"].to_list() == [float(r[4]) for r in rows]
    assert bars["trades"].to_list() == [r[8] for r in rows]
    assert bars.schema["open_time"] == pl.Datetime("ms", "UTC")
    # 15 minutes later nothing has closed on the 1h grid; an hour later one bar has
    fake.now_ms = NOW + 15 * 60_000
    assert handler(SCHEDULED_EVENT, None)["rows_new"] == 0
    fake.now_ms = NOW + H
    later = handler(SCHEDULED_EVENT, None)
    assert [r["rows_new"] for r in later["results"]] == [1, 1]
    assert cat.last_time("ETHUSDT", "1h") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    (btc, eth) = cat.datasets()
    assert (btc.rows, btc.gaps, eth.rows) == (35, 0, 35)


def test_event_overrides_environment(env) -> None:
    bucket = env["bucket"]
    event = {**SCHEDULED_EVENT, "detail": {"symbols": ["ETHUSDT"], "prefix": "other"}}
    summary = handler(event, None)
    assert [r["symbol"] for r in summary["results"]] == ["ETHUSDT"]
    assert object_keys(env["endpoint"], bucket) == [
        "other/exchange=binance/symbol=ETHUSDT/interval=1h/year=2024/data.parquet"
    ]


def test_failed_symbol_raises_after_syncing_the_rest(env) -> None:
    with pytest.raises(DataSourceError, match="NOPEUSDT 1h"):
        handler({"symbols": "NOPEUSDT,BTCUSDT"}, None)
    cat = Catalog(f"s3://{env['bucket']}/catalog")
    assert cat.read_bars("BTCUSDT", "1h").height == 34


def test_job_from_validates() -> None:
    with pytest.raises(ConfigError, match="QUANTFORGE_CATALOG"):
        job_from({}, {"QUANTFORGE_SYMBOLS": "BTCUSDT", "QUANTFORGE_INTERVALS": "1m"})
    with pytest.raises(ConfigError, match="QUANTFORGE_SYMBOLS"):
        job_from({}, {"QUANTFORGE_CATALOG": "s3://b/p"})
    with pytest.raises(ConfigError, match="intervals"):
        job_from({"intervals": "7x"}, {"QUANTFORGE_CATALOG": "s3://b/p", "QUANTFORGE_SYMBOLS": "A"})
    job = job_from(
        {"since": "2023-05-01"},
        {
            "QUANTFORGE_CATALOG_BUCKET": "bkt",
            "QUANTFORGE_CATALOG_PREFIX": "/data/cat/",
            "QUANTFORGE_SYMBOLS": " btcusdt , ethusdt ",
            "QUANTFORGE_INTERVALS": "1m,1mo",
        },
    )
    assert job.catalog == "s3://bkt/data/cat"
    assert job.symbols == ["BTCUSDT", "ETHUSDT"]
    assert job.intervals == ["1m", "1M"]
    assert job.since == datetime(2023, 5, 1, tzinfo=UTC)
