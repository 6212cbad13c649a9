"""Public-dump downloader against the loopback fake serving zips built from real dump CSVs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from tests.fakes.binance_server import FakeBinance, Scripted

from quantforge.data.sources.binance_public import (
    BinancePublicData,
    DumpSpec,
    dump_periods,
    plan_dumps,
)
from quantforge.errors import ChecksumError, ConfigError, DataSourceError, NotFoundError

SPOT = "fixtures/public-data/spot"
PATH_0324 = "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-03-24.zip"
PATH_0101 = "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip"


def zip_of(csv_path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(csv_path.name, csv_path.read_bytes())
    return buffer.getvalue()


def checksum_line(content: bytes, name: str) -> bytes:
    return f"{hashlib.sha256(content).hexdigest()}  {name}\n".encode()


@pytest.fixture
def fake(shared_data: Path) -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        for path in (PATH_0324, PATH_0101):
            name = path.rsplit("/", 1)[1]
            content = zip_of(shared_data / SPOT / name.replace(".zip", ".csv"))
            server.add_file(path, content)
            server.add_file(path + ".CHECKSUM", checksum_line(content, name))
        yield server


def dumps(fake: FakeBinance, **kwargs: object) -> BinancePublicData:
    return BinancePublicData(fake.url, backoff_initial_s=0.02, **kwargs)  # type: ignore[arg-type]


# -- URL layout ------------------------------------------------------------------------------
def test_urls_follow_the_data_binance_vision_layout() -> None:
    base = "https://data.binance.vision"
    cases = [
        (
            DumpSpec.create("btcusdt", "klines", "2021-01", interval="15m", frequency="monthly"),
            "/data/spot/monthly/klines/BTCUSDT/15m/BTCUSDT-15m-2021-01.zip",
        ),
        (
            DumpSpec.create("BTCUSDT", "klines", date(2024, 12, 31), interval="1m"),
            "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-12-31.zip",
        ),
        (
            DumpSpec.create("BTCUSDT", "klines", "2024-05-17", interval="1M", frequency="monthly"),
            "/data/spot/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2024-05.zip",
        ),
        (
            DumpSpec.create("ETHUSDT", "aggTrades", "2024-03-02"),
            "/data/spot/daily/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2024-03-02.zip",
        ),
        (
            DumpSpec.create("ETHUSDT", "trades", "2024-03", frequency="monthly"),
            "/data/spot/monthly/trades/ETHUSDT/ETHUSDT-trades-2024-03.zip",
        ),
        (
            DumpSpec.create(
                "FILUSDT",
                "klines",
                "2025-02",
                interval="1m",
                frequency="monthly",
                market="futures-um",
            ),
            "/data/futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-2025-02.zip",
        ),
        (
            DumpSpec.create("BTCUSDT", "aggTrades", "2025-02-03", market="futures-um"),
            "/data/futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-02-03.zip",
        ),
    ]
    for spec, path in cases:
        assert spec.url(base) == base + path
        assert spec.url(base + "/") == base + path


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "klines", "interval": "1w"}, "monthly only"),
        ({"kind": "klines", "interval": "1M"}, "monthly only"),
        ({"kind": "klines"}, "need an interval"),
        ({"kind": "klines", "interval": "7m"}, "no '7m'"),
        ({"kind": "trades", "interval": "1m"}, "no interval"),
        ({"kind": "bookTicker"}, "unknown dump kind"),
        ({"kind": "trades", "market": "options"}, "unknown market"),
    ],
)
def test_bad_specs_are_config_errors(kwargs: dict[str, str], message: str) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(ConfigError, match=message):
        DumpSpec.create("BTCUSDT", kind, "2024-01-01", **kwargs)  # type: ignore[arg-type]


def test_dump_periods() -> None:
    assert dump_periods("2024-02-27", "2024-03-02", "daily") == [
        date(2024, 2, 27),
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    assert dump_periods("2023-11-15", "2024-02-01", "monthly") == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
    ]


# -- downloads -------------------------------------------------------------------------------
def test_download_verifies_and_parses_real_dump(fake: FakeBinance, tmp_path: Path) -> None:
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    seen: list[tuple[int, int]] = []
    with dumps(fake) as client:
        dump = client.download(spec, tmp_path / "dl", progress=lambda d, t: seen.append((d, t)))
    assert dump.checksum_verified is True
    assert dump.kind == "klines"
    frame = dump.frame
    assert frame.height == 1360  # the 80-minute halt gap is kept as missing rows
    assert frame["open_time"][0] == datetime(2023, 3, 24, tzinfo=UTC)
    assert frame["open_time"][-1] == datetime(2023, 3, 24, 23, 59, tzinfo=UTC)
    assert frame["open"][0] == 28295.42
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        "BTCUSDT-1m-2023-03-24.zip",
        "BTCUSDT-1m-2023-03-24.zip.CHECKSUM",
    ]
    size = len(fake.files[PATH_0324])
    assert seen[-1] == (size, size)
    # checksum fetched first, then the zip
    assert [r.path for r in fake.requests] == [PATH_0324 + ".CHECKSUM", PATH_0324]


def test_microsecond_dump_is_normalised(fake: FakeBinance, tmp_path: Path) -> None:
    spec = DumpSpec.create("BTCUSDT", "klines", "2025-01-01", interval="1m")
    with dumps(fake) as client:
        dump = client.download(spec, tmp_path)
    assert dump.time_unit == "us"
    assert dump.frame.height == 1440
    assert dump.frame["open_time"][0] == datetime(2025, 1, 1, tzinfo=UTC)
    assert dump.frame["open"][0] == 93576.0


def test_verified_copy_is_not_downloaded_again(fake: FakeBinance, tmp_path: Path) -> None:
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    with dumps(fake) as client:
        client.download(spec, tmp_path)
        again = client.download(spec, tmp_path)
        forced = client.download(spec, tmp_path, overwrite=True)
    assert again.frame.equals(forced.frame)
    assert [r.path for r in fake.requests].count(PATH_0324) == 2  # first + overwrite


def test_wrong_checksum_raises_and_keeps_nothing(fake: FakeBinance, tmp_path: Path) -> None:
    wrong = "0" * 64
    fake.add_file(PATH_0324 + ".CHECKSUM", f"{wrong}  BTCUSDT-1m-2023-03-24.zip\n".encode())
    actual = hashlib.sha256(fake.files[PATH_0324]).hexdigest()
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    with dumps(fake) as client, pytest.raises(ChecksumError) as info:
        client.download(spec, tmp_path)
    text = str(info.value)
    assert "BTCUSDT-1m-2023-03-24.zip" in text
    assert wrong in text
    assert actual in text
    assert list(tmp_path.iterdir()) == []


def test_garbage_checksum_file_is_a_checksum_error(fake: FakeBinance, tmp_path: Path) -> None:
    fake.add_file(PATH_0324 + ".CHECKSUM", b"<html>oops</html>")
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    with dumps(fake) as client, pytest.raises(ChecksumError, match="SHA-256"):
        client.download(spec, tmp_path)


def test_unpublished_file_is_not_found(fake: FakeBinance, tmp_path: Path) -> None:
    spec = DumpSpec.create("BTCUSDT", "klines", "2030-01-01", interval="1m")
    with dumps(fake) as client, pytest.raises(NotFoundError, match="not published") as info:
        client.download(spec, tmp_path)
    assert "BTCUSDT-1m-2030-01-01.zip" in str(info.value)
    assert len(fake.requests) == 1  # no retry on 404, and no zip download
    assert list(tmp_path.iterdir()) == []


def test_missing_files_can_be_skipped(fake: FakeBinance, tmp_path: Path) -> None:
    specs = [
        DumpSpec.create("BTCUSDT", "klines", day, interval="1m")
        for day in dump_periods("2023-03-23", "2023-03-25", "daily")
    ]
    with dumps(fake) as client:
        got = list(client.iter_downloads(specs, tmp_path, skip_missing=True))
        with pytest.raises(NotFoundError):
            list(client.iter_downloads(specs, tmp_path))
    assert [d.frame.height for d in got] == [1360]


def test_server_errors_are_retried(fake: FakeBinance, tmp_path: Path) -> None:
    fake.script(PATH_0324, Scripted(503, b"busy"), Scripted(500, b"oops"))
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    with dumps(fake) as client:
        dump = client.download(spec, tmp_path)
    assert dump.frame.height == 1360
    assert [r.status for r in fake.requests if r.path == PATH_0324] == [503, 500, 200]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "BTCUSDT-1m-2023-03-24.zip",
        "BTCUSDT-1m-2023-03-24.zip.CHECKSUM",
    ]


def test_server_error_exhaustion(fake: FakeBinance, tmp_path: Path) -> None:
    fake.script(PATH_0324 + ".CHECKSUM", *[Scripted(502, b"bad gateway")] * 3)
    spec = DumpSpec.create("BTCUSDT", "klines", "2023-03-24", interval="1m")
    with dumps(fake, max_retries=2) as client, pytest.raises(DataSourceError, match="3 attempts"):
        client.download(spec, tmp_path)


# -- planning and ranges -----------------------------------------------------------------------
def test_plan_uses_monthly_files_for_whole_months() -> None:
    names = [
        s.file_name
        for s in plan_dumps("BTCUSDT", "klines", "2024-11-30", "2025-01-02", interval="1m")
    ]
    assert names == [
        "BTCUSDT-1m-2024-11-30.zip",
        "BTCUSDT-1m-2024-12.zip",
        "BTCUSDT-1m-2025-01-01.zip",
    ]
    whole = plan_dumps("ETHUSDT", "trades", "2024-01-01", "2024-03-01")
    assert [(s.frequency, s.period) for s in whole] == [
        ("monthly", date(2024, 1, 1)),
        ("monthly", date(2024, 2, 1)),
    ]
    weekly = plan_dumps("BTCUSDT", "klines", "2024-01-15", "2024-03-01", interval="1w")
    assert [s.file_name for s in weekly] == ["BTCUSDT-1w-2024-01.zip", "BTCUSDT-1w-2024-02.zip"]
    assert plan_dumps("BTCUSDT", "klines", "2024-01-01", "2024-01-01", interval="1m") == []


def test_download_range_mixes_monthly_and_daily(
    fake: FakeBinance, shared_data: Path, tmp_path: Path
) -> None:
    # a "monthly" file holding the one real December day we have
    monthly = "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-12.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        csv = (shared_data / SPOT / "BTCUSDT-1m-2024-12-31.csv").read_bytes()
        zf.writestr("BTCUSDT-1m-2024-12.csv", csv)
    fake.add_file(monthly, buffer.getvalue())
    fake.add_file(monthly + ".CHECKSUM", checksum_line(buffer.getvalue(), "BTCUSDT-1m-2024-12.zip"))
    specs = plan_dumps("BTCUSDT", "klines", "2024-11-30", "2025-01-02", interval="1m")
    seen: set[str] = set()
    with dumps(fake) as client:
        got = client.download_range(specs, tmp_path, progress=lambda n, d, t: seen.add(n))
    assert [d.frame.height for d in got] == [1440, 1440]  # 2024-11-30 is not served: skipped
    assert got[0].frame["open_time"][0] == datetime(2024, 12, 31, tzinfo=UTC)
    assert got[1].frame["open_time"][0] == datetime(2025, 1, 1, tzinfo=UTC)
    assert seen == {"BTCUSDT-1m-2024-12.zip", "BTCUSDT-1m-2025-01-01.zip"}


def test_unpublished_month_falls_back_to_daily_files(
    fake: FakeBinance, shared_data: Path, tmp_path: Path
) -> None:
    daily = "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-12-31.zip"
    content = zip_of(shared_data / SPOT / "BTCUSDT-1m-2024-12-31.csv")
    fake.add_file(daily, content)
    fake.add_file(daily + ".CHECKSUM", checksum_line(content, "BTCUSDT-1m-2024-12-31.zip"))
    specs = plan_dumps("BTCUSDT", "klines", "2024-12-01", "2025-01-01", interval="1m")
    assert [s.frequency for s in specs] == ["monthly"]
    with dumps(fake) as client:
        got = client.download_range(specs, tmp_path)
    assert [d.frame.height for d in got] == [1440]
    paths = [r.path for r in fake.requests]
    assert paths[0].endswith("BTCUSDT-1m-2024-12.zip.CHECKSUM")
    assert len(paths) == 1 + 31 + 1  # monthly checksum, 31 daily checksums, one zip
