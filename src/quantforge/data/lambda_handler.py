"""AWS Lambda entry point: the incremental kline sync (`sync_klines`) into an S3 catalog.

Deployed by ``deploy/aws/template.yaml`` and run by an EventBridge schedule every 15 minutes.
Settings come from environment variables; keys of the invocation event (top level, or inside
``detail`` for an EventBridge event with a custom input) override them:

=================================  ============  ==============================================
environment variable               event key     meaning
=================================  ============  ==============================================
``QUANTFORGE_CATALOG``             ``catalog``   full catalog URL, e.g. ``s3://bucket/prefix``
``QUANTFORGE_CATALOG_BUCKET``      ``bucket``    bucket, used when no catalog URL is given
``QUANTFORGE_CATALOG_PREFIX``      ``prefix``    key prefix inside the bucket (default ``catalog``)
``QUANTFORGE_SYMBOLS``             ``symbols``   comma-separated (or a JSON list in the event)
``QUANTFORGE_INTERVALS``           ``intervals`` comma-separated (or a JSON list in the event)
``QUANTFORGE_SINCE``               ``since``     start of empty datasets, ISO date (UTC)
``QUANTFORGE_EXCHANGE``            ``exchange``  catalog partition (default ``binance``)
``QUANTFORGE_BINANCE_BASE_URL``    ``base_url``  Binance REST root (default api.binance.com)
=================================  ============  ==============================================

``AWS_ENDPOINT_URL`` (an S3-compatible server) is honoured by the catalog. The handler returns
a JSON-able summary; when any dataset failed it logs the summary and raises, so the invocation
counts as an error in CloudWatch (the other datasets were still synced).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from quantforge.config import DEFAULT_BINANCE_BASE_URL
from quantforge.data.catalog import Catalog
from quantforge.data.sync import SyncConfig, SyncResult, sync_klines
from quantforge.errors import ConfigError, DataSourceError
from quantforge.logs import configure_logging

log = logging.getLogger(__name__)

__all__ = ["handler", "job_from"]

_ENV = {
    "catalog": "QUANTFORGE_CATALOG",
    "bucket": "QUANTFORGE_CATALOG_BUCKET",
    "prefix": "QUANTFORGE_CATALOG_PREFIX",
    "symbols": "QUANTFORGE_SYMBOLS",
    "intervals": "QUANTFORGE_INTERVALS",
    "since": "QUANTFORGE_SINCE",
    "exchange": "QUANTFORGE_EXCHANGE",
    "base_url": "QUANTFORGE_BINANCE_BASE_URL",
}


def _pick(key: str, event: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    detail = event.get("detail")
    for source in (event, detail if isinstance(detail, Mapping) else {}):
        if source.get(key) not in (None, ""):
            return source[key]
    value = environ.get(_ENV[key], "").strip()
    return value or None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value]


def job_from(event: Mapping[str, Any], environ: Mapping[str, str]) -> SyncConfig:
    """Build the sync job from the event and the environment (event keys win).

    Raises
    ------
    ConfigError
        No catalog/bucket, no symbols or intervals, or an invalid value (named in the message).
    """
    catalog = _pick("catalog", event, environ)
    if catalog is None:
        bucket = _pick("bucket", event, environ)
        if bucket is None:
            msg = (
                "no catalog: set QUANTFORGE_CATALOG=s3://bucket/prefix or "
                "QUANTFORGE_CATALOG_BUCKET (and optionally QUANTFORGE_CATALOG_PREFIX)"
            )
            raise ConfigError(msg)
        prefix = str(_pick("prefix", event, environ) or "catalog").strip("/")
        catalog = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    symbols = _as_list(_pick("symbols", event, environ))
    intervals = _as_list(_pick("intervals", event, environ))
    if not symbols or not intervals:
        msg = "nothing to sync: set QUANTFORGE_SYMBOLS and QUANTFORGE_INTERVALS (comma-separated)"
        raise ConfigError(msg)
    try:
        return SyncConfig(
            symbols=symbols,
            intervals=intervals,
            since=_pick("since", event, environ),
            exchange=_pick("exchange", event, environ) or "binance",
            catalog=str(catalog),
            base_url=_pick("base_url", event, environ) or DEFAULT_BINANCE_BASE_URL,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        msg = f"invalid sync settings: {problems}"
        raise ConfigError(msg) from exc


def _result_json(result: SyncResult) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "symbol": result.symbol,
        "interval": result.interval,
        "start": iso(result.start),
        "end": iso(result.end),
        "rows_fetched": result.rows_fetched,
        "rows_new": result.rows_new,
        "last": iso(result.last),
        "error": result.error,
    }


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Sync the configured symbols/intervals into the S3 catalog (Lambda entry point).

    Parameters
    ----------
    event
        The invocation event (EventBridge schedule or a manual test event); may be empty.
    context
        The Lambda context (unused).

    Returns
    -------
    dict
        ``catalog``, ``now``, ``rows_new`` (total), ``errors`` (count) and one entry per dataset
        in ``results``.

    Raises
    ------
    ConfigError
        The settings are incomplete or invalid.
    DataSourceError
        At least one dataset failed to sync (the summary is logged first).
    """
    from quantforge.data.sources.binance import BinanceClient

    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # only inside Lambda: leave a host's logging be
        configure_logging(os.environ.get("QUANTFORGE_LOG_LEVEL", "INFO"), json_output=True)
    job = job_from(event or {}, os.environ)
    now = datetime.now(UTC)
    catalog = Catalog(job.catalog or "")
    with BinanceClient(job.base_url or DEFAULT_BINANCE_BASE_URL) as client:
        results = sync_klines(
            catalog,
            client,
            job.symbols,
            job.intervals,
            now=now,
            since=job.since,
            exchange=job.exchange,
        )
    summary = {
        "catalog": catalog.root,
        "now": now.isoformat(),
        "rows_new": sum(r.rows_new for r in results),
        "errors": sum(r.error is not None for r in results),
        "results": [_result_json(r) for r in results],
    }
    log.info("sync summary", extra={"summary": summary})
    if summary["errors"]:
        failed = ", ".join(f"{r.symbol} {r.interval}: {r.error}" for r in results if r.error)
        msg = f"sync into {catalog.root} failed for {summary['errors']} dataset(s): {failed}"
        raise DataSourceError(msg)
    return summary
