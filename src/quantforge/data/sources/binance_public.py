"""Download Binance public-data dumps (data.binance.vision) and parse them.

A dump is a zip holding one CSV, published with a sibling ``<name>.zip.CHECKSUM`` (SHA-256).
`BinancePublicData.download` fetches the checksum first (a 404 there means the file is not
published yet, and nothing large is downloaded), streams the zip into a temporary file in the
destination folder while hashing it, verifies the hash, renames the file into place, writes the
checksum beside it and parses it with `quantforge.data.sources.binance_dumps.read_binance_dump`.

URL layout (docs/binance-formats.md §7)::

    {base}/data/{spot|futures/um|futures/cm}/{daily|monthly}/{klines|trades|aggTrades}/{SYMBOL}/
        [{interval}/]{SYMBOL}-{interval|trades|aggTrades}-{YYYY-MM-DD|YYYY-MM}.zip

The monthly kline interval ``1M`` is written ``1mo`` in paths and names; ``3d``, ``1w`` and
``1mo`` exist only as monthly files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from quantforge.config import DEFAULT_BINANCE_DATA_URL
from quantforge.data.schema import AGG_TRADES_KIND, BINANCE_INTERVALS, TRADES_KIND
from quantforge.data.sources.binance_dumps import KLINES_KIND, DumpFile, read_binance_dump
from quantforge.errors import ChecksumError, ConfigError, DataSourceError, NotFoundError

__all__ = [
    "DUMP_MARKETS",
    "BinancePublicData",
    "DumpSpec",
    "dump_periods",
    "plan_dumps",
]

log = logging.getLogger(__name__)

#: market name → path segment on data.binance.vision
DUMP_MARKETS: Final = {"spot": "spot", "futures-um": "futures/um", "futures-cm": "futures/cm"}
_KINDS: Final = (KLINES_KIND, TRADES_KIND, AGG_TRADES_KIND)
_MONTHLY_ONLY: Final = ("3d", "1w", "1M")
_SHA256_RE: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK: Final = 1 << 20

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DumpSpec:
    """One dump file: what it holds and where it lives.

    Attributes
    ----------
    symbol
        e.g. ``BTCUSDT`` (upper case).
    kind
        ``klines``, ``trades`` or ``aggTrades``.
    period
        The day (daily files) or any day of the month (monthly files).
    frequency
        ``daily`` or ``monthly``.
    interval
        Kline interval in canonical spelling (``1m``, ``1M``...); None for trades.
    market
        ``spot``, ``futures-um`` or ``futures-cm``.
    """

    symbol: str
    kind: str
    period: date
    frequency: str = "daily"
    interval: str | None = None
    market: str = "spot"

    @classmethod
    def create(
        cls,
        symbol: str,
        kind: str,
        period: date | datetime | str,
        *,
        interval: str | None = None,
        frequency: str = "daily",
        market: str = "spot",
    ) -> DumpSpec:
        """Validate the parts and build a spec.

        Raises
        ------
        ConfigError
            Unknown kind, market, frequency or interval; an interval for trades or none for
            klines; a daily file for a monthly-only interval.

        Examples
        --------
        >>> DumpSpec.create("btcusdt", "klines", "2021-01", interval="15m",
        ...                 frequency="monthly").file_name
        'BTCUSDT-15m-2021-01.zip'
        """
        if kind not in _KINDS:
            msg = f"unknown dump kind {kind!r}; use one of {', '.join(_KINDS)}"
            raise ConfigError(msg)
        if market not in DUMP_MARKETS:
            msg = f"unknown market {market!r}; use one of {', '.join(DUMP_MARKETS)}"
            raise ConfigError(msg)
        if frequency not in ("daily", "monthly"):
            msg = f"unknown frequency {frequency!r}; use daily or monthly"
            raise ConfigError(msg)
        iv: str | None = None
        if kind == KLINES_KIND:
            if interval is None:
                msg = "kline dumps need an interval, e.g. interval='1m'"
                raise ConfigError(msg)
            iv = "1M" if interval.strip() in ("1M", "1mo") else interval.strip()
            if iv not in BINANCE_INTERVALS:
                msg = f"Binance has no {interval!r} kline dumps; use one of {BINANCE_INTERVALS}"
                raise ConfigError(msg)
            if frequency == "daily" and iv in _MONTHLY_ONLY:
                msg = f"{iv} kline dumps are published monthly only; use frequency='monthly'"
                raise ConfigError(msg)
        elif interval is not None:
            msg = f"{kind} dumps have no interval (got {interval!r})"
            raise ConfigError(msg)
        return cls(symbol.strip().upper(), kind, _to_date(period), frequency, iv, market)

    @property
    def _what(self) -> str:
        if self.interval is None:
            return self.kind
        return "1mo" if self.interval == "1M" else self.interval

    @property
    def file_name(self) -> str:
        """The zip's name, e.g. ``BTCUSDT-1m-2024-12-31.zip``."""
        stamp = self.period.strftime("%Y-%m-%d" if self.frequency == "daily" else "%Y-%m")
        return f"{self.symbol}-{self._what}-{stamp}.zip"

    @property
    def path(self) -> str:
        """The URL path below the base URL, starting with ``/data/``."""
        folder = f"/data/{DUMP_MARKETS[self.market]}/{self.frequency}/{self.kind}/{self.symbol}"
        if self.interval is not None:
            folder += f"/{self._what}"
        return f"{folder}/{self.file_name}"

    def url(self, base_url: str = DEFAULT_BINANCE_DATA_URL) -> str:
        """Return the full URL of the zip (append ``.CHECKSUM`` for its checksum)."""
        return base_url.rstrip("/") + self.path


