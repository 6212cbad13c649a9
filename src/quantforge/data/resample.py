"""Resample bars to a coarser interval (1m → 5m, 15m, 1h, 4h, 1d, 1w, 1M, any multiple).

Aggregation: open = first, high = max, low = min, close = last, volume / quote_volume /
taker_buy_* / trades = sums. Windows are aligned in UTC the way Binance aligns its klines: to the
epoch for fixed lengths (so 4h bars start at 00:00, 04:00, ...), to Monday 00:00 for weeks and to
the first of the month for ``1M``. A window is labelled by its start and is closed on the left.

Every output bar carries ``source_bars`` (how many input bars it was built from) and ``complete``
(``source_bars`` equals what the window should hold). Bars at the ends of the data and next to
gaps (exchange halts) are therefore marked incomplete rather than passed off as full ones; use
``drop_incomplete=True`` to drop them.
"""

from __future__ import annotations

import logging
from typing import Final

import polars as pl

from quantforge.data.schema import BAR_TIME, OHLCV, interval_every, interval_ms, normalize_interval
from quantforge.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = ["SUMMED_COLUMNS", "resample_bars"]

#: optional bar columns that are summed when present
SUMMED_COLUMNS: Final = ("quote_volume", "trades", "taker_buy_base", "taker_buy_quote")
_DAY_MS: Final = 86_400_000


def resample_bars(
    bars: pl.DataFrame,
    source_interval: str,
    target_interval: str,
    *,
    drop_incomplete: bool = False,
) -> pl.DataFrame:
    """Aggregate bars of ``source_interval`` into bars of ``target_interval``.

    Parameters
    ----------
    bars
        Bars with ``open_time`` (Datetime, UTC) and OHLCV, sorted, unique and on the source grid
        (run `quantforge.data.validate.check_bars` / ``split_quarantine`` first).
    source_interval, target_interval
        E.g. ``"1m"`` and ``"1h"``. The target must be a whole multiple of the source (months
        need a source that divides a day).
    drop_incomplete
        Drop windows that hold fewer source bars than they should instead of marking them.

    Returns
    -------
    polars.DataFrame
        ``open_time``, OHLCV, the summed optional columns present in the input, ``source_bars``
        (Int64) and ``complete`` (Boolean).

    Raises
    ------
    ConfigError
        If the target is not a multiple of the source.
    DataValidationError
        If the input has duplicate or off-grid timestamps.

    Examples
    --------
    >>> hourly = resample_bars(minute_bars, "1m", "1h")  # doctest: +SKIP
    >>> hourly.filter(pl.col("complete")).height  # doctest: +SKIP
    """
    src = normalize_interval(source_interval)
    dst = normalize_interval(target_interval)
    _check_compatible(src, dst)
    missing = [c for c in (BAR_TIME, *OHLCV) if c not in bars.columns]
    if missing:
        msg = f"bars lack column(s) {', '.join(missing)} (have: {', '.join(bars.columns)})"
        raise DataValidationError(msg)
    frame = bars if bars[BAR_TIME].is_sorted() else bars.sort(BAR_TIME)
    _check_grid(frame, src)

    every = interval_every(dst)
    sums = [pl.col(c).sum() for c in SUMMED_COLUMNS if c in frame.columns]
    out = frame.group_by_dynamic(
        BAR_TIME, every=every, period=every, closed="left", label="left", start_by="window"
    ).agg(
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
        *sums,
        pl.len().cast(pl.Int64).alias("source_bars"),
    )
    out = out.with_columns((pl.col("source_bars") == _expected(src, dst)).alias("complete"))
    n_incomplete = out.height - int(out["complete"].sum())
    if n_incomplete:
        log.info(
            "resample %s -> %s: %d of %d bar(s) incomplete (ends of data or gaps)%s",
            src,
            dst,
            n_incomplete,
            out.height,
            ", dropped" if drop_incomplete else ", marked complete=False",
        )
    if drop_incomplete:
        out = out.filter(pl.col("complete"))
    return out


def _check_compatible(src: str, dst: str) -> None:
    src_month, dst_month = src.endswith("M"), dst.endswith("M")
    if src_month and not dst_month:
        ok = False
    elif src_month and dst_month:
        ok = int(dst[:-1]) % int(src[:-1]) == 0
    elif dst_month:
        ok = _DAY_MS % interval_ms(src) == 0
    else:
        ok = interval_ms(dst) % interval_ms(src) == 0 and interval_ms(dst) > 0
        if dst.endswith("w"):
            ok = ok and _DAY_MS % interval_ms(src) == 0
    if not ok or src == dst:
        msg = (
            f"cannot resample {src} bars to {dst}: the target must be a larger whole multiple "
            f"of the source (e.g. 1m -> 15m, 1h -> 4h, 1h -> 1d, 1d -> 1w, 1h -> 1M)"
        )
        raise ConfigError(msg)


def _check_grid(frame: pl.DataFrame, src: str) -> None:
    t = pl.col(BAR_TIME)
    stats = frame.select(
        (pl.len() - t.n_unique()).alias("dup"),
        t.ne(t.dt.truncate(interval_every(src))).sum().alias("off"),
    ).row(0)
    if stats[0] or stats[1]:
        msg = (
            f"cannot resample: the {src} bars have {stats[0]} duplicate and {stats[1]} off-grid "
            "timestamps; run `quantforge data check` (or check_bars + split_quarantine) first"
        )
        raise DataValidationError(msg)


def _expected(src: str, dst: str) -> pl.Expr:
    """Number of source bars a full target window holds (an expression for calendar months)."""
    if src.endswith("M"):
        return pl.lit(int(dst[:-1]) // int(src[:-1]), dtype=pl.Int64)
    if dst.endswith("M"):
        start = pl.col(BAR_TIME)
        length_ms = start.dt.offset_by(interval_every(dst)).dt.epoch("ms") - start.dt.epoch("ms")
        return length_ms // interval_ms(src)
    return pl.lit(interval_ms(dst) // interval_ms(src), dtype=pl.Int64)
