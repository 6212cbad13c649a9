"""`quantforge data import|check|resample|bars` end to end on a temporary local catalog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from typer.testing import CliRunner

import quantforge.cli  # noqa: F401  (registers the commands)
from quantforge.cli._app import app
from quantforge.data.catalog import Catalog
from quantforge.data.ingest import import_files
from quantforge.data.resample import resample_bars
from quantforge.data.sources.csv import parse_timestamps, read_table
from quantforge.errors import ConfigError, DataFormatError

runner = CliRunner()

T0_MS = 1735603200000  # 2024-12-31 00:00 UTC


def _kline(minute: int, o: float = 100.0, h: float = 101.0, lo: float = 99.0, c: float = 100.5,
           *, t0: int = T0_MS) -> str:  # fmt: skip
    t = t0 + minute * 60_000
    return f"{t},{o},{h},{lo},{c},2.0,{t + 59_999},200.0,10,1.0,100.0,0\n"


def _day_file(folder: Path, name: str, minutes: range, **kw: float) -> Path:
    path = folder / name
    t0 = int(
        dt.datetime.fromisoformat(name.split("-1m-")[1][:10]).replace(tzinfo=dt.UTC).timestamp()
    )
    path.write_text("".join(_kline(m, t0=t0 * 1000, **kw) for m in minutes))
    return path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def test_import_check_resample(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    f1 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-30.csv", range(0, 1440))
    f2 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-31.csv", range(0, 600))
    result = runner.invoke(
        app, ["data", "import", str(f1), str(f2), "--symbol", "BTCUSDT", "-i", "1m",
              "--catalog", str(cat)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2,040 read, 2,040 written" in result.output
    stored = Catalog(cat).read_bars("BTCUSDT", "1m")
    assert stored.height == 2040

    result = runner.invoke(app, ["data", "check", "BTCUSDT", "-i", "1m", "--catalog", str(cat)])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
    result = runner.invoke(
        app, ["data", "check", "BTCUSDT", "-i", "1m", "--catalog", str(cat), "--strict"]
    )
    assert result.exit_code == 0

    result = runner.invoke(
        app, ["data", "resample", "BTCUSDT", "--from", "1m", "--to", "1h", "--catalog", str(cat)]
    )
    assert result.exit_code == 0, result.output
    hourly = Catalog(cat).read_bars("BTCUSDT", "1h")
    expected = resample_bars(stored, "1m", "1h").drop("source_bars", "complete")
    assert hourly.select(expected.columns).equals(expected)
    assert hourly.height == 24 + 10


def test_resample_drop_incomplete(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    f1 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-31.csv", range(30, 150))  # 00:30 → 02:29
    result = _invoke("data", "import", str(f1), "-s", "BTCUSDT", "-i", "1m", "--catalog", str(cat))
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["data", "resample", "BTCUSDT", "--from", "1m", "--to", "1h", "--catalog", str(cat),
              "--drop-incomplete"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    hourly = Catalog(cat).read_bars("BTCUSDT", "1h")
    assert hourly["open_time"].to_list() == [dt.datetime(2024, 12, 31, 1, tzinfo=dt.UTC)]


def test_check_strict_and_quarantine(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    f1 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-31.csv", range(0, 100))
    _invoke("data", "import", str(f1), "-s", "BTCUSDT", "-i", "1m", "--catalog", str(cat))
    # a gap → --strict fails with exit code 1
    f2 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-30.csv", range(0, 10))
    _invoke("data", "import", str(f2), "-s", "BTCUSDT", "-i", "1m", "--catalog", str(cat))
    result = runner.invoke(
        app, ["data", "check", "BTCUSDT", "-i", "1m", "--catalog", str(cat), "--strict"]
    )
    assert result.exit_code == 1
    assert "missing bars" in result.output
    # a stored row that breaks OHLC (written behind the importer's back) → --quarantine file
    bad = Catalog(cat).read_bars("BTCUSDT", "1m").head(1).with_columns(high=pl.lit(1.0))
    Catalog(cat).write_bars(bad, symbol="BTCUSDT", interval="1m")
    qfile = tmp_path / "q" / "bad.parquet"
    result = runner.invoke(
        app, ["data", "check", "BTCUSDT", "-i", "1m", "--catalog", str(cat), "--quarantine",
              str(qfile)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    quarantined = pl.read_parquet(qfile)
    assert quarantined["reason"].to_list() == ["ohlc_invariant"]
    assert quarantined["open_time"][0] == bad["open_time"][0]


def test_import_quarantines_bad_rows(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    path = tmp_path / "BTCUSDT-1m-2024-12-31.csv"
    rows = [_kline(m) for m in range(5)]
    rows[2] = _kline(2, h=98.0)  # high below low → OHLC break
    path.write_text("".join(rows))
    report = import_files([path], Catalog(cat), "BTCUSDT", "1m")
    assert report.quarantined == 1
    assert report.rows_clean == 4
    assert report.quarantine_path is not None
    qpath = Path(report.quarantine_path)
    assert qpath.is_relative_to(cat / "_quarantine" / "exchange=binance" / "symbol=BTCUSDT")
    quarantined = pl.read_parquet(qpath)
    assert quarantined["reason"].to_list() == ["ohlc_invariant"]
    assert quarantined["high"].to_list() == [98.0]
    stored = Catalog(cat).read_bars("BTCUSDT", "1m")
    assert stored["open_time"].dt.minute().to_list() == [0, 1, 3, 4]
    assert not list(qpath.parent.glob(".tmp-*"))  # atomic write left no temp file


@pytest.mark.parametrize(
    ("mangle", "expected"),
    [
        (lambda text: text.replace(",200.0,10,", ",200.0,ten,", 1), "line 1, field 'trades'"),
        (lambda text: text[: len(text) // 2 + 7], "fields, expected 12"),
        (lambda text: "", "empty"),
        (lambda text: text.replace("17356", "1735600", 1), "line 1"),
    ],
    ids=["text-in-number", "truncated", "empty", "wrong-unit"],
)
def test_malformed_file_in_batch_leaves_catalog_unchanged(
    tmp_path: Path, mangle: object, expected: str
) -> None:
    cat = tmp_path / "cat"
    good = _day_file(tmp_path, "BTCUSDT-1m-2024-12-29.csv", range(0, 60))
    import_files([good], Catalog(cat), "BTCUSDT", "1m")
    before = _snapshot(cat)
    more = _day_file(tmp_path, "BTCUSDT-1m-2024-12-30.csv", range(0, 60))
    broken = _day_file(tmp_path, "BTCUSDT-1m-2024-12-31.csv", range(0, 60))
    broken.write_text(mangle(broken.read_text()))  # type: ignore[operator]
    with pytest.raises(DataFormatError) as err:
        import_files([more, broken], Catalog(cat), "BTCUSDT", "1m")
    assert "BTCUSDT-1m-2024-12-31.csv" in str(err.value)
    assert expected in str(err.value)
    assert _snapshot(cat) == before
    # the CLI reports the same error (the entry point turns it into exit code 1)
    result = runner.invoke(
        app, ["data", "import", str(more), str(broken), "-s", "BTCUSDT", "-i", "1m",
              "--catalog", str(cat)]
    )  # fmt: skip
    assert isinstance(result.exception, DataFormatError)
    assert _snapshot(cat) == before


def test_interval_mismatch_rejected(tmp_path: Path) -> None:
    f1 = _day_file(tmp_path, "BTCUSDT-1m-2024-12-31.csv", range(0, 5))
    with pytest.raises(DataFormatError, match="holds 1m klines but the import is for 15m"):
        import_files([f1], Catalog(tmp_path / "cat"), "BTCUSDT", "15m")


def test_generic_csv_with_mapping_and_tz(tmp_path: Path) -> None:
    path = tmp_path / "spy.csv"
    path.write_text(
        "Date,O,Hi,Lo,Last,Vol\n"
        "2025-03-07 09:30:00,1,2,0.5,1.5,100\n"
        "2025-03-07 09:35:00,1.5,2,1,1.2,50\n"
    )
    cat = tmp_path / "cat"
    result = runner.invoke(
        app, ["data", "import", str(path), "-s", "SPY", "-i", "5m", "--exchange", "nyse",
              "--catalog", str(cat), "--map", "Hi=high", "--map", "Lo=low", "--map", "Last=close",
              "--tz", "America/New_York"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = Catalog(cat).read_bars("SPY", "5m", exchange="nyse")
    # 09:30 EST (UTC-5) = 14:30 UTC
    assert stored["open_time"][0] == dt.datetime(2025, 3, 7, 14, 30, tzinfo=dt.UTC)
    assert stored["close"].to_list() == [1.5, 1.2]
    assert stored["volume"].to_list() == [100.0, 50.0]


def test_generic_csv_missing_column_suggests(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("stamp,open,high,lw,close,volume\n1700000000,1,2,0.5,1.5,1\n")
    with pytest.raises(DataFormatError) as err:
        import_files([path], Catalog(tmp_path / "cat"), "X", "1m")
    text = str(err.value)
    assert "'low' (did you mean 'lw'?)" in text
    assert "'open_time'" in text
    assert "'stamp'" in text


def test_trades_import_and_bars(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    path = tmp_path / "BTCUSDT-trades-2025-01-02.csv"
    t0 = 1735776000000000  # 2025-01-02 00:00 UTC in µs
    lines = [
        f"{100 + i},{100.0 + i},{1.0 + i % 3},{(100.0 + i) * (1.0 + i % 3)},{t0 + i * 1000},"
        f"{'True' if i % 2 else 'False'},True\n"
        for i in range(10)
    ]
    path.write_text("".join(lines))
    result = runner.invoke(
        app, ["data", "import", str(path), "-s", "BTCUSDT", "--trades", "--catalog", str(cat)]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "tick.parquet"
    result = runner.invoke(
        app, ["data", "bars", "BTCUSDT", "--kind", "tick", "--threshold", "4", "--out", str(out),
              "--catalog", str(cat)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bars = pl.read_parquet(out)
    assert bars["trades"].to_list() == [4, 4, 2]
    assert bars["complete"].to_list() == [True, True, False]
    assert bars["open"].to_list() == [100.0, 104.0, 108.0]
    result = runner.invoke(
        app, ["data", "bars", "BTCUSDT", "--kind", "dollar", "--per-day", "1000000",
              "--catalog", str(cat)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dollar bars" in result.output


@pytest.mark.parametrize("command", ["import", "check", "resample", "bars"])
def test_help_has_example(command: str) -> None:
    result = runner.invoke(app, ["data", command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


# ------------------------------------------------------------------ generic table reader


def test_epoch_units_detected_by_magnitude() -> None:
    want = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    for raw in (1_700_000_000, 1_700_000_000_000, 1_700_000_000_000_000, 1_700_000_000_000_000_000):
        assert parse_timestamps(pl.Series("t", [raw]))[0] == want
    assert parse_timestamps(pl.Series("t", [1_700_000_000.25]), unit="us")[0] == want.replace(
        microsecond=250_000
    )
    assert parse_timestamps(pl.Series("t", ["1700000000000"]))[0] == want  # digits in a string
    with pytest.raises(DataFormatError, match=r"line 3, field 't'.*different unit"):
        parse_timestamps(pl.Series("t", [1_700_000_000_000, 1_700_000_060_000, 1_700_000_120]))


def test_iso_strings_offsets_and_zones() -> None:
    s = pl.Series("t", ["2024-07-01T12:00:00+02:00", "2024-07-01T10:00:00Z"])
    assert parse_timestamps(s).to_list() == [dt.datetime(2024, 7, 1, 10, tzinfo=dt.UTC)] * 2
    naive = pl.Series("t", ["2024-07-01 09:30:00"])
    assert parse_timestamps(naive, tz="America/New_York")[0] == dt.datetime(
        2024, 7, 1, 13, 30, tzinfo=dt.UTC
    )
    assert parse_timestamps(naive)[0] == dt.datetime(2024, 7, 1, 9, 30, tzinfo=dt.UTC)
    with pytest.raises(DataFormatError, match="DST-ambiguous"):  # 01:30 happens twice that night
        parse_timestamps(pl.Series("t", ["2024-11-03 01:30:00"]), tz="America/New_York")
    with pytest.raises(DataFormatError, match=r"line 2, field 't': cannot parse 'soon'"):
        parse_timestamps(pl.Series("t", ["2024-07-01", "soon"]), header_lines=0)


def test_read_table_parquet_and_trades(tmp_path: Path) -> None:
    path = tmp_path / "trades.parquet"
    pl.DataFrame(
        {
            "Timestamp": [dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))],
            "ID": [7],
            "Price": [10.5],
            "Quantity": [2.0],
            "isBuyerMaker": ["TRUE"],
            "extra": ["x"],
        }
    ).write_parquet(path)
    trades = read_table(path, kind="trades")
    assert trades.columns == ["time", "trade_id", "price", "qty", "is_buyer_maker"]
    assert trades.row(0) == (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), 7, 10.5, 2.0, True)
    assert trades.schema["time"] == pl.Datetime("us", "UTC")
    with pytest.raises(ConfigError, match="not a canonical column"):
        read_table(path, kind="trades", mapping={"extra": "colour"})