def dump_periods(start: date | str, end: date | str, frequency: str) -> list[date]:
    """Return the days (daily) or month starts (monthly) of the files covering [start, end).

    Examples
    --------
    >>> [d.isoformat() for d in dump_periods("2024-01-15", "2024-03-01", "monthly")]
    ['2024-01-01', '2024-02-01']
    """
    first, stop = _to_date(start), _to_date(end)
    out: list[date] = []
    if frequency == "daily":
        day = first
        while day < stop:
            out.append(day)
            day = date.fromordinal(day.toordinal() + 1)
        return out
    if frequency != "monthly":
        msg = f"unknown frequency {frequency!r}; use daily or monthly"
        raise ConfigError(msg)
    month = first.replace(day=1)
    while month < stop:
        out.append(month)
        month = _next_month(month)
    return out


def plan_dumps(
    symbol: str,
    kind: str,
    start: date | str,
    end: date | str,
    *,
    interval: str | None = None,
    market: str = "spot",
) -> list[DumpSpec]:
    """Return the dump files covering the days in [start, end): monthly files for whole
    months, daily files for the partial months at either end (monthly only for 3d/1w/1M).

    Examples
    --------
    >>> [s.file_name for s in plan_dumps("BTCUSDT", "aggTrades", "2024-01-30", "2024-03-02")]
    ['BTCUSDT-aggTrades-2024-01-30.zip', 'BTCUSDT-aggTrades-2024-01-31.zip', \
'BTCUSDT-aggTrades-2024-02.zip', 'BTCUSDT-aggTrades-2024-03-01.zip']
    """
    first, stop = _to_date(start), _to_date(end)
    iv = None if interval is None else ("1M" if interval.strip() in ("1M", "1mo") else interval)
    if iv in _MONTHLY_ONLY:
        return [
            DumpSpec.create(symbol, kind, m, interval=iv, frequency="monthly", market=market)
            for m in dump_periods(first, stop, "monthly")
        ]
    specs: list[DumpSpec] = []
    day = first
    while day < stop:
        next_month = _next_month(day)
        if day.day == 1 and next_month <= stop:
            specs.append(
                DumpSpec.create(symbol, kind, day, interval=iv, frequency="monthly", market=market)
            )
            day = next_month
        else:
            specs.append(DumpSpec.create(symbol, kind, day, interval=iv, market=market))
            day = date.fromordinal(day.toordinal() + 1)
    return specs


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class _Retryable(Exception):
    def __init__(self, error: DataSourceError) -> None:
        super().__init__(str(error))
        self.error = error


