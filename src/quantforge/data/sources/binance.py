"""Binance spot REST client: klines, aggregate/historical trades and symbol filters.

Paging, weight-based rate limiting and retries follow `docs/binance-formats.md`:

* lists come back oldest first, at most 1000 rows per call; the next page starts at the last
  open time + 1 ms (klines) or the last id + 1 (trades);
* every response carries ``X-MBX-USED-WEIGHT-1M``; the client tracks it against the
  ``REQUEST_WEIGHT`` limit (from ``exchangeInfo`` when it has been read, else 6000/min) and waits
  for the next window instead of getting banned;
* HTTP 429/418 carry ``Retry-After``; the client never retries earlier than it says. 5xx,
  timeouts and connection errors are retried with exponential backoff and jitter; an unknown
  symbol (-1121) or interval (-1120) fails at once.

Only CLOSED bars are returned: a bar counts as closed when its close time lies before the
server's clock (the response ``Date`` header; the local clock when it is missing).

The client is synchronous and not thread-safe; use one per thread.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self

import httpx
import polars as pl
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from quantforge.config import DEFAULT_BINANCE_BASE_URL
from quantforge.data.schema import (
    BAR_SCHEMA,
    BAR_TIME_DTYPE,
    BINANCE_INTERVALS,
    TRADE_TIME_DTYPE,
    interval_ms,
    normalize_interval,
)
from quantforge.errors import (
    ConfigError,
    DataFormatError,
    DataSourceError,
    ExchangeAPIError,
    InvalidSymbolError,
    RateLimitError,
)

__all__ = [
    "DEFAULT_WEIGHT_LIMIT",
    "ENDPOINT_WEIGHTS",
    "MAX_PAGE_LIMIT",
    "BinanceClient",
    "SymbolFilters",
    "to_ms",
]

log = logging.getLogger(__name__)

#: rows per page Binance allows at most (klines, aggTrades, historicalTrades)
MAX_PAGE_LIMIT: Final = 1000
#: REQUEST_WEIGHT per minute when exchangeInfo has not been read (the documented 2023+ value)
DEFAULT_WEIGHT_LIMIT: Final = 6000
#: request weight of each endpoint the client calls
ENDPOINT_WEIGHTS: Final[Mapping[str, int]] = {
    "/api/v3/klines": 2,
    "/api/v3/aggTrades": 4,
    "/api/v3/historicalTrades": 25,
    "/api/v3/exchangeInfo": 20,
}
_WEIGHT_HEADER: Final = "x-mbx-used-weight-1m"
_BAD_SYMBOL: Final = -1121
_BAD_INTERVAL: Final = -1120

ProgressCallback = Callable[[int, int], None]


def to_ms(value: datetime | str | int) -> int:
    """Return a UTC epoch in milliseconds.

    Parameters
    ----------
    value
        An aware or naive (taken as UTC) datetime, an ISO-8601 string (``2024-01-01`` or
        ``2024-01-01T12:30:00Z``) or an integer epoch in milliseconds.

    Raises
    ------
    ConfigError
        If a string is not ISO-8601.

    Examples
    --------
    >>> to_ms("2024-01-01")
    1704067200000
    """
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            msg = (
                f"invalid date/time {value!r}; use ISO-8601 such as 2024-01-01 or 2024-01-01T12:30"
            )
            raise ConfigError(msg) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def _fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """Trading rules of one symbol from ``exchangeInfo`` (a value 0 means the rule is off).

    Attributes
    ----------
    symbol, status, base_asset, quote_asset
        As Binance reports them (status ``TRADING``, ``HALT``, ``BREAK``...).
    tick_size, min_price, max_price
        ``PRICE_FILTER``: prices are multiples of tick_size within [min_price, max_price].
    step_size, min_qty, max_qty
        ``LOT_SIZE``: quantities are multiples of step_size within [min_qty, max_qty].
    market_step_size, market_min_qty, market_max_qty
        ``MARKET_LOT_SIZE`` (MARKET orders); None when the symbol has no such filter.
    min_notional, max_notional
        From ``NOTIONAL`` when present, else ``MIN_NOTIONAL``; None when absent.
    """

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    tick_size: float
    min_price: float
    max_price: float
    step_size: float
    min_qty: float
    max_qty: float
    market_step_size: float | None
    market_min_qty: float | None
    market_max_qty: float | None
    min_notional: float | None
    max_notional: float | None

    @classmethod
    def from_exchange_info(cls, entry: Mapping[str, Any]) -> SymbolFilters:
        """Build the filters from one element of ``exchangeInfo["symbols"]``.

        Raises
        ------
        DataFormatError
            If ``PRICE_FILTER`` or ``LOT_SIZE`` is missing or a value is not a number.
        """
        symbol = str(entry.get("symbol", "?"))
        filters = {str(f.get("filterType")): f for f in entry.get("filters", [])}

        def num(ftype: str, key: str) -> float:
            try:
                return float(filters[ftype][key])
            except (KeyError, TypeError, ValueError) as exc:
                msg = (
                    f"exchangeInfo entry for {symbol} has no usable {ftype}.{key}; "
                    "the response format may have changed — report it with the raw body"
                )
                raise DataFormatError(msg) from exc

        def opt(ftype: str, key: str) -> float | None:
            return num(ftype, key) if ftype in filters and key in filters[ftype] else None

        notional_type = "NOTIONAL" if "NOTIONAL" in filters else "MIN_NOTIONAL"
        return cls(
            symbol=symbol,
            status=str(entry.get("status", "")),
            base_asset=str(entry.get("baseAsset", "")),
            quote_asset=str(entry.get("quoteAsset", "")),
            tick_size=num("PRICE_FILTER", "tickSize"),
            min_price=num("PRICE_FILTER", "minPrice"),
            max_price=num("PRICE_FILTER", "maxPrice"),
            step_size=num("LOT_SIZE", "stepSize"),
            min_qty=num("LOT_SIZE", "minQty"),
            max_qty=num("LOT_SIZE", "maxQty"),
            market_step_size=opt("MARKET_LOT_SIZE", "stepSize"),
            market_min_qty=opt("MARKET_LOT_SIZE", "minQty"),
            market_max_qty=opt("MARKET_LOT_SIZE", "maxQty"),
            min_notional=opt(notional_type, "minNotional"),
            max_notional=opt("NOTIONAL", "maxNotional"),
        )


class _Retryable(Exception):
    """Internal: a failure worth another attempt, carrying the error to raise if none is left."""

    def __init__(self, error: DataSourceError, retry_after_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after_s = retry_after_s


class _WeightTracker:
    """Track used request weight per fixed window, as reported by ``X-MBX-USED-WEIGHT-1M``."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._window = -1
        self._used = 0

    def _roll(self, now: float) -> int:
        window = math.floor(now / self.window_s)
        if window != self._window:
            self._window = window
            self._used = 0
        return window

    def acquire(self, weight: int) -> None:
        now = self._clock()
        window = self._roll(now)
        if self._used + weight > self.limit:
            # wait for the next window, plus a small margin for clock skew with the server
            wait = (window + 1) * self.window_s - now + 0.02 * self.window_s
            log.info(
                "request weight %d/%d used in this window; waiting %.2f s for the next one",
                self._used,
                self.limit,
                wait,
            )
            self._sleep(wait)
            self._roll(self._clock())
        self._used += weight

    def observe(self, used: int) -> None:
        self._roll(self._clock())
        self._used = used

    @property
    def used(self) -> int:
        return self._used


