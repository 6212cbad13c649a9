"""BinanceClient against a real loopback HTTP server that speaks Binance's formats.

Expected row counts and first/last open times are hand-computed calendar arithmetic; values are
checked against the server's own bar generator or against the real parquet the server serves.
"""

from __future__ import annotations

import json
import math
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tests.fakes.binance_server import FakeBinance, Scripted, ms, synthetic_bar

from quantforge.data.schema import BAR_SCHEMA, BAR_TIME_DTYPE, TRADE_TIME_DTYPE
from quantforge.data.sources.binance import BinanceClient, SymbolFilters
from quantforge.errors import (
    ConfigError,
    DataFormatError,
    DataSourceError,
    ExchangeAPIError,
    InvalidSymbolError,
    RateLimitError,
)

KLINES = "/api/v3/klines"
NOW = ms("2024-06-01T12:34:56.789")  # the fake server's clock in most tests


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(now_ms=NOW) as server:
        server.add_symbol("BTCUSDT", first_open=ms("2017-08-17T04:00"))
        yield server


def make_client(fake: FakeBinance, **kwargs: object) -> BinanceClient:
    options: dict[str, object] = {
        "timeout_s": 2.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
    }
    options.update(kwargs)
    return BinanceClient(fake.url, **options)  # type: ignore[arg-type]


# -- paging --------------------------------------------------------------------------------
CASES = [
    # interval, start, end, page limit, expected rows, first open, last open
    ("1m", "2024-01-01", "2024-01-03T12:00", 1000, 3600, "2024-01-01", "2024-01-03T11:59"),
    ("15m", "2024-01-01", "2024-03-01", 1000, 60 * 96, "2024-01-01", "2024-02-29T23:45"),
    ("1h", "2023-01-01", "2023-03-01", 1000, 59 * 24, "2023-01-01", "2023-02-28T23:00"),
    ("1d", "2020-01-01", "2024-01-01", 100, 1461, "2020-01-01", "2023-12-31"),
    ("1M", "2018-01-01", "2024-06-01", 12, 6 * 12 + 5, "2018-01-01", "2024-05-01"),
    # a start inside a bar: the first bar is the next one that opens at/after start
    ("1M", "2018-01-15", "2019-01-01", 5, 11, "2018-02-01", "2018-12-01"),
    (
        "1s",
        "2024-03-01T10:00",
        "2024-03-01T10:40",
        1000,
        2400,
        "2024-03-01T10:00",
        "2024-03-01T10:39:59",
    ),
]


