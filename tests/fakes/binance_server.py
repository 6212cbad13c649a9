"""A loopback fake of the Binance REST API and of data.binance.vision, for integration tests.

`FakeBinance` runs a real HTTP server on 127.0.0.1 (ephemeral port, one thread per request)
and answers like Binance does (docs/binance-formats.md):

* ``/api/v3/klines``: 12-element rows, oldest first, ``open_time >= startTime`` and
  ``open_time <= endTime`` (both inclusive), ``limit`` default 500 / max 1000, rows up to and
  including the bar that is still forming at the server's "now" (``now_ms``). Bar values come
  from a real 1m frame when one is registered for the symbol (`add_real_1m`, e.g. the slice of
  ``shared/data/BTCUSDT-1m.parquet`` a test needs), otherwise from a deterministic seeded
  synthetic series (`synthetic_bar`) defined on every interval grid from the listing time on;
  optional maintenance gaps produce missing bars.
* ``/api/v3/aggTrades`` from registered aggregate-trade objects (e.g. the real XRPETH body):
  ``fromId`` or ``startTime``/``endTime``, ``limit``.
* ``/api/v3/exchangeInfo``: a registered body (e.g. the real 2021-10-12 capture), filtered by
  ``symbol``/``symbols``; unknown symbols → HTTP 400 ``{"code":-1121,"msg":"Invalid symbol."}``.
* ``X-MBX-USED-WEIGHT-1M`` on every response from a per-window weight counter (window length,
  limit and "other traffic" weight are settable); over the limit → 429 with Retry-After.
* Scripted failures (`script`): 429/418 with Retry-After, 500/503, a hanging response, any body.
* Static files (`add_file`) for the public-dump downloader; anything else → 404.

Every request is recorded (`requests`) with its path, query parameters and arrival time.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WEIGHTS = {
    "/api/v3/klines": 2,
    "/api/v3/aggTrades": 4,
    "/api/v3/historicalTrades": 25,
    "/api/v3/exchangeInfo": 20,
}
INTERVALS_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
# Binance weeks open on Monday 00:00 UTC; the epoch (1970-01-01) was a Thursday.
_WEEK_OFFSET_MS = 4 * 86_400_000


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    params: dict[str, str]
    t: float  # time.time() at arrival
    status: int = 0


@dataclass
class Scripted:
    """A canned answer served (once) instead of the normal one."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0  # sleep this long before answering (client timeouts)


def ms(text: str) -> int:
    """Return epoch ms of an ISO date/time taken as UTC."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def add_months(epoch_ms: int, months: int) -> int:
    """Return the epoch ms of the month start ``months`` after the month holding ``epoch_ms``."""
    dt = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    index = dt.year * 12 + dt.month - 1 + months
    return calendar.timegm((index // 12, index % 12 + 1, 1, 0, 0, 0)) * 1000


def month_floor(epoch_ms: int) -> int:
    return add_months(epoch_ms, 0)


def interval_grid(
    interval: str, lo: int, hi: int, limit: int, first_open: int = 0
) -> Iterator[tuple[int, int]]:
    """Yield (open_time, nominal close_time) of bars with lo <= open_time <= hi, at most limit."""
    lo = max(lo, first_open)
    count = 0
    if interval.endswith("M"):
        step = int(interval[:-1])
        t = month_floor(lo)
        if t < lo:
            t = add_months(t, step)
        while t <= hi and count < limit:
            nxt = add_months(t, step)
            yield t, nxt - 1
            count += 1
            t = nxt
        return
    size = INTERVALS_MS[interval]
    offset = _WEEK_OFFSET_MS if interval == "1w" else 0
    t = -(-(lo - offset) // size) * size + offset
    while t <= hi and count < limit:
        yield t, t + size - 1
        count += 1
        t += size


def _units(key: str, n: int) -> list[float]:
    """Return n deterministic uniforms in [0, 1) derived from ``key`` (one hash call)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8 * n).digest()
    return [int.from_bytes(digest[8 * i : 8 * i + 8], "big") / 2**64 for i in range(n)]


def synthetic_bar(symbol: str, interval: str, open_time: int, close_time: int) -> list[Any]:
    """Return the deterministic synthetic kline row (Binance JSON shape) for one bar."""
    u_close, u_high, u_low, u_vol, u_taker, u_trades = _units(f"{symbol}|{interval}|{open_time}", 6)
    base = 20_000.0 + 5_000.0 * math.sin(open_time / 3.0e9)
    open_ = round(base, 2)
    close = round(base * (1.0 + (u_close - 0.5) * 0.01), 2)
    high = round(max(open_, close) * (1.0 + 0.004 * u_high), 2)
    low = round(min(open_, close) * (1.0 - 0.004 * u_low), 2)
    volume = round(1.0 + 100.0 * u_vol, 5)
    taker = round(volume * u_taker, 5)
    trades = 1 + int(5000 * u_trades)
    mid = (open_ + close) / 2
    return [
        open_time,
        f"{open_:.8f}",
        f"{high:.8f}",
        f"{low:.8f}",
        f"{close:.8f}",
        f"{volume:.8f}",
        close_time,
        f"{volume * mid:.8f}",
        trades,
        f"{taker:.8f}",
        f"{taker * mid:.8f}",
        "0",
    ]