class BinanceClient:
    """Synchronous client for Binance spot market data (klines, trades, symbol filters).

    Parameters
    ----------
    base_url
        REST root, e.g. ``https://api.binance.com`` or a local test server.
    timeout_s
        Per-request timeout (connect, read, write) in seconds.
    max_retries
        Retries after the first attempt for 429/418/5xx/timeouts/connection errors.
    weight_limit_per_minute
        Request weight allowed per window; None reads it from ``exchangeInfo`` when that has
        been called, else uses 6000.
    weight_window_s
        Length of the weight window (60 s on Binance; tests shorten it).
    page_limit
        Rows per request (1..1000).
    backoff_initial_s, backoff_max_s
        Exponential backoff with jitter between retries (at least ``Retry-After`` when given).
    max_wait_s
        A ``Retry-After`` longer than this (e.g. a 418 ban of hours) raises `RateLimitError`
        at once instead of sleeping.
    api_key
        Optional ``X-MBX-APIKEY`` header value (not needed for public market data).
    clock, sleep
        Time source (epoch seconds) and sleep function; injected by tests.
    transport
        Optional httpx transport (e.g. for a proxy setup); None uses the default.

    Examples
    --------
    >>> with BinanceClient() as client:  # doctest: +SKIP
    ...     bars = client.fetch_klines("BTCUSDT", "15m", "2024-01-01", "2024-02-01")
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BINANCE_BASE_URL,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 5,
        weight_limit_per_minute: int | None = None,
        weight_window_s: float = 60.0,
        page_limit: int = MAX_PAGE_LIMIT,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_wait_s: float = 300.0,
        api_key: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            msg = f"page_limit must be in 1..{MAX_PAGE_LIMIT}, got {page_limit}"
            raise ConfigError(msg)
        if max_retries < 0:
            msg = f"max_retries must be >= 0, got {max_retries}"
            raise ConfigError(msg)
        if not base_url.startswith(("http://", "https://")):
            msg = f"base URL {base_url!r} needs http(s)://, e.g. {DEFAULT_BINANCE_BASE_URL}"
            raise ConfigError(msg)
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.page_limit = page_limit
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_wait_s = max_wait_s
        self._fixed_limit = weight_limit_per_minute is not None
        self._clock = clock
        self._sleep = sleep
        self._weights = _WeightTracker(
            weight_limit_per_minute or DEFAULT_WEIGHT_LIMIT, weight_window_s, clock, sleep
        )
        headers = {"Accept": "application/json", "User-Agent": "quantforge"}
        if api_key is not None:
            headers["X-MBX-APIKEY"] = api_key
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            transport=transport,
        )
        self.requests_sent = 0

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def weight_limit(self) -> int:
        """Request weight allowed per window (from exchangeInfo once read)."""
        return self._weights.limit

    @property
    def used_weight(self) -> int:
        """Weight used in the current window, as last reported by the server."""
        return self._weights.used

    # -- HTTP core -------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str | int]) -> httpx.Response:
        """GET with weight accounting and retries; return the successful response."""
        weight = ENDPOINT_WEIGHTS.get(path, 1)
        attempts = self.max_retries + 1

        def wait(state: RetryCallState) -> float:
            # exponential backoff with full jitter on top, capped
            exp = self.backoff_initial_s * 2.0 ** (state.attempt_number - 1)
            base = min(exp, self.backoff_max_s) + random.uniform(0.0, self.backoff_initial_s)
            exc = state.outcome.exception() if state.outcome is not None else None
            if isinstance(exc, _Retryable) and exc.retry_after_s is not None:
                # never earlier than Retry-After; the margin absorbs timer granularity
                return max(base, exc.retry_after_s + 0.05)
            return base

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "GET %s attempt %d/%d failed (%s); retrying in %.2f s",
                path,
                state.attempt_number,
                attempts,
                exc,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(attempts),
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=False,
        )
        try:
            response: httpx.Response = retrying(self._attempt, path, params, weight)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            assert isinstance(last, _Retryable)
            err = last.error
            msg = f"{err} (gave up after {attempts} attempts)"
            final: DataSourceError
            if isinstance(err, RateLimitError):
                final = RateLimitError(
                    msg, status=err.status, code=err.code, retry_after_s=err.retry_after_s
                )
            elif isinstance(err, ExchangeAPIError):
                final = ExchangeAPIError(msg, status=err.status, code=err.code)
            else:
                final = DataSourceError(msg)
            raise final from (err.__cause__ or err)
        return response

    def _attempt(self, path: str, params: Mapping[str, str | int], weight: int) -> httpx.Response:
        self._weights.acquire(weight)
        url = f"{self.base_url}{path}"
        self.requests_sent += 1
        try:
            response = self._http.get(path, params=dict(params))
        except httpx.TimeoutException as exc:
            err = DataSourceError(
                f"GET {url} timed out; Binance may be slow or unreachable — retry later or "
                "raise the timeout"
            )
            err.__cause__ = exc
            raise _Retryable(err) from exc
        except httpx.RequestError as exc:
            err = DataSourceError(
                f"GET {url} failed: {exc.__class__.__name__}: {exc}; check the network and the "
                "base URL (--base-url / QUANTFORGE_BINANCE_BASE_URL)"
            )
            err.__cause__ = exc
            raise _Retryable(err) from exc
        # the bare header is the pre-2019 name of the 1-minute counter
        used = response.headers.get(_WEIGHT_HEADER) or response.headers.get("x-mbx-used-weight")
        log.debug("GET %s -> HTTP %d (used weight %s)", path, response.status_code, used)
        if used is not None and used.strip().isdigit():
            self._weights.observe(int(used))
        if response.status_code == 200:
            return response
        raise self._http_error(url, params, response)

    def _http_error(
        self, url: str, params: Mapping[str, str | int], response: httpx.Response
    ) -> Exception:
        status = response.status_code
        code: int | None = None
        text = response.text[:300]
        try:
            body = response.json()
            if isinstance(body, dict):
                code = int(body["code"]) if "code" in body else None
                text = str(body.get("msg", text))
        except (ValueError, TypeError):
            pass
        where = f"GET {url} {dict(params)}"
        if status in (418, 429):
            retry_after = _retry_after_s(response.headers.get("retry-after"))
            what = (
                "IP banned by Binance (HTTP 418)" if status == 418 else "rate limit hit (HTTP 429)"
            )
            rl = RateLimitError(
                f"{where}: {what}: {text}; wait {retry_after or 'a while'} s before retrying and "
                "lower the request rate",
                status=status,
                code=code,
                retry_after_s=retry_after,
            )
            if retry_after is not None and retry_after > self.max_wait_s:
                return rl  # too long to sleep through: report it now
            return _Retryable(rl, retry_after)
        if status >= 500:
            err = ExchangeAPIError(
                f"{where}: Binance server error HTTP {status}: {text}; the outcome is unknown, "
                "retry later",
                status=status,
                code=code,
            )
            return _Retryable(err)
        if code == _BAD_SYMBOL:
            return InvalidSymbolError(
                f"Binance does not know symbol {params.get('symbol')!r} ({text}); check the "
                "spelling (e.g. BTCUSDT, no slash) and that it trades on this venue",
                status=status,
                code=code,
            )
        if code == _BAD_INTERVAL:
            return InvalidSymbolError(
                f"Binance rejected interval {params.get('interval')!r} ({text}); use one of "
                f"{', '.join(BINANCE_INTERVALS)}",
                status=status,
                code=code,
            )
        if status in (403, 451):
            # WAF block or a restricted location (e.g. api.binance.com from the US)
            return ExchangeAPIError(
                f"{where}: refused with HTTP {status} ({text}); Binance blocks this client or "
                "location — use a host you may reach, e.g. --base-url "
                "https://data-api.binance.vision (market data only) or https://api.binance.us",
                status=status,
                code=code,
            )
        return ExchangeAPIError(
            f"{where}: HTTP {status} code {code}: {text}; fix the request parameters",
            status=status,
            code=code,
        )

    def _server_now_ms(self, response: httpx.Response) -> int:
        date = response.headers.get("date")
        if date is not None:
            try:
                return int(parsedate_to_datetime(date).timestamp() * 1000)
            except (TypeError, ValueError):
                log.debug("unparseable Date header %r; using the local clock", date)
        return int(self._clock() * 1000)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            msg = (
                f"GET {response.request.url} returned a body that is not JSON "
                f"({response.text[:120]!r}); check the base URL points at the Binance REST API"
            )
            raise DataFormatError(msg) from exc

    # -- klines ----------------------------------------------------------------------------
    def fetch_klines(
        self,
        symbol: str,
        interval: str,
        start: datetime | str | int,
        end: datetime | str | int,
        *,
        progress: ProgressCallback | None = None,
    ) -> pl.DataFrame:
        """Download the closed klines whose open time lies in ``[start, end)``.

        Parameters
        ----------
        symbol
            Binance symbol, e.g. ``BTCUSDT``.
        interval
            One of ``1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`` (``1mo`` = ``1M``).
        start, end
            Range of open times, start inclusive, end exclusive (datetime, ISO string, epoch ms).
        progress
            Called after each page with (bars so far, expected bars in the range).

        Returns
        -------
        polars.DataFrame
            Bars in the `quantforge.data.schema.BAR_SCHEMA` layout, sorted by ``open_time``,
            without duplicates. The bar still forming at the server's "now" is left out.

        Raises
        ------
        ConfigError
            Unknown interval or ``end <= start``.
        InvalidSymbolError
            Unknown symbol (no retry).
        RateLimitError, DataSourceError
            When retries are exhausted.
        """
        symbol = symbol.strip().upper()
        iv = _binance_interval(interval)
        start_ms, end_ms = _range_ms(start, end)
        expected = _expected_bars(iv, start_ms, end_ms)
        cols: list[list[Any]] = [[] for _ in range(11)]
        cursor = start_ms
        last_open = -1
        while cursor < end_ms:
            params: dict[str, str | int] = {
                "symbol": symbol,
                "interval": iv,
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": self.page_limit,
            }
            response = self._get("/api/v3/klines", params)
            now_ms = self._server_now_ms(response)
            page = self._json(response)
            _expect_list(page, f"klines {symbol} {iv}")
            unfinished = False
            for row in page:
                if not isinstance(row, list) or len(row) < 11:
                    msg = (
                        f"klines {symbol} {iv}: row {str(row)[:80]} is not a 12-field kline; check "
                        "that the base URL serves the Binance spot API"
                    )
                    raise DataFormatError(msg)
                open_time, close_time = int(row[0]), int(row[6])
                if open_time <= last_open:
                    log.warning("dropping repeated kline %s %s", symbol, _fmt_ms(open_time))
                    continue
                if open_time < start_ms or open_time >= end_ms:
                    continue
                if close_time >= now_ms:
                    unfinished = True  # still forming at the server's clock: not a bar yet
                    break
                for j, idx in enumerate((0, 1, 2, 3, 4, 5, 7, 8, 9, 10)):
                    cols[j].append(row[idx])
                last_open = open_time
            if progress is not None:
                progress(len(cols[0]), max(expected, len(cols[0])))
            if unfinished or len(page) < self.page_limit or not page:
                break
            next_cursor = int(page[-1][0]) + 1
            if next_cursor <= cursor:
                msg = f"klines paging for {symbol} {iv} did not advance at {_fmt_ms(cursor)}"
                raise DataSourceError(msg)
            cursor = next_cursor
        return _klines_frame(cols, symbol, iv)

    # -- trades ----------------------------------------------------------------------------
    def fetch_agg_trades(
        self,
        symbol: str,
        start: datetime | str | int,
        end: datetime | str | int,
        *,
        progress: ProgressCallback | None = None,
    ) -> pl.DataFrame:
        """Download aggregate trades with trade time in ``[start, end)``.

        The first page is located by time, the following ones by ``fromId`` (last id + 1),
        which is how Binance pages aggregate trades without gaps or repeats.

        Returns
        -------
        polars.DataFrame
            ``time`` (Datetime us UTC), ``trade_id`` (aggregate id), ``price``, ``qty``,
            ``first_trade_id``, ``last_trade_id``, ``is_buyer_maker``, ``is_best_match``,
            sorted by ``trade_id``.

        Raises
        ------
        InvalidSymbolError, RateLimitError, DataSourceError
            As for `fetch_klines`.
        """
        symbol = symbol.strip().upper()
        start_ms, end_ms = _range_ms(start, end)
        rows: list[Mapping[str, Any]] = []
        params: dict[str, str | int] = {
            "symbol": symbol,
            "startTime": start_ms,
            "endTime": end_ms - 1,
            "limit": self.page_limit,
        }
        span = max(end_ms - start_ms, 1)
        while True:
            page = self._json(self._get("/api/v3/aggTrades", params))
            _expect_list(page, f"aggTrades {symbol}")
            done = len(page) < self.page_limit
            last_id = rows[-1]["a"] if rows else -1
            for item in page:
                if int(item["T"]) >= end_ms:
                    done = True
                    break
                if int(item["a"]) <= last_id or int(item["T"]) < start_ms:
                    continue
                rows.append(item)
                last_id = int(item["a"])
            if progress is not None and rows:
                progress(min(int(rows[-1]["T"]) - start_ms, span), span)
            if done or not page:
                break
            params = {"symbol": symbol, "fromId": int(page[-1]["a"]) + 1, "limit": self.page_limit}
        if progress is not None:
            progress(span, span)
        return _agg_trades_frame(rows, symbol)

    def fetch_historical_trades(
        self,
        symbol: str,
        from_id: int,
        limit_total: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> pl.DataFrame:
        """Download up to ``limit_total`` individual trades starting at trade id ``from_id``.

        Returns
        -------
        polars.DataFrame
            ``time`` (Datetime us UTC), ``trade_id``, ``price``, ``qty``, ``quote_qty``,
            ``is_buyer_maker``, ``is_best_match``, sorted by ``trade_id``.
        """
        symbol = symbol.strip().upper()
        if limit_total <= 0 or from_id < 0:
            msg = f"need from_id >= 0 and limit_total > 0, got {from_id}, {limit_total}"
            raise ConfigError(msg)
        rows: list[Mapping[str, Any]] = []
        next_id = from_id
        while len(rows) < limit_total:
            want = min(self.page_limit, limit_total - len(rows))
            params: dict[str, str | int] = {"symbol": symbol, "fromId": next_id, "limit": want}
            page = self._json(self._get("/api/v3/historicalTrades", params))
            _expect_list(page, f"historicalTrades {symbol}")
            for item in page:
                if int(item["id"]) >= next_id and len(rows) < limit_total:
                    rows.append(item)
                    next_id = int(item["id"]) + 1
            if progress is not None:
                progress(len(rows), limit_total)
            if len(page) < want:
                break
        return _trades_frame(rows, symbol)

    # -- exchangeInfo ----------------------------------------------------------------------
    def exchange_info(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolFilters]:
        """Return the trading filters per symbol (all symbols when ``symbols`` is None).

        Also adopts the ``REQUEST_WEIGHT`` per-minute limit it reports, unless the client was
        built with an explicit ``weight_limit_per_minute``.

        Raises
        ------
        InvalidSymbolError
            If a requested symbol is unknown.
        """
        params: dict[str, str | int] = {}
        if symbols is not None:
            wanted = [s.strip().upper() for s in symbols]
            if len(wanted) == 1:
                params["symbol"] = wanted[0]
            else:
                params["symbols"] = json.dumps(wanted, separators=(",", ":"))
        body = self._json(self._get("/api/v3/exchangeInfo", params))
        if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
            msg = "exchangeInfo response has no 'symbols' list; check the base URL"
            raise DataFormatError(msg)
        if not self._fixed_limit:
            for limit in body.get("rateLimits", []):
                if (
                    limit.get("rateLimitType") == "REQUEST_WEIGHT"
                    and limit.get("interval") == "MINUTE"
                    and int(limit.get("intervalNum", 0)) == 1
                ):
                    self._weights.limit = int(limit["limit"])
                    log.debug("REQUEST_WEIGHT limit from exchangeInfo: %d/min", self._weights.limit)
        return {
            str(entry["symbol"]): SymbolFilters.from_exchange_info(entry)
            for entry in body["symbols"]
        }


# -- helpers --------------------------------------------------------------------------------
def _retry_after_s(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:  # HTTP-date form
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(tz=UTC)).total_seconds(), 0.0)


def _expect_list(page: Any, what: str) -> None:
    if not isinstance(page, list):
        msg = f"{what}: the response is not a list ({str(page)[:80]}); check the base URL"
        raise DataFormatError(msg)


def _binance_interval(interval: str) -> str:
    canon = normalize_interval(interval)
    if canon not in BINANCE_INTERVALS:
        msg = f"Binance has no {canon!r} klines; use one of {', '.join(BINANCE_INTERVALS)}"
        raise ConfigError(msg)
    return canon


def _range_ms(start: datetime | str | int, end: datetime | str | int) -> tuple[int, int]:
    start_ms, end_ms = to_ms(start), to_ms(end)
    if end_ms <= start_ms:
        msg = f"end ({_fmt_ms(end_ms)}) must be after start ({_fmt_ms(start_ms)})"
        raise ConfigError(msg)
    return start_ms, end_ms


def _expected_bars(interval: str, start_ms: int, end_ms: int) -> int:
    if interval.endswith("M"):
        a = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        b = datetime.fromtimestamp(end_ms / 1000, tz=UTC)
        months = (b.year - a.year) * 12 + b.month - a.month + 1
        return max(months // int(interval[:-1]), 1)
    return max(-(-(end_ms - start_ms) // interval_ms(interval)), 1)


def _decimal_column(values: list[Any], name: str, context: str) -> pl.Series:
    try:
        return pl.Series(name, values, dtype=pl.String).cast(pl.Float64, strict=True)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError, TypeError) as exc:
        msg = f"{context}: column {name!r} holds a value that is not a decimal number"
        raise DataFormatError(msg) from exc


def _klines_frame(cols: list[list[Any]], symbol: str, interval: str) -> pl.DataFrame:
    context = f"klines {symbol} {interval}"
    names = list(BAR_SCHEMA)
    series = [
        pl.Series("open_time", cols[0], dtype=pl.Int64)
        .cast(pl.Datetime("ms"))
        .dt.replace_time_zone("UTC")
    ]
    for j, name in enumerate(names[1:], start=1):
        if name == "trades":
            series.append(pl.Series(name, cols[j], dtype=pl.Int64))
        else:
            series.append(_decimal_column(cols[j], name, context))
    frame = pl.DataFrame(series)
    assert frame.schema["open_time"] == BAR_TIME_DTYPE
    return frame


def _epoch_ms_to_us(values: list[int]) -> pl.Series:
    return (
        (pl.Series("time", values, dtype=pl.Int64) * 1000)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )


def _agg_trades_frame(rows: list[Mapping[str, Any]], symbol: str) -> pl.DataFrame:
    context = f"aggTrades {symbol}"
    try:
        frame = pl.DataFrame(
            [
                _epoch_ms_to_us([int(r["T"]) for r in rows]),
                pl.Series("trade_id", [int(r["a"]) for r in rows], dtype=pl.Int64),
                _decimal_column([r["p"] for r in rows], "price", context),
                _decimal_column([r["q"] for r in rows], "qty", context),
                pl.Series("first_trade_id", [int(r["f"]) for r in rows], dtype=pl.Int64),
                pl.Series("last_trade_id", [int(r["l"]) for r in rows], dtype=pl.Int64),
                pl.Series("is_buyer_maker", [bool(r["m"]) for r in rows], dtype=pl.Boolean),
                pl.Series("is_best_match", [bool(r["M"]) for r in rows], dtype=pl.Boolean),
            ]
        )
    except KeyError as exc:
        msg = f"{context}: a trade object lacks key {exc}; expected keys a,p,q,f,l,T,m,M"
        raise DataFormatError(msg) from exc
    assert frame.schema["time"] == TRADE_TIME_DTYPE
    return frame


def _trades_frame(rows: list[Mapping[str, Any]], symbol: str) -> pl.DataFrame:
    context = f"historicalTrades {symbol}"
    try:
        return pl.DataFrame(
            [
                _epoch_ms_to_us([int(r["time"]) for r in rows]),
                pl.Series("trade_id", [int(r["id"]) for r in rows], dtype=pl.Int64),
                _decimal_column([r["price"] for r in rows], "price", context),
                _decimal_column([r["qty"] for r in rows], "qty", context),
                _decimal_column([r["quoteQty"] for r in rows], "quote_qty", context),
                pl.Series("is_buyer_maker", [bool(r["isBuyerMaker"]) for r in rows], pl.Boolean),
                pl.Series("is_best_match", [bool(r["isBestMatch"]) for r in rows], pl.Boolean),
            ]
        )
    except KeyError as exc:
        msg = f"{context}: a trade object lacks key {exc}; expected id,price,qty,quoteQty,time,..."
        raise DataFormatError(msg) from exc
