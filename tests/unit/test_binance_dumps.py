"""Binance public-data dump parsing: layouts, header sniffing, units, checksums, malformed files."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zipfile
from pathlib import Path

import polars as pl
import pytest

from quantforge.data.schema import BAR_SCHEMA, TRADE_TIME_DTYPE
from quantforge.data.sources.binance_dumps import read_binance_dump
from quantforge.errors import ChecksumError, ConfigError, DataFormatError

# three hand-written spot 1m klines (ms), 2024-12-31 00:00..00:02; the second bar's close time is
# truncated (as at a halt)
KLINES_MS = (
    "1735603200000,92792.05,92832.25,92782.12,92782.13,6.45789,1735603259999,"
    "599298.2917406,1660,4.36611,405183.1795212,0\n"
    "1735603260000,92782.12,92789.28,92748.01,92765.36,8.44271,1735603301646,"
    "783317.6739637,2552,4.48707,416315.6862747,0\n"
    "1735603320000,92765.36,92847.99,92765.35,92847.98,9.05013,1735603379999,"
    "839837.5254817,3080,5.00755,464688.5726666,0\n"
)
KLINES_US = (
    "1735689600000000,93576.0,93610.93,93537.5,93610.93,8.21827,1735689659999999,"
    "768978.7552247,2631,3.95157,369757.3265289,0\n"
    "1735689660000000,93610.93,93652.0,93606.2,93652.0,12.14029,1735689719999999,"
    "1136550.568175,1273,4.08887,382791.500172,0\n"
)
FUT_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore\n"
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _zip(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name.removesuffix(".zip") + ".csv", text)
    return path


def test_spot_klines_ms_hand_checked(tmp_path: Path) -> None:
    dump = read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", KLINES_MS))
    assert (dump.kind, dump.time_unit, dump.had_header, dump.market) == (
        "klines",
        "ms",
        False,
        "spot",
    )
    assert dump.interval == "1m"
    assert dump.checksum_verified is None
    assert dump.close_time_mismatches == 1
    frame = dump.frame
    assert frame.columns == list(BAR_SCHEMA)
    assert frame.schema == pl.Schema(BAR_SCHEMA)
    assert frame["open_time"][0] == dt.datetime(2024, 12, 31, tzinfo=dt.UTC)
    assert frame.row(0)[1:] == (
        92792.05,
        92832.25,
        92782.12,
        92782.13,
        6.45789,
        599298.2917406,
        1660,
        4.36611,
        405183.1795212,
    )


def test_spot_klines_us_become_ms(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="quantforge.data.sources.binance_dumps"):
        dump = read_binance_dump(_zip(tmp_path, "BTCUSDT-1m-2025-01-01.zip", KLINES_US))
    assert dump.time_unit == "us"
    assert dump.close_time_mismatches == 0
    assert dump.frame["open_time"].to_list() == [
        dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 1, 0, 1, tzinfo=dt.UTC),
    ]
    assert "time unit=us" in caplog.text


def test_futures_header_is_sniffed_and_mapped_by_position(tmp_path: Path) -> None:
    # header names differ from ours ("count", "taker_buy_volume"): mapping must be positional
    dump = read_binance_dump(
        _write(
            tmp_path, "FILUSDT-1m-2025-02.csv", FUT_HEADER + KLINES_MS.replace("1735603", "1738368")
        )
    )
    assert dump.had_header
    assert dump.market == "futures"
    assert dump.time_unit == "ms"
    assert dump.frame["trades"].to_list() == [1660, 2552, 3080]
    assert dump.frame["taker_buy_base"][0] == 4.36611


def test_checksum_verified_and_mismatch(tmp_path: Path) -> None:
    path = _zip(tmp_path, "BTCUSDT-1m-2025-01-01.zip", KLINES_US)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar = tmp_path / "BTCUSDT-1m-2025-01-01.zip.CHECKSUM"
    sidecar.write_text(f"{digest}  BTCUSDT-1m-2025-01-01.zip\n")
    assert read_binance_dump(path).checksum_verified is True
    assert read_binance_dump(path, verify_checksum=False).checksum_verified is None
    sidecar.write_text(f"{'0' * 64}  BTCUSDT-1m-2025-01-01.zip\n")
    with pytest.raises(ChecksumError) as err:
        read_binance_dump(path)
    text = str(err.value)
    assert "BTCUSDT-1m-2025-01-01.zip" in text
    assert digest in text
    assert "0" * 64 in text


def test_trades_spot_and_futures(tmp_path: Path) -> None:
    spot = (
        "3735693015,61607.99,0.001,61.60799,1735776000123456,True,True\n"
        "3735693016,61608.0,0.5,30804.0,1735776000123999,false,TRUE\n"
    )
    # a 2024 spot file with µs would contradict its date; use 2025 for the µs case
    dump = read_binance_dump(_write(tmp_path, "BTCUSDT-trades-2025-01-02.csv", spot))
    assert dump.kind == "trades"
    assert dump.time_unit == "us"
    frame = dump.frame
    assert frame.schema["time"] == TRADE_TIME_DTYPE
    assert frame["is_buyer_maker"].to_list() == [True, False]
    assert frame["is_best_match"].to_list() == [True, True]
    assert frame["time"][0] == dt.datetime(2025, 1, 2, 0, 0, 0, 123456, tzinfo=dt.UTC)

    fut = "id,price,qty,quote_qty,time,is_buyer_maker\n1,4.8,10,48.0,1738368000001,true\n"
    dump = read_binance_dump(_write(tmp_path, "FILUSDT-trades-2025-02.csv", fut))
    assert dump.market == "futures"
    assert dump.frame.columns == ["time", "trade_id", "price", "qty", "quote_qty", "is_buyer_maker"]
    assert dump.frame["time"][0] == dt.datetime(2025, 2, 1, 0, 0, 0, 1000, tzinfo=dt.UTC)


def test_agg_trades_spot(tmp_path: Path) -> None:
    text = "26129,0.01633102,4.7,27781,27781,1498793709153,true,true\n"
    dump = read_binance_dump(_write(tmp_path, "anything.csv", text))  # 8 columns → aggTrades
    assert dump.kind == "aggTrades"
    assert dump.frame.row(0)[1:] == (26129, 0.01633102, 4.7, True, True, 27781, 27781)


def test_unknown_kind_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown dump kind"):
        read_binance_dump(_write(tmp_path, "x.csv", KLINES_MS), kind="candles")


# ------------------------------------------------------------------ malformed files


def test_truncated_zip(tmp_path: Path) -> None:
    good = _zip(tmp_path, "BTCUSDT-1m-2024-12-31.zip", KLINES_MS * 50)
    bad = tmp_path / "BTCUSDT-1m-2024-12-30.zip"
    bad.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataFormatError, match=r"BTCUSDT-1m-2024-12-30\.zip.*(truncated|corrupt)"):
        read_binance_dump(bad)


def test_wrong_column_count_names_line(tmp_path: Path) -> None:
    lines = KLINES_MS.splitlines(keepends=True)
    broken = lines[0] + lines[1] + lines[2].rsplit(",", 3)[0] + "\n"
    path = _write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", broken)
    with pytest.raises(DataFormatError) as err:
        read_binance_dump(path)
    assert "BTCUSDT-1m-2024-12-31.csv line 3" in str(err.value)
    assert "9 fields, expected 12" in str(err.value)


def test_extra_column_names_line(tmp_path: Path) -> None:
    lines = KLINES_MS.splitlines(keepends=True)
    broken = lines[0] + lines[1].rstrip("\n") + ",7\n" + lines[2]
    with pytest.raises(DataFormatError, match="line 2: 13 fields, expected 12"):
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", broken))


def test_text_in_numeric_column_names_line_and_field(tmp_path: Path) -> None:
    lines = KLINES_MS.splitlines(keepends=True)
    broken = lines[0] + lines[1].replace("92789.28", "n/a") + lines[2]
    with pytest.raises(DataFormatError) as err:
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", broken))
    text = str(err.value)
    assert "line 2, field 'high' (column 3)" in text
    assert "'n/a' is not a valid number" in text
    assert "re-download" in text


def test_text_in_header_file_counts_header_line(tmp_path: Path) -> None:
    body = KLINES_MS.replace("1735603", "1738368").replace(",2552,", ",many,")
    with pytest.raises(DataFormatError, match=r"line 3, field 'trades'"):
        read_binance_dump(_write(tmp_path, "FILUSDT-1m-2025-02.csv", FUT_HEADER + body))


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="empty"):
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", ""))
    with pytest.raises(DataFormatError, match="no data rows"):
        read_binance_dump(_write(tmp_path, "FILUSDT-1m-2025-02.csv", FUT_HEADER))
    with pytest.raises(DataFormatError, match="empty"):
        read_binance_dump(_zip(tmp_path, "BTCUSDT-1m-2024-12-30.zip", ""))


def test_mixed_units_rejected_with_line(tmp_path: Path) -> None:
    lines = KLINES_MS.splitlines(keepends=True)
    us_line = (
        lines[2]
        .replace("1735603320000,", "1735603320000000,")
        .replace(",1735603379999,", ",1735603379999999,")
    )
    path = _write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", lines[0] + lines[1] + us_line)
    with pytest.raises(DataFormatError) as err:
        read_binance_dump(path)
    assert "line 3, field 'open_time'" in str(err.value)
    assert "one unit" in str(err.value)


def test_open_and_close_time_units_must_agree(tmp_path: Path) -> None:
    text = KLINES_MS.replace(",1735603259999,", ",1735603259999999,")
    text = text.replace(",1735603301646,", ",1735603301646000,").replace(
        ",1735603379999,", ",1735603379999999,"
    )
    with pytest.raises(DataFormatError, match="field 'close_time'"):
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-31.csv", text))


def test_unit_contradicting_file_date(tmp_path: Path) -> None:
    # µs timestamps in a file dated 2024 (nobody published µs before 2025)
    with pytest.raises(DataFormatError, match="dated 2024-12-30 uses ms"):
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-30.csv", KLINES_US))
    # ms timestamps in a spot file dated 2025-01-02 (spot switched to µs)
    with pytest.raises(DataFormatError, match="spot dump dated 2025-01-02 uses µs"):
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2025-01-02.csv", KLINES_MS))


def test_rows_outside_the_named_day(tmp_path: Path) -> None:
    # a 2024-12-31 file renamed to 2024-12-30: same unit, wrong day
    with pytest.raises(DataFormatError) as err:
        read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12-30.csv", KLINES_MS))
    assert "line 1, field 'open_time'" in str(err.value)
    assert "2024-12-31T00:00:00+00:00, outside the period the file name gives (2024-12-30)" in (
        str(err.value)
    )
    # monthly file names cover the whole month
    monthly = read_binance_dump(_write(tmp_path, "BTCUSDT-1m-2024-12.csv", KLINES_MS))
    assert monthly.frame.height == 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        read_binance_dump(tmp_path / "nope.zip")


# ------------------------------------------------------------------ the real fixtures


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("rel", "rows", "unit", "header", "mismatches"),
    [
        ("spot/BTCUSDT-1m-2024-12-31.csv", 1440, "ms", False, 0),
        ("spot/BTCUSDT-1m-2025-01-01.csv", 1440, "us", False, 0),
        ("spot/BTCUSDT-1m-2023-03-24.csv", 1360, "ms", False, 1),
        ("futures-um/FILUSDT-1m-2025-02.first-day.csv", 1440, "ms", True, 0),
    ],
)
def test_real_fixtures(
    shared_data: Path, rel: str, rows: int, unit: str, header: bool, mismatches: int
) -> None:
    dump = read_binance_dump(shared_data / "fixtures" / "public-data" / rel)
    assert dump.frame.height == rows
    assert dump.time_unit == unit
    assert dump.had_header is header
    assert dump.close_time_mismatches == mismatches
    assert dump.interval == "1m"
    assert dump.frame["open_time"].is_sorted()


@pytest.mark.shared_data
def test_real_fixture_facts(shared_data: Path) -> None:
    base = shared_data / "fixtures" / "public-data" / "spot"
    dec31 = read_binance_dump(base / "BTCUSDT-1m-2024-12-31.csv").frame
    jan01 = read_binance_dump(base / "BTCUSDT-1m-2025-01-01.csv").frame
    # the unit switch is exact at the file boundary: the two days join on the 1m grid
    assert jan01["open_time"][0] - dec31["open_time"][-1] == dt.timedelta(minutes=1)
    assert jan01.row(0)[1:5] == (93576.0, 93610.93, 93537.5, 93610.93)
    halt = read_binance_dump(base / "BTCUSDT-1m-2023-03-24.csv").frame
    times = halt["open_time"]
    gap = times.diff().dt.total_minutes().arg_max()
    assert gap is not None
    assert times[gap - 1] == dt.datetime(2023, 3, 24, 12, 39, tzinfo=dt.UTC)
    assert times[gap] == dt.datetime(2023, 3, 24, 14, 0, tzinfo=dt.UTC)  # 80 minutes missing


@pytest.mark.shared_data
def test_real_fixture_zipped_with_checksum(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "fixtures" / "public-data" / "spot" / "BTCUSDT-1m-2025-01-01.csv"
    path = tmp_path / "BTCUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(src, arcname=src.name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / (path.name + ".CHECKSUM")).write_text(f"{digest}  {path.name}\n")
    dump = read_binance_dump(path)
    assert dump.checksum_verified is True
    assert dump.frame.equals(read_binance_dump(src).frame)
