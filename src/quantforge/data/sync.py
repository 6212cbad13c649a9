"""Incremental kline sync: fetch only the bars newer than what the catalog holds.

For every (symbol, interval) the sync starts at the stored ``last_time + interval`` (or at
``since`` when the dataset is empty) and stops before the bar that is still forming at ``now``,
so running it every 15 minutes from cron or a scheduled Lambda adds exactly the bars that closed
in between. Re-running is harmless: the catalog merges idempotently.

Config file (TOML or YAML, validated by `SyncConfig`)::

    # sync.toml
    symbols = ["BTCUSDT", "ETHUSDT"]      # required
    intervals = ["1m", "15m", "1h"]       # required
    since = "2024-01-01"                  # start of empty datasets (UTC); optional
    exchange = "binance"                  # catalog partition; optional
    catalog = "s3://my-bucket/catalog"    # optional; --catalog / QUANTFORGE_CATALOG win
    base_url = "https://api.binance.com"  # optional; --base-url wins
"""

from __future__ import annotations

import calendar
import logging
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from quantforge.data.catalog import Catalog
from quantforge.data.schema import BAR_TIME, interval_ms, normalize_interval
from quantforge.errors import ConfigError, QuantforgeError

log = logging.getLogger(__name__)

__all__ = [
    "KlineSource",
    "SyncConfig",
    "SyncResult",
    "bar_floor",
    "load_sync_config",
    "next_open",
    "sync_klines",
]

# Binance weeks open on Monday 00:00 UTC; the epoch (1970-01-01) was a Thursday.
_WEEK_OFFSET_MS = 4 * 86_400_000