class BinancePublicData:
    """Downloader for data.binance.vision dumps with checksum verification.

    Parameters
    ----------
    base_url
        Root of the dump host (`Settings.binance_data_url`, env ``QUANTFORGE_BINANCE_DATA_URL``).
    timeout_s
        Per-request timeout in seconds (between bytes for the zip stream).
    max_retries
        Retries for 5xx, timeouts and connection errors (exponential backoff with jitter).
    backoff_initial_s, backoff_max_s
        Backoff bounds.
    sleep
        Sleep function (injected by tests).

    Examples
    --------
    >>> with BinancePublicData() as dumps:  # doctest: +SKIP
    ...     spec = DumpSpec.create("BTCUSDT", "klines", "2024-12-31", interval="1m")
    ...     bars = dumps.download(spec, "downloads").frame
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BINANCE_DATA_URL,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            msg = f"dump base URL {base_url!r} must start with http:// or https://"
            raise ConfigError(msg)
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s), headers={"User-Agent": "quantforge"}
        )

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

    def download(
        self,
        spec: DumpSpec,
        folder: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        overwrite: bool = False,
    ) -> DumpFile:
        """Download one dump into ``folder``, verify its SHA-256 and parse it.

        A file already in ``folder`` whose hash matches the published checksum is not downloaded
        again unless ``overwrite`` is set.

        Parameters
        ----------
        spec
            Which file (see `DumpSpec.create`).
        folder
            Destination folder (created when missing); the zip and its ``.CHECKSUM`` land there.
        progress
            Called with (bytes so far, total bytes or 0 when unknown) while the zip streams.
        overwrite
            Download even when a verified copy is already there.

        Returns
        -------
        DumpFile
            The parsed file (``checksum_verified`` is True).

        Raises
        ------
        NotFoundError
            The file is not published (HTTP 404), e.g. a day that has not ended yet.
        ChecksumError
            The downloaded bytes do not match the published SHA-256 (nothing is kept).
        DataSourceError
            Network failure or server error after the retries.
        DataFormatError
            The file is not a valid Binance dump.
        """
        dest_dir = Path(folder)
        dest_dir.mkdir(parents=True, exist_ok=True)
        url = spec.url(self.base_url)
        target = dest_dir / spec.file_name
        sidecar = dest_dir / (spec.file_name + ".CHECKSUM")

        checksum_text = self._fetch_bytes(url + ".CHECKSUM", spec).decode("utf-8", "replace")
        published = _parse_checksum(checksum_text, url)
        if not overwrite and target.is_file() and _sha256_file(target) == published:
            log.info("%s already downloaded and verified; not fetching it again", target)
        else:
            tmp = self._stream_to_temp(url, spec, dest_dir, progress)
            try:
                actual = _sha256_file(tmp)
                if actual != published:
                    msg = (
                        f"{spec.file_name}: downloaded SHA-256 is {actual} but {url}.CHECKSUM "
                        f"publishes {published}; the download is corrupt or the file was replaced "
                        "while downloading — download it again"
                    )
                    raise ChecksumError(msg)
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    tmp.unlink()
        _write_atomic(sidecar, checksum_text.encode())
        kind = spec.kind
        return read_binance_dump(target, kind=kind, verify_checksum=True)

    def iter_downloads(
        self,
        specs: list[DumpSpec],
        folder: str | os.PathLike[str],
        *,
        skip_missing: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Iterator[DumpFile]:
        """Download several dumps in order, yielding each parsed file.

        With ``skip_missing`` a file that is not published (404) is logged and skipped.
        """
        for spec in specs:
            try:
                yield self.download(spec, folder, progress=progress)
            except NotFoundError:
                if not skip_missing:
                    raise
                log.warning("%s is not published; skipped", spec.url(self.base_url))

    def download_range(
        self,
        specs: list[DumpSpec],
        folder: str | os.PathLike[str],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> list[DumpFile]:
        """Download planned dumps (see `plan_dumps`), skipping files that are not published.

        A monthly file that is not published yet (they appear on the first Monday of the next
        month) is replaced by the daily files of that month.

        Parameters
        ----------
        specs
            Files to fetch, in order.
        folder
            Destination folder.
        progress
            Called with (file name, bytes so far, total bytes) while each zip streams.

        Returns
        -------
        list[DumpFile]
            The parsed files that exist, in order.
        """
        out: list[DumpFile] = []
        queue = list(specs)
        while queue:
            spec = queue.pop(0)
            on_bytes = None
            if progress is not None:
                on_bytes = _bind(progress, spec.file_name)
            try:
                out.append(self.download(spec, folder, progress=on_bytes))
            except NotFoundError:
                if spec.frequency == "monthly" and spec.interval not in _MONTHLY_ONLY:
                    log.info("%s not published yet; using daily files", spec.file_name)
                    days = [
                        DumpSpec.create(
                            spec.symbol, spec.kind, day, interval=spec.interval, market=spec.market
                        )
                        for day in dump_periods(spec.period, _next_month(spec.period), "daily")
                    ]
                    queue[:0] = days
                else:
                    log.warning("%s is not published; skipped", spec.url(self.base_url))
        return out

    # -- HTTP --------------------------------------------------------------------------------
    def _retrying(self) -> Retrying:
        def wait(state: RetryCallState) -> float:
            exp = self.backoff_initial_s * 2.0 ** (state.attempt_number - 1)
            return min(exp, self.backoff_max_s) + random.uniform(0.0, self.backoff_initial_s)

        return Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait,
            sleep=self._sleep,
            reraise=False,
        )

    def _run(self, func: Callable[[], bytes | Path], url: str) -> bytes | Path:
        try:
            return self._retrying()(func)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            assert isinstance(last, _Retryable)
            msg = f"{last.error} (gave up after {self.max_retries + 1} attempts)"
            raise DataSourceError(msg) from (last.error.__cause__ or last.error)

    def _check(self, response: httpx.Response, url: str, spec: DumpSpec) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 404:
            msg = (
                f"{url} is not published (HTTP 404): check symbol, interval and date — daily "
                "files appear the day after, monthly ones on the first Monday of the next month"
            )
            raise NotFoundError(msg)
        err = DataSourceError(f"GET {url} failed with HTTP {status}; retry later")
        if status >= 500 or status == 429:
            raise _Retryable(err)
        raise err

    def _fetch_bytes(self, url: str, spec: DumpSpec) -> bytes:
        def attempt() -> bytes:
            try:
                response = self._http.get(url)
            except httpx.RequestError as exc:
                raise _transport_error(url, exc) from exc
            self._check(response, url, spec)
            return response.content

        result = self._run(attempt, url)
        assert isinstance(result, bytes)
        return result

    def _stream_to_temp(
        self, url: str, spec: DumpSpec, folder: Path, progress: ProgressCallback | None
    ) -> Path:
        def attempt() -> Path:
            fd, name = tempfile.mkstemp(prefix=f".{spec.file_name}.", suffix=".part", dir=folder)
            tmp = Path(name)
            ok = False
            try:
                with os.fdopen(fd, "wb") as out, self._http.stream("GET", url) as response:
                    self._check(response, url, spec)
                    total = int(response.headers.get("content-length", "0") or 0)
                    done = 0
                    for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                    out.flush()
                    os.fsync(out.fileno())
                ok = True
                return tmp
            except httpx.RequestError as exc:
                raise _transport_error(url, exc) from exc
            finally:
                if not ok and tmp.exists():
                    tmp.unlink()

        result = self._run(attempt, url)
        assert isinstance(result, Path)
        return result


def _bind(progress: Callable[[str, int, int], None], name: str) -> ProgressCallback:
    def callback(done: int, total: int) -> None:
        progress(name, done, total)

    return callback


def _transport_error(url: str, exc: httpx.RequestError) -> _Retryable:
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else f"failed: {exc!r}"
    err = DataSourceError(
        f"GET {url} {what}; check the network and the dump base URL (QUANTFORGE_BINANCE_DATA_URL)"
    )
    err.__cause__ = exc
    return _Retryable(err)


def _parse_checksum(text: str, url: str) -> str:
    token = text.split()[0] if text.split() else ""
    if not _SHA256_RE.match(token):
        msg = f"{url}.CHECKSUM does not hold a SHA-256 hex digest (got {text[:80]!r})"
        raise ChecksumError(msg)
    return token.lower()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, content: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _to_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date.fromisoformat(text + "-01")
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError as exc:
        msg = f"invalid date {value!r}; use YYYY-MM-DD (or YYYY-MM for monthly files)"
        raise ConfigError(msg) from exc