@pytest.mark.parametrize(("interval", "start", "end", "limit", "rows", "first", "last"), CASES)
def test_klines_paging_exact_rows(
    fake: FakeBinance,
    interval: str,
    start: str,
    end: str,
    limit: int,
    rows: int,
    first: str,
    last: str,
) -> None:
    with make_client(fake, page_limit=limit) as client:
        bars = client.fetch_klines("BTCUSDT", interval, utc(start), utc(end))

    assert bars.schema == pl.Schema(BAR_SCHEMA)
    assert bars.height == rows
    assert bars["open_time"][0] == utc(first)
    assert bars["open_time"][-1] == utc(last)
    assert bars["open_time"].is_unique().all()
    assert bars["open_time"].is_sorted()

    # pages: oldest first, each next startTime = last open time of the previous page + 1 ms
    calls = fake.requests_to(KLINES)
    assert len(calls) == math.ceil(rows / limit) + (1 if rows % limit == 0 else 0)
    assert int(calls[0].params["startTime"]) == ms(start)
    opens = [int(t.timestamp() * 1000) for t in bars["open_time"]]
    for i, call in enumerate(calls):
        assert call.params["limit"] == str(limit)
        assert call.params["endTime"] == str(ms(end) - 1)
        assert call.params["interval"] == interval
        if i > 0:
            assert int(call.params["startTime"]) == opens[i * limit - 1] + 1

    # values: every row equals the server's bar, parsed from its decimal strings
    for idx in (0, rows // 2, rows - 1):
        row = bars.row(idx, named=True)
        open_ms = opens[idx]
        ref = synthetic_bar("BTCUSDT", interval, open_ms, 0)
        assert row["open"] == float(ref[1])
        assert row["high"] == float(ref[2])
        assert row["low"] == float(ref[3])
        assert row["close"] == float(ref[4])
        assert row["volume"] == float(ref[5])
        assert row["quote_volume"] == float(ref[7])
        assert row["trades"] == ref[8]
        assert row["taker_buy_base"] == float(ref[9])


def test_klines_fixed_intervals_have_no_holes(fake: FakeBinance) -> None:
    with make_client(fake) as client:
        bars = client.fetch_klines("BTCUSDT", "15m", "2024-01-01", "2024-03-01")
    steps = bars["open_time"].diff().drop_nulls().dt.total_milliseconds().unique().to_list()
    assert steps == [900_000]


def test_maintenance_gap_is_paged_over_not_filled(fake: FakeBinance) -> None:
    fake.add_symbol(
        "ETHUSDT", first_open=0, gaps=[(ms("2024-01-01T05:00"), ms("2024-01-01T06:20"))]
    )
    with make_client(fake) as client:
        bars = client.fetch_klines("ETHUSDT", "1m", "2024-01-01", "2024-01-02")
    assert bars.height == 1440 - 80
    assert utc("2024-01-01T05:00") not in set(bars["open_time"].to_list())
    assert bars["open_time"].is_unique().all()


def test_unfinished_bar_is_dropped(fake: FakeBinance) -> None:
    # server clock 2024-06-01 12:34:56.789: the 12:34 bar is still forming
    with make_client(fake) as client:
        bars = client.fetch_klines("BTCUSDT", "1m", "2024-05-31T12:00", "2024-06-02")
        hourly = client.fetch_klines("BTCUSDT", "1h", "2024-06-01", "2024-06-02")
        monthly = client.fetch_klines("BTCUSDT", "1M", "2024-01-01", "2025-01-01")
    assert bars.height == 24 * 60 + 34
    assert bars["open_time"][-1] == utc("2024-06-01T12:33")
    # the server did send the unfinished bar on the last page; the client left it out
    last_call = fake.requests_to(KLINES)[1]
    assert int(last_call.params["startTime"]) == ms("2024-06-01T04:39") + 1
    assert hourly.height == 12
    assert hourly["open_time"][-1] == utc("2024-06-01T11:00")
    assert monthly["open_time"].to_list() == [utc(f"2024-0{m}-01") for m in range(1, 6)]


def test_real_btcusdt_1m_round_trips_exactly(shared_data: Path) -> None:
    start, n = ms("2024-02-28T22:00"), 2500
    real = (
        pl.scan_parquet(shared_data / "BTCUSDT-1m.parquet")
        .filter(pl.col("open_time").is_between(start, start + (n - 1) * 60_000))
        .collect()
    )
    assert real.height == n
    rows = [
        [
            r["open_time"],
            *(f"{r[c]:.8f}" for c in ("open", "high", "low", "close", "volume")),
            r["open_time"] + 59_999,
            f"{r['quote_volume']:.8f}",
            r["trades"],
            f"{r['taker_buy_base']:.8f}",
            f"{r['taker_buy_quote']:.8f}",
            "0",
        ]
        for r in real.iter_rows(named=True)
    ]
    with FakeBinance() as server:
        server.add_real_1m("BTCUSDT", rows)
        with make_client(server) as client:
            got = client.fetch_klines("BTCUSDT", "1m", start, start + n * 60_000)
        assert len(server.requests_to(KLINES)) == 3
    expected = real.with_columns(
        pl.col("open_time").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    ).select(list(BAR_SCHEMA))
    assert got.schema["open_time"] == BAR_TIME_DTYPE
    assert_frame_equal(got, expected, check_exact=True)


def test_progress_reports_rows(fake: FakeBinance) -> None:
    seen: list[tuple[int, int]] = []
    with make_client(fake) as client:
        client.fetch_klines(
            "BTCUSDT",
            "1m",
            "2024-01-01",
            "2024-01-03T12:00",
            progress=lambda d, t: seen.append((d, t)),
        )
    assert seen == [(1000, 3600), (2000, 3600), (3000, 3600), (3600, 3600)]


def test_bad_range_and_interval_fail_before_any_request(fake: FakeBinance) -> None:
    with make_client(fake) as client:
        with pytest.raises(ConfigError, match="must be after start"):
            client.fetch_klines("BTCUSDT", "1m", "2024-01-02", "2024-01-01")
        with pytest.raises(ConfigError, match="no '7m' klines"):
            client.fetch_klines("BTCUSDT", "7m", "2024-01-01", "2024-01-02")
    assert fake.requests == []


# -- errors, retries, back-off ---------------------------------------------------------------
def test_invalid_symbol_fails_at_once(fake: FakeBinance) -> None:
    with make_client(fake) as client, pytest.raises(InvalidSymbolError, match="NOPEUSDT") as info:
        client.fetch_klines("nopeusdt", "1m", "2024-01-01", "2024-01-02")
    assert info.value.code == -1121
    assert info.value.status == 400
    assert len(fake.requests) == 1  # no retry


def test_invalid_interval_from_server_fails_at_once(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(400, {"code": -1120, "msg": "Invalid interval."}))
    with make_client(fake) as client, pytest.raises(InvalidSymbolError, match="interval '1m'"):
        client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-02")
    assert len(fake.requests) == 1


def test_other_client_error_is_not_retried(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(400, {"code": -1104, "msg": "Not all sent parameters were read."}))
    with make_client(fake) as client, pytest.raises(ExchangeAPIError, match="-1104") as info:
        client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-02")
    assert not isinstance(info.value, InvalidSymbolError)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", [[1704067200000, "1.0"]], {"a": 1}])
def test_malformed_body_is_a_format_error(fake: FakeBinance, body: object) -> None:
    fake.script(KLINES, Scripted(200, body))
    with make_client(fake) as client, pytest.raises(DataFormatError, match="base URL"):
        client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-02")
    assert len(fake.requests) == 1


def test_restricted_location_says_which_host_to_use(fake: FakeBinance) -> None:
    fake.script(
        KLINES,
        Scripted(451, {"code": 0, "msg": "Service unavailable from a restricted location"}),
    )
    with make_client(fake) as client, pytest.raises(ExchangeAPIError, match="data-api") as info:
        client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-02")
    assert info.value.status == 451
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [429, 418])
def test_retry_after_is_honoured(fake: FakeBinance, status: int) -> None:
    fake.script(
        KLINES,
        Scripted(status, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"}),
    )
    with make_client(fake) as client:
        bars = client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert bars.height == 24
    first, second = fake.requests_to(KLINES)
    assert first.status == status
    assert second.status == 200
    assert second.t - first.t >= 1.0  # never earlier than Retry-After


def test_long_ban_raises_rate_limit_error_without_sleeping(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(418, {"code": -1003, "msg": "banned"}, {"Retry-After": "7200"}))
    with make_client(fake) as client, pytest.raises(RateLimitError, match="418") as info:
        client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert info.value.retry_after_s == 7200
    assert len(fake.requests) == 1


def test_rate_limit_exhaustion_keeps_retry_after(fake: FakeBinance) -> None:
    busy = Scripted(429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "0"})
    fake.script(KLINES, busy, busy, busy)
    with make_client(fake, max_retries=2) as client, pytest.raises(RateLimitError) as info:
        client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert "3 attempts" in str(info.value)
    assert info.value.retry_after_s == 0
    assert info.value.status == 429