class KlineSource(Protocol):
    """What the sync needs from a market-data client (`BinanceClient` satisfies it)."""

    def fetch_klines(
        self,
        symbol: str,
        interval: str,
        start: datetime,
        end: datetime,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> pl.DataFrame:
        """Return the closed bars with ``start <= open_time < end``."""
        ...


class SyncConfig(BaseModel):
    """A sync job read from a TOML/YAML file (see the module docstring for the format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbols: list[str] = Field(min_length=1)
    intervals: list[str] = Field(min_length=1)
    since: datetime | None = None
    exchange: str = "binance"
    catalog: str | None = None
    base_url: str | None = None

    @field_validator("symbols")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [s.strip().upper() for s in value]

    @field_validator("intervals")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        return [normalize_interval(v) for v in value]

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What the sync did for one dataset.

    ``start``/``end`` is the requested open-time range ``[start, end)`` (``start is None`` when
    nothing was requested); ``last`` is the newest stored bar afterwards; ``error`` holds the
    message when this dataset failed (the others still ran).
    """

    symbol: str
    interval: str
    start: datetime | None
    end: datetime
    rows_fetched: int
    rows_new: int
    last: datetime | None
    error: str | None = None


def load_sync_config(path: str | os.PathLike[str]) -> SyncConfig:
    """Read and validate a sync config file (``.toml``, ``.yaml`` or ``.yml``).

    Raises
    ------
    ConfigError
        The file is missing, unparsable, or a field is invalid (the message names the field).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read sync config {file}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    data: Any
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # the parsers raise their own error types; all mean "bad file"
        msg = f"cannot parse sync config {file}: {exc}"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        msg = f"sync config {file} must be a table of settings (symbols, intervals, ...)"
        raise ConfigError(msg)
    try:
        return SyncConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        msg = f"invalid sync config {file}: {problems}"
        raise ConfigError(msg) from exc


def bar_floor(moment: datetime, interval: str) -> datetime:
    """Return the open time of the bar (Binance grid) that contains ``moment``.

    Examples
    --------
    >>> bar_floor(datetime(2024, 5, 17, 10, 7, tzinfo=UTC), "15m")
    datetime.datetime(2024, 5, 17, 10, 0, tzinfo=datetime.timezone.utc)
    """
    iv = normalize_interval(interval)
    moment = moment.astimezone(UTC)
    if iv.endswith("M"):
        months = int(iv[:-1])
        index = moment.year * 12 + moment.month - 1
        index -= index % months
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    size = interval_ms(iv)
    offset = _WEEK_OFFSET_MS if iv.endswith("w") else 0
    epoch_ms = calendar.timegm(moment.timetuple()) * 1000 + moment.microsecond // 1000
    floored = (epoch_ms - offset) // size * size + offset
    return datetime.fromtimestamp(floored / 1000, tz=UTC)


def next_open(open_time: datetime, interval: str) -> datetime:
    """Return the open time of the bar after the one opening at ``open_time``."""
    iv = normalize_interval(interval)
    if iv.endswith("M"):
        months = int(iv[:-1])
        index = open_time.year * 12 + open_time.month - 1 + months
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    return open_time.astimezone(UTC) + timedelta(milliseconds=interval_ms(iv))


def sync_klines(
    catalog: Catalog,
    source: KlineSource,
    symbols: Sequence[str],
    intervals: Sequence[str],
    *,
    now: datetime,
    since: datetime | None = None,
    exchange: str = "binance",
    progress: Callable[[str, str, int, int], None] | None = None,
) -> list[SyncResult]:
    """Bring every (symbol, interval) dataset up to the last bar closed at ``now``.

    Parameters
    ----------
    catalog
        Where the bars go.
    source
        A kline client such as `quantforge.data.sources.binance.BinanceClient`.
    symbols, intervals
        Every combination is synced.
    now
        The current time (injected so tests and backfills control it).
    since
        Where an empty dataset starts (UTC); ignored for datasets that hold bars.
    exchange
        Catalog partition name.
    progress
        Called with (symbol, interval, bars so far, bars expected) while downloading.

    Returns
    -------
    list[SyncResult]
        One per dataset, in the order given. A dataset whose download or write failed with a
        quantforge error has ``error`` set; the others are still synced.

    Raises
    ------
    ConfigError
        A dataset is empty and ``since`` is None (nothing says where it should start).

    Examples
    --------
    >>> with BinanceClient() as client:  # doctest: +SKIP
    ...     sync_klines(Catalog("catalog"), client, ["BTCUSDT"], ["1m"], now=datetime.now(UTC))
    """
    now = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if since is not None:
        since = since.astimezone(UTC) if since.tzinfo is not None else since.replace(tzinfo=UTC)
    targets = [(s.strip().upper(), normalize_interval(i)) for s in symbols for i in intervals]
    lasts = {t: catalog.last_time(t[0], t[1], exchange=exchange) for t in targets}
    empty = [f"{s} {i}" for (s, i), last in lasts.items() if last is None]
    if empty and since is None:
        msg = (
            f"dataset(s) {', '.join(empty)} are empty in catalog {catalog.root}; give a start "
            "with --since 2024-01-01 (or `since` in the sync config)"
        )
        raise ConfigError(msg)
    results: list[SyncResult] = []
    for (symbol, iv), last in lasts.items():
        if last is not None:
            start = next_open(last, iv)
        else:
            assert since is not None  # checked above
            start = bar_floor(since, iv)
            if start < since:  # since falls inside a bar: start at the next whole bar
                start = next_open(start, iv)
        end = bar_floor(now, iv)  # open time of the bar still forming: exclusive end
        if start >= end:
            log.info("sync %s %s: up to date (last bar %s)", symbol, iv, last)
            results.append(SyncResult(symbol, iv, None, end, 0, 0, last))
            continue
        callback = None if progress is None else _bind_progress(progress, symbol, iv)
        try:
            bars = source.fetch_klines(symbol, iv, start, end, progress=callback)
            bars = bars.filter(
                (pl.col(BAR_TIME) >= start) & (pl.col(BAR_TIME) < end)
            )  # never store a bar outside the asked range, whatever the source did
            rows_new = 0
            if bars.height:
                report = catalog.write_bars(bars, symbol=symbol, interval=iv, exchange=exchange)
                rows_new = report.rows_new
            newest = catalog.last_time(symbol, iv, exchange=exchange)
        except QuantforgeError as exc:
            log.error("sync %s %s failed: %s", symbol, iv, exc)
            results.append(SyncResult(symbol, iv, start, end, 0, 0, last, error=str(exc)))
            continue
        log.info(
            "sync %s %s: %d bars fetched [%s, %s), %d new, last %s",
            symbol,
            iv,
            bars.height,
            start,
            end,
            rows_new,
            newest,
        )
        results.append(SyncResult(symbol, iv, start, end, bars.height, rows_new, newest))
    return results


def _bind_progress(
    progress: Callable[[str, str, int, int], None], symbol: str, interval: str
) -> Callable[[int, int], None]:
    def callback(done: int, total: int) -> None:
        progress(symbol, interval, done, total)

    return callback