@dataclass
class _Symbol:
    first_open: int
    last_open: int | None = None  # no bars after this (real series end)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) with no bars
    real_1m: dict[int, list[Any]] | None = None
    agg_trades: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)


class FakeBinance:
    """The fake server; use as a context manager (``with FakeBinance() as fake: fake.url``).

    Parameters
    ----------
    now_ms
        The server clock used for "which bar is still forming" and the ``Date`` header;
        None follows the wall clock.
    weight_limit, weight_window_s, background_weight
        Weight allowed per window, the window length and weight used by "other traffic" in every
        window (so the client must read ``X-MBX-USED-WEIGHT-1M`` to know the real usage).
    """

    def __init__(
        self,
        *,
        now_ms: int | None = None,
        weight_limit: int = 6000,
        weight_window_s: float = 60.0,
        background_weight: int = 0,
    ) -> None:
        self.now_ms = now_ms
        self.weight_limit = weight_limit
        self.weight_window_s = weight_window_s
        self.background_weight = background_weight
        self.symbols: dict[str, _Symbol] = {}
        self.exchange_info_body: dict[str, Any] | None = None
        self.files: dict[str, bytes] = {}
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Scripted]] = {}
        self._lock = threading.Lock()
        self._window = -1
        self._used = 0
        self._stop = threading.Event()
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- configuration ------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_symbol(
        self, symbol: str, first_open: int, gaps: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Serve synthetic klines for ``symbol`` from ``first_open`` on (minus ``gaps``)."""
        self.symbols[symbol] = _Symbol(first_open=first_open, gaps=list(gaps))

    def add_real_1m(self, symbol: str, rows: Sequence[Sequence[Any]]) -> None:
        """Serve these 12-field kline rows as the 1m klines of ``symbol`` (other intervals stay
        synthetic)."""
        sym = self.symbols.setdefault(symbol, _Symbol(first_open=int(rows[0][0])))
        sym.real_1m = {int(r[0]): list(r) for r in rows}
        sym.first_open = min(sym.real_1m)
        sym.last_open = max(sym.real_1m)

    def add_agg_trades(self, symbol: str, trades: Sequence[Mapping[str, Any]]) -> None:
        """Serve these aggregate-trade objects (sorted by id) for ``symbol``."""
        sym = self.symbols.setdefault(symbol, _Symbol(first_open=0))
        sym.agg_trades = sorted((dict(t) for t in trades), key=lambda t: int(t["a"]))

    def add_trades(self, symbol: str, trades: Sequence[Mapping[str, Any]]) -> None:
        """Serve these trade objects (``id, price, qty, quoteQty, time, ...``) for
        ``/api/v3/historicalTrades``."""
        sym = self.symbols.setdefault(symbol, _Symbol(first_open=0))
        sym.trades = sorted((dict(t) for t in trades), key=lambda t: int(t["id"]))

    def add_file(self, path: str, content: bytes) -> None:
        """Serve ``content`` at ``path`` (e.g. ``/data/spot/daily/klines/...zip``)."""
        self.files[path] = content

    def script(self, path: str, *answers: Scripted) -> None:
        """Queue canned answers for ``path``; each is used once, in order."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(answers)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> FakeBinance:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- behaviour ------------------------------------------------------------------------
    def clock_ms(self) -> int:
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    def _charge(self, path: str) -> tuple[int, bool]:
        """Count the weight of a request; return (used in this window, over the limit)."""
        weight = WEIGHTS.get(path, 1)
        with self._lock:
            window = math.floor(time.time() / self.weight_window_s)
            if window != self._window:
                self._window = window
                self._used = self.background_weight
            if self._used + weight > self.weight_limit:
                return self._used, True
            self._used += weight
            return self._used, False

    def _retry_after_window(self) -> int:
        now = time.time()
        rest = (math.floor(now / self.weight_window_s) + 1) * self.weight_window_s - now
        return max(1, math.ceil(rest))

    def _next_script(self, path: str) -> Scripted | None:
        with self._lock:
            queue = self._scripts.get(path)
            return queue.popleft() if queue else None

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path in self.files:
            return 200, self.files[path], {"Content-Type": "application/octet-stream"}
        if not path.startswith("/api/"):
            return 404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "text/xml"}
        used, over = self._charge(path)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if over:
            headers["Retry-After"] = str(self._retry_after_window())
            return 429, {"code": -1003, "msg": "Too much request weight used."}, headers
        try:
            if path == "/api/v3/klines":
                return 200, self._klines(params), headers
            if path == "/api/v3/aggTrades":
                return 200, self._agg_trades(params), headers
            if path == "/api/v3/historicalTrades":
                return 200, self._historical_trades(params), headers
            if path == "/api/v3/exchangeInfo":
                return 200, self._exchange_info(params), headers
            if path == "/api/v3/time":
                return 200, {"serverTime": self.clock_ms()}, headers
        except _ApiError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}, headers
        return 404, {"code": -1, "msg": f"no such endpoint {path}"}, headers

    def _symbol(self, params: Mapping[str, str]) -> _Symbol:
        name = params.get("symbol", "")
        if name not in self.symbols:
            raise _ApiError(400, -1121, "Invalid symbol.")
        return self.symbols[name]

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        sym = self._symbol(params)
        interval = params.get("interval", "")
        if interval not in INTERVALS_MS and interval != "1M":
            raise _ApiError(400, -1120, "Invalid interval.")
        limit = int(params.get("limit", "500"))
        if not 1 <= limit <= 1000:
            raise _ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        now = self.clock_ms()
        lo = int(params.get("startTime", "0"))
        hi = min(int(params.get("endTime", str(now))), now)  # nothing opens after "now"
        if sym.last_open is not None and interval == "1m":
            hi = min(hi, sym.last_open)
        rows: list[list[Any]] = []
        lo_cursor = lo
        # oldest first; skip gap slots without letting them count against the limit
        while len(rows) < limit:
            batch = list(interval_grid(interval, lo_cursor, hi, limit, sym.first_open))
            if not batch:
                break
            for open_time, close_time in batch:
                if any(g0 <= open_time < g1 for g0, g1 in sym.gaps):
                    continue
                if interval == "1m" and sym.real_1m is not None:
                    if open_time not in sym.real_1m:
                        continue
                    row = sym.real_1m[open_time]
                else:
                    row = synthetic_bar(params["symbol"], interval, open_time, close_time)
                rows.append(row)
                if len(rows) == limit:
                    break
            lo_cursor = batch[-1][0] + 1
        return rows

    def _agg_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        sym = self._symbol(params)
        limit = int(params.get("limit", "500"))
        if not 1 <= limit <= 1000:
            raise _ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        trades = sym.agg_trades
        if "fromId" in params:
            if "startTime" in params or "endTime" in params:
                raise _ApiError(400, -1128, "Combination of optional parameters invalid.")
            start_id = int(params["fromId"])
            picked = [t for t in trades if int(t["a"]) >= start_id]
        elif "startTime" in params or "endTime" in params:
            lo = int(params.get("startTime", "0"))
            hi = int(params.get("endTime", str(2**62)))
            picked = [t for t in trades if lo <= int(t["T"]) <= hi]
        else:
            picked = trades[-limit:]
        return picked[:limit]

    def _historical_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        sym = self._symbol(params)
        limit = int(params.get("limit", "500"))
        if not 1 <= limit <= 1000:
            raise _ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if "fromId" not in params:
            return sym.trades[-limit:]
        start_id = int(params["fromId"])
        return [t for t in sym.trades if int(t["id"]) >= start_id][:limit]

    def _exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        if self.exchange_info_body is None:
            raise _ApiError(500, -1000, "no exchangeInfo registered in the fake")
        body = self.exchange_info_body
        wanted: list[str] | None = None
        if "symbol" in params:
            wanted = [params["symbol"]]
        elif "symbols" in params:
            wanted = list(json.loads(params["symbols"]))
        if wanted is None:
            return body
        by_name = {s["symbol"]: s for s in body["symbols"]}
        for name in wanted:
            if name not in by_name:
                raise _ApiError(400, -1121, "Invalid symbol.")
        return {**body, "symbols": [by_name[name] for name in wanted]}


class _ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _make_handler(fake: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(fake.clock_ms() / 1000, usegmt=True)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            record = Recorded(parts.path, params, time.time())
            fake.requests.append(record)
            scripted = fake._next_script(parts.path)
            if scripted is not None:
                if scripted.hang_s > 0 and fake._stop.wait(scripted.hang_s):
                    return
                status, body, headers = scripted.status, scripted.body, dict(scripted.headers)
                if parts.path.startswith("/api/"):
                    headers.setdefault("X-MBX-USED-WEIGHT-1M", "1")
            else:
                status, body, headers = fake.answer(parts.path, params)
            record.status = status
            if isinstance(body, bytes):
                payload = body
            else:
                payload = json.dumps(body, separators=(",", ":")).encode()
                headers.setdefault("Content-Type", "application/json;charset=UTF-8")
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (timeout test)

    return Handler