def test_server_errors_are_retried_then_succeed(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(500, {"code": -1000, "msg": "x"}), Scripted(503, b"busy"))
    with make_client(fake) as client:
        bars = client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert bars.height == 24
    assert [r.status for r in fake.requests_to(KLINES)] == [500, 503, 200]


def test_server_error_exhaustion_names_attempts(fake: FakeBinance) -> None:
    fake.script(KLINES, *[Scripted(503, b"Service Unavailable")] * 3)
    with make_client(fake, max_retries=2) as client:
        with pytest.raises(DataSourceError, match=r"HTTP 503.*gave up after 3 attempts") as info:
            client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert isinstance(info.value.__cause__, ExchangeAPIError)
    assert len(fake.requests) == 3
    gaps = [b.t - a.t for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert all(g >= 0.05 for g in gaps)  # backed off between attempts


def test_timeout_then_success(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(hang_s=2.0))
    with make_client(fake, timeout_s=0.3) as client:
        bars = client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert bars.height == 24
    first, second = fake.requests_to(KLINES)
    assert 0.3 <= second.t - first.t < 2.0


def test_timeout_exhaustion_chains_httpx_error(fake: FakeBinance) -> None:
    fake.script(KLINES, Scripted(hang_s=2.0), Scripted(hang_s=2.0))
    with make_client(fake, timeout_s=0.2, max_retries=1) as client:
        with pytest.raises(DataSourceError, match=r"timed out.*2 attempts") as info:
            client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_base_url_needs_a_scheme() -> None:
    with pytest.raises(ConfigError, match="http"):
        BinanceClient("api.binance.com")


def test_connection_refused_is_a_data_source_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = BinanceClient(f"http://127.0.0.1:{port}", max_retries=1, backoff_initial_s=0.01)
    with client, pytest.raises(DataSourceError, match="--base-url") as info:
        client.fetch_klines("BTCUSDT", "1h", "2024-01-01", "2024-01-02")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


# -- request weight ----------------------------------------------------------------------------
def test_used_weight_header_makes_client_wait_for_next_window() -> None:
    # 15 of 20 weight per (1 s) window is used by "other traffic" on the same IP; klines cost 2,
    # so only two calls fit per window, which the client can only know from the header.
    with FakeBinance(
        now_ms=NOW, weight_limit=20, weight_window_s=1.0, background_weight=15
    ) as fake:
        fake.add_symbol("BTCUSDT", first_open=0)
        with make_client(
            fake, page_limit=100, weight_limit_per_minute=20, weight_window_s=1.0
        ) as client:
            bars = client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-01T10:00")
            assert client.used_weight in (17, 19)
    assert bars.height == 600
    calls = fake.requests_to(KLINES)
    assert len(calls) == 7  # 6 full pages + the empty tail
    assert all(c.status == 200 for c in calls)  # never hit the limit
    per_window = Counter(math.floor(c.t / 1.0) for c in calls)
    assert max(per_window.values()) <= 2
    assert calls[-1].t - calls[0].t >= 2.0


def test_client_without_header_budget_gets_429_and_recovers() -> None:
    # the same server, but the client thinks it has 6000/min: the server answers 429 with
    # Retry-After and the client waits that long before going on
    with FakeBinance(
        now_ms=NOW, weight_limit=20, weight_window_s=1.0, background_weight=15
    ) as fake:
        fake.add_symbol("BTCUSDT", first_open=0)
        with make_client(fake, page_limit=100, weight_window_s=1.0) as client:
            bars = client.fetch_klines("BTCUSDT", "1m", "2024-01-01", "2024-01-01T04:00")
    assert bars.height == 240
    calls = fake.requests_to(KLINES)
    limited = [i for i, c in enumerate(calls) if c.status == 429]
    assert limited  # the client did not read the budget...
    for i in limited:  # ...but honoured Retry-After (1 s) every time
        assert calls[i + 1].t - calls[i].t >= 1.0


# -- trades -------------------------------------------------------------------------------------
def test_agg_trades_real_body_time_then_fromid_paging(shared_data: Path) -> None:
    body = json.loads(
        (
            shared_data / "fixtures/rest/api_v3_aggTrades.XRPETH.first1000.2019-10-11.json"
        ).read_text()
    )
    assert len(body) == 1000
    start, end = body[0]["T"], body[-1]["T"] + 1
    with FakeBinance() as fake:
        fake.add_agg_trades("XRPETH", body)
        with make_client(fake, page_limit=300) as client:
            trades = client.fetch_agg_trades("XRPETH", start, end)
        calls = fake.requests_to("/api/v3/aggTrades")
    assert trades.height == 1000
    assert trades.schema["time"] == TRADE_TIME_DTYPE
    assert trades["trade_id"].to_list() == [t["a"] for t in body]
    assert trades["price"].to_list() == [float(t["p"]) for t in body]
    assert trades["qty"].to_list() == [float(t["q"]) for t in body]
    assert trades["first_trade_id"].to_list() == [t["f"] for t in body]
    assert trades["last_trade_id"].to_list() == [t["l"] for t in body]
    assert trades["is_buyer_maker"].to_list() == [t["m"] for t in body]
    assert [int(t.timestamp() * 1_000_000) for t in trades["time"]] == [t["T"] * 1000 for t in body]
    # first page by time, then by fromId = last id + 1
    assert [c.params.get("startTime") for c in calls] == [str(start), None, None, None]
    assert calls[0].params["endTime"] == str(end - 1)
    assert [c.params.get("fromId") for c in calls[1:]] == [
        str(body[299]["a"] + 1),
        str(body[599]["a"] + 1),
        str(body[899]["a"] + 1),
    ]
    # a window inside the body: exactly the trades whose time is in [lo, hi)
    lo, hi = body[123]["T"], body[876]["T"]
    with FakeBinance() as fake:
        fake.add_agg_trades("XRPETH", body)
        with make_client(fake, page_limit=250) as client:
            part = client.fetch_agg_trades("XRPETH", lo, hi)
    assert part["trade_id"].to_list() == [t["a"] for t in body if lo <= t["T"] < hi]


def test_historical_trades_by_id(shared_data: Path) -> None:
    lines = (
        (shared_data / "fixtures/ws/stream_btcusdt_trade.spot.2024-08-09.first500.jsonl")
        .read_text()
        .splitlines()
    )
    trades = []
    for line in lines:
        d = json.loads(line)["data"]
        trades.append(
            {
                "id": d["t"],
                "price": d["p"],
                "qty": d["q"],
                "quoteQty": str(Decimal(d["p"]) * Decimal(d["q"])),
                "time": d["T"],
                "isBuyerMaker": d["m"],
                "isBestMatch": d["M"],
            }
        )
    first = trades[0]["id"]
    with FakeBinance() as fake:
        fake.add_trades("BTCUSDT", trades)
        with make_client(fake, page_limit=200) as client:
            got = client.fetch_historical_trades("BTCUSDT", first + 10, 450)
        calls = fake.requests_to("/api/v3/historicalTrades")
    assert got["trade_id"].to_list() == list(range(first + 10, first + 460))
    assert got["price"].to_list() == [float(t["price"]) for t in trades[10:460]]
    assert got["quote_qty"].to_list() == [float(t["quoteQty"]) for t in trades[10:460]]
    assert [c.params["limit"] for c in calls] == ["200", "200", "50"]


# -- exchangeInfo --------------------------------------------------------------------------------
@pytest.fixture
def exchange_info_body(shared_data: Path) -> dict[str, object]:
    path = shared_data / "fixtures/rest/api_v3_exchangeInfo.2021-10-12.json"
    body: dict[str, object] = json.loads(path.read_text())
    return body


def test_exchange_info_real_capture(exchange_info_body: dict[str, object]) -> None:
    with FakeBinance() as fake:
        fake.exchange_info_body = exchange_info_body
        with make_client(fake) as client:
            assert client.weight_limit == 6000
            one = client.exchange_info(["btcusdt"])
            assert client.weight_limit == 1200  # read from rateLimits
            every = client.exchange_info()
            two = client.exchange_info(["BTCUSDT", "ETHBTC"])
            with pytest.raises(InvalidSymbolError, match="NOPE"):
                client.exchange_info(["NOPE"])
        calls = fake.requests_to("/api/v3/exchangeInfo")
    btc = one["BTCUSDT"]
    assert isinstance(btc, SymbolFilters)
    assert btc.tick_size == 0.01
    assert btc.step_size == 0.00001
    assert btc.min_notional == 10.0
    assert btc.max_notional is None
    assert btc.min_qty == 0.00001
    assert btc.max_qty == 9000.0
    assert (btc.status, btc.base_asset, btc.quote_asset) == ("TRADING", "BTC", "USDT")
    assert btc.market_step_size == 0.0  # 0 = rule off, as Binance writes it
    assert len(every) == 1695
    assert every["BTCUSDT"] == btc
    assert sorted(two) == ["BTCUSDT", "ETHBTC"]
    assert calls[0].params == {"symbol": "BTCUSDT"}
    assert json.loads(calls[2].params["symbols"]) == ["BTCUSDT", "ETHBTC"]


def test_explicit_weight_limit_wins_over_exchange_info(
    exchange_info_body: dict[str, object],
) -> None:
    with FakeBinance() as fake:
        fake.exchange_info_body = exchange_info_body
        with make_client(fake, weight_limit_per_minute=300) as client:
            client.exchange_info(["BTCUSDT"])
            assert client.weight_limit == 300


def test_symbol_filters_accept_notional_or_none(exchange_info_body: dict[str, object]) -> None:
    symbols = exchange_info_body["symbols"]
    assert isinstance(symbols, list)
    entry = next(s for s in symbols if s["symbol"] == "BTCUSDT")
    others = [f for f in entry["filters"] if f["filterType"] != "MIN_NOTIONAL"]
    modern = {
        **entry,
        "filters": [
            *others,
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
    }
    got = SymbolFilters.from_exchange_info(modern)
    assert (got.min_notional, got.max_notional) == (5.0, 9_000_000.0)
    bare = SymbolFilters.from_exchange_info({**entry, "filters": others})
    assert (bare.min_notional, bare.max_notional) == (None, None)
    assert bare.tick_size == 0.01


# -- property: any range, any page size -----------------------------------------------------------
@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeBinance]:
    with FakeBinance(now_ms=NOW) as server:
        server.add_symbol("BTCUSDT", first_open=ms("2017-08-17T04:00"))
        yield server


def reference_opens(interval: str, start_ms: int, end_ms: int, listed_ms: int) -> list[int]:
    """Plain-Python oracle: open times of the bars with start <= open < min(end, now's bar)."""
    lo = max(start_ms, listed_ms)
    out: list[int] = []
    if interval == "1M":
        moment = datetime.fromtimestamp(lo / 1000, tz=UTC)
        year, month = moment.year, moment.month
        while True:
            t = int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            close = int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000) - 1
            if t >= end_ms or close >= NOW:
                return out
            if t >= lo:
                out.append(t)
    step = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000}.get(interval)
    step = step or {"1d": 86_400_000, "1w": 7 * 86_400_000}[interval]
    monday = ms("2018-01-01") if interval == "1w" else 0  # 2018-01-01 was a Monday
    t = monday + -(-(lo - monday) // step) * step
    while t < end_ms and t + step - 1 < NOW:
        out.append(t)
        t += step
    return out


@settings(max_examples=20, deadline=None)
@given(
    interval=st.sampled_from(["1m", "15m", "1h", "4h", "1d", "1w", "1M"]),
    start_ms=st.integers(ms("2017-06-01"), ms("2024-06-01T12:00")),
    bars=st.integers(1, 1500),
    page=st.integers(100, 1000),
)
def test_any_range_any_page_size_matches_oracle(
    shared_fake: FakeBinance, interval: str, start_ms: int, bars: int, page: int
) -> None:
    width = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000}.get(interval)
    width = width or {"1d": 86_400_000, "1w": 604_800_000, "1M": 2_629_746_000}[interval]
    end_ms = start_ms + bars * width
    expected = reference_opens(interval, start_ms, end_ms, ms("2017-08-17T04:00"))
    with make_client(shared_fake, page_limit=page) as client:
        got = client.fetch_klines("BTCUSDT", interval, start_ms, end_ms)
    assert [int(t.timestamp() * 1000) for t in got["open_time"]] == expected
