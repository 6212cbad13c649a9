"""The market-data catalog: Hive-partitioned Parquet in a local folder or on S3-compatible storage.

Layout (one file per partition, zstd-compressed, sorted by its key; the Parquet encodings are
described in `quantforge.data._parquet`)::

    {root}/exchange={ex}/symbol={SYM}/interval={iv}/year={YYYY}/data.parquet

``iv`` is the canonical bar interval (`normalize_interval`) or ``trades`` / ``aggTrades`` for tick
data. Bars are keyed by ``open_time``, trades by ``trade_id``.

Writes validate the incoming frame, merge it with the rows already stored in the partitions it
touches (the incoming row wins on a key clash), and replace whole partitions atomically: every
touched partition is prepared first (merged, serialised, and on a local disk written to a hidden
temp file beside its target), and only when all are ready are they published (``os.replace`` on a
local disk, one whole-object PUT on S3, where a PUT is atomic and no temp object is ever visible).
A failure while preparing leaves the catalog exactly as it was. A crash between two publications
(a multi-year write) leaves each partition complete and valid, older or newer; running the same
import again finishes it, because writes are idempotent (a partition whose merged content equals
what is stored is not rewritten at all, so repeated imports leave files byte-identical).

Readers list ``year=*/data.parquet`` explicitly (temp files never match) and prune years outside
the requested time range. `Catalog.read_bars` / `Catalog.read_trades` then read the remaining
files eagerly with pyarrow (row groups pruned by their time statistics, columns decoded on all
cores, the range of sorted bars cut by binary search); `Catalog.scan_bars` hands them to a Polars
lazy scan instead (use it to read a few columns; for whole frames `read_bars` is faster).

Dataset statistics (`Catalog.datasets`) are computed from the data on every call (only the time
or id column is read), so they can never go stale.

Concurrency: one writer per dataset. On a local disk writers of the same dataset serialise on a
lock file (``fcntl.flock``); on S3 run one writer at a time (the Lambda template reserves a
concurrency of 1).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import fsspec
import polars as pl

from quantforge.data._parquet import partition_bytes, read_partitions
from quantforge.data._rows import BARS, TRADES, Kind, conform, merge, split_years
from quantforge.data.schema import (
    AGG_TRADES_KIND,
    BAR_TIME,
    TRADE_TIME,
    TRADES_KIND,
    interval_every,
    interval_ms,
    normalize_interval,
)
from quantforge.errors import CatalogError, ConfigError, NotFoundError

try:  # POSIX advisory locks for local writers; absent on Windows (single writer assumed there)
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

__all__ = ["Catalog", "DatasetInfo", "WriteReport", "bar_gaps"]

DATA_FILE: Final = "data.parquet"
_TEMP_PREFIX: Final = ".data.parquet."
_TEMP_SUFFIX: Final = ".tmp"
_LOCK_FILE: Final = ".lock"
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TICK_KINDS: Final = (TRADES_KIND, AGG_TRADES_KIND)


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What a write did.

    Attributes
    ----------
    rows_in : rows in the incoming frame.
    rows_new : keys that were not in the catalog before (the rest replaced stored rows).
    rows_total : rows in the whole dataset after the write.
    partitions : partitions rewritten, relative to the catalog root (unchanged ones are skipped).
    """

    rows_in: int
    rows_new: int
    rows_total: int
    partitions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Summary of one dataset (exchange, symbol, interval) computed from its data.

    ``gaps`` counts missing slots of the regular time grid (bars) or missing ids (tick data);
    ``gap_runs`` counts the holes they form. ``largest_gap`` is the longest missing time span
    (zero when there is no gap; ``None`` for tick data, which has no grid).
    """

    exchange: str
    symbol: str
    interval: str
    first: datetime
    last: datetime
    rows: int
    gaps: int
    largest_gap: timedelta | None
    gap_runs: int


class Catalog:
    """A Parquet catalog of bars and trades in a local folder or an ``s3://`` bucket.

    Parameters
    ----------
    root
        A local folder (created on first write) or a URL such as ``s3://bucket/prefix``.
    storage_options
        Options for the fsspec filesystem of a URL root, e.g.
        ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}``. When no endpoint is
        given, the ``AWS_ENDPOINT_URL`` environment variable (if set) is used for ``s3://``.

    Examples
    --------
    >>> cat = Catalog("catalog")  # doctest: +SKIP
    >>> cat.write_bars(frame, symbol="BTCUSDT", interval="1m")  # doctest: +SKIP
    >>> cat.read_bars("BTCUSDT", "1m", start="2024-01-01", end="2024-02-01")  # doctest: +SKIP
    """

    def __init__(
        self, root: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        text = os.fspath(root)
        protocol, _, rest = text.partition("://")
        if rest and protocol not in ("file", "local"):
            self._local = False
            self._protocol = protocol
            options: dict[str, Any] = dict(storage_options or {})
            if protocol in ("s3", "s3a"):
                self._protocol = "s3"
                endpoint = os.environ.get("AWS_ENDPOINT_URL")
                client_kwargs = dict(options.get("client_kwargs") or {})
                if (
                    endpoint
                    and "endpoint_url" not in client_kwargs
                    and "endpoint_url" not in options
                ):
                    client_kwargs["endpoint_url"] = endpoint
                    options["client_kwargs"] = client_kwargs
                # listings must never be served from a cache another writer has made stale
                options.setdefault("use_listings_cache", False)
                options.setdefault("skip_instance_cache", True)
            try:
                self._fs: Any = fsspec.filesystem(self._protocol, **options)
            except (ImportError, ValueError) as exc:
                msg = (
                    f"cannot open catalog {text!r}: {exc}; install the matching fsspec backend "
                    "(for s3:// run `pip install 'quantforge[s3]'`)"
                )
                raise CatalogError(msg) from exc
            self._base = rest.rstrip("/")
            self.root = f"{self._protocol}://{self._base}"
        else:
            self._local = True
            self._fs = None
            self._base = str(Path(rest if rest else text).expanduser().absolute())
            self.root = self._base

    def __repr__(self) -> str:
        return f"Catalog({self.root!r})"

    # ------------------------------------------------------------------ public API: bars

    def write_bars(
        self, bars: pl.DataFrame, *, symbol: str, interval: str, exchange: str = "binance"
    ) -> WriteReport:
        """Merge bars into the catalog (incoming rows win on an ``open_time`` clash).

        Parameters
        ----------
        bars
            Bars in the `quantforge.data.schema` layout; ``open_time`` may be a Datetime (naive
            values are taken as UTC) or integer epoch milliseconds. Unknown columns are dropped.
        symbol, interval, exchange
            The dataset; the interval is normalised (``1mo`` → ``1M``).

        Returns
        -------
        WriteReport

        Raises
        ------
        DataValidationError
            A required column is missing, a value cannot be cast to the schema type, a required
            value is null, or ``open_time`` repeats; the message names the column and first row.
        CatalogError
            The storage could not be written; the catalog is left as it was.
        """
        iv = normalize_interval(interval)
        dataset = self._dataset_path(exchange, symbol, iv)
        frame = conform(bars, BARS, f"bars for {symbol} {iv}")
        return self._write(dataset, frame, BARS)

    def scan_bars(
        self,
        symbol: str,
        interval: str,
        *,
        exchange: str = "binance",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> pl.LazyFrame:
        """Return a lazy scan of bars with ``start <= open_time < end`` (see `read_bars`).

        The scan is Polars' (projection and predicates are pushed into the Parquet reader), so
        ``scan_bars(...).select("close").collect()`` reads one column; to read whole frames
        `read_bars` is faster (Polars decodes the byte-stream-split floats of the catalog
        layout ~2x slower than pyarrow). Both return the same rows and dtypes.
        """
        iv = normalize_interval(interval)
        dataset = self._dataset_path(exchange, symbol, iv)
        return self._scan(dataset, BARS, start, end)

    def read_bars(
        self,
        symbol: str,
        interval: str,
        *,
        exchange: str = "binance",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> pl.DataFrame:
        """Read bars sorted by ``open_time`` with ``start <= open_time < end``.

        Parameters
        ----------
        symbol, interval, exchange
            The dataset.
        start, end
            Inclusive start and exclusive end: a datetime (naive = UTC) or an ISO string such as
            ``"2024-01-01"`` or ``"2024-01-01T12:00Z"``. ``None`` leaves that side open.

        Returns
        -------
        polars.DataFrame
            ``open_time`` as Datetime("ms", "UTC"), float64 OHLCV and any optional Binance
            columns the dataset holds. Empty (with the schema) when the range holds no bars.

        Raises
        ------
        NotFoundError
            The dataset does not exist; the message lists close matches that do.
        """
        iv = normalize_interval(interval)
        return self._read(self._dataset_path(exchange, symbol, iv), BARS, start, end)

    def last_time(
        self, symbol: str, interval: str, *, exchange: str = "binance"
    ) -> datetime | None:
        """Return the ``open_time`` of the newest stored bar, or ``None`` for an empty dataset."""
        iv = normalize_interval(interval)
        dataset = self._dataset_path(exchange, symbol, iv)
        files = self._partition_files(dataset)
        if not files:
            return None
        newest = files[max(files)]
        value = self._columns([newest], [BAR_TIME]).get_column(BAR_TIME).max()
        return value if isinstance(value, datetime) else None

    # ------------------------------------------------------------------ public API: trades

    def write_trades(
        self,
        trades: pl.DataFrame,
        *,
        symbol: str,
        kind: str = TRADES_KIND,
        exchange: str = "binance",
    ) -> WriteReport:
        """Merge trades (``kind="trades"``) or aggregate trades (``"aggTrades"``) by ``trade_id``.

        ``time`` may be a Datetime (naive = UTC) or integer epoch milliseconds. Raises like
        `write_bars`; ``ConfigError`` for an unknown kind.
        """
        dataset = self._dataset_path(exchange, symbol, _check_kind(kind))
        frame = conform(trades, TRADES, f"{kind} for {symbol}")
        return self._write(dataset, frame, TRADES)

    def read_trades(
        self,
        symbol: str,
        *,
        kind: str = TRADES_KIND,
        exchange: str = "binance",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> pl.DataFrame:
        """Read trades sorted by ``trade_id`` with ``start <= time < end`` (see `read_bars`)."""
        dataset = self._dataset_path(exchange, symbol, _check_kind(kind))
        return self._read(dataset, TRADES, start, end)

    # ------------------------------------------------------------------ public API: listing

    def datasets(self) -> list[DatasetInfo]:
        """Describe every dataset: first/last bar, rows and gaps, computed from the data.

        Returns
        -------
        list[DatasetInfo]
            Sorted by exchange, symbol, interval.
        """
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for (exchange, symbol, interval, _year), path in sorted(self._all_files().items()):
            grouped.setdefault((exchange, symbol, interval), []).append(path)
        infos: list[DatasetInfo] = []
        for (exchange, symbol, interval), paths in grouped.items():
            if interval in _TICK_KINDS:
                info = self._tick_info(exchange, symbol, interval, paths)
            else:
                info = self._bar_info(exchange, symbol, interval, paths)
            if info is not None:
                infos.append(info)
        return infos

    # ------------------------------------------------------------------ storage helpers

    def _dataset_path(self, exchange: str, symbol: str, interval: str) -> str:
        for what, value in (("exchange", exchange), ("symbol", symbol)):
            if not _NAME_RE.match(value):
                msg = (
                    f"invalid {what} {value!r}: use letters, digits, '.', '_' or '-' "
                    "(it becomes a folder name in the catalog)"
                )
                raise ConfigError(msg)
        return self._join(
            f"exchange={exchange.lower()}", f"symbol={symbol.upper()}", f"interval={interval}"
        )

    def _join(self, *parts: str) -> str:
        """Return a path below the catalog root."""
        return self._child(self._base, *parts)

    def _child(self, parent: str, *parts: str) -> str:
        if self._local:
            return os.path.join(parent, *parts)
        return "/".join((parent, *parts))

    def _partition_files(self, dataset: str) -> dict[int, str]:
        """Return {year: data file} of one dataset."""
        pattern = self._child(dataset, "year=*", DATA_FILE)
        found: dict[int, str] = {}
        for path in self._glob(pattern):
            year_dir = path.replace("\\", "/").rsplit("/", 2)[-2]
            with contextlib.suppress(ValueError):
                found[int(year_dir.removeprefix("year="))] = path
        return found

    def _all_files(self) -> dict[tuple[str, str, str, int], str]:
        pattern = self._join("exchange=*", "symbol=*", "interval=*", "year=*", DATA_FILE)
        found: dict[tuple[str, str, str, int], str] = {}
        for path in self._glob(pattern):
            parts = path.replace("\\", "/").split("/")[-5:-1]
            values = [p.partition("=")[2] for p in parts]
            with contextlib.suppress(ValueError):
                found[(values[0], values[1], values[2], int(values[3]))] = path
        return found

    def _glob(self, pattern: str) -> list[str]:
        if self._local:
            root = Path(self._base)
            if not root.is_dir():
                return []
            return sorted(str(p) for p in root.glob(os.path.relpath(pattern, self._base)))
        try:
            return sorted(str(p) for p in self._fs.glob(pattern))
        except FileNotFoundError:
            return []
        except OSError as exc:
            msg = f"cannot list catalog {self.root}: {exc}; check the bucket name and credentials"
            raise CatalogError(msg) from exc

    def _sources(self, paths: Sequence[str]) -> list[Any]:
        """Return scan sources: local paths as they are, remote objects fetched into memory."""
        if self._local:
            return list(paths)
        try:
            blobs = self._fs.cat(list(paths))
        except OSError as exc:
            msg = f"cannot read {len(paths)} file(s) from catalog {self.root}: {exc}"
            raise CatalogError(msg) from exc
        if not isinstance(blobs, dict):  # a single path may come back as bare bytes
            blobs = {paths[0]: blobs}
        by_name = {k.split("://")[-1]: v for k, v in blobs.items()}
        return [io.BytesIO(by_name[p.split("://")[-1]]) for p in paths]

    def _columns(self, paths: Sequence[str], columns: Sequence[str]) -> pl.DataFrame:
        """Read only some columns; on remote storage only those column chunks are fetched."""
        if self._local:
            return self._scan_sources(paths).select(columns).collect()
        import pyarrow.parquet as pq

        frames = []
        try:
            for path in paths:
                with self._fs.open(path, "rb") as handle:
                    table = pq.read_table(handle, columns=list(columns))
                frame = pl.from_arrow(table)
                assert isinstance(frame, pl.DataFrame)
                frames.append(frame)
        except OSError as exc:
            msg = f"cannot read {path} from catalog {self.root}: {exc}"
            raise CatalogError(msg) from exc
        return pl.concat(frames)

    def _row_count(self, paths: Sequence[str]) -> int:
        """Count rows from the Parquet footers (no data pages are read)."""
        if self._local:
            return int(self._scan_sources(paths).select(pl.len()).collect().item())
        import pyarrow.parquet as pq

        total = 0
        for path in paths:
            with self._fs.open(path, "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total

    def _scan_sources(self, paths: Sequence[str]) -> pl.LazyFrame:
        sources = self._sources(paths)
        # Partitions written at different times may hold different optional columns: scan with
        # the union (canonical order) so a column missing from one file becomes nulls.
        union: dict[str, pl.DataType] = {}
        for source in sources:
            if isinstance(source, io.BytesIO):
                source.seek(0)
            union.update(pl.read_parquet_schema(source))
            if isinstance(source, io.BytesIO):
                source.seek(0)
        # The year pruning is done on the listed paths (cheaper than a hive filter, and temp files
        # can never match), so the partition values are not added as columns.
        return pl.scan_parquet(
            sources, schema=union, missing_columns="insert", hive_partitioning=False
        )

    def _select(
        self, dataset: str, start: datetime | str | None, end: datetime | str | None
    ) -> tuple[dict[int, str], list[int], datetime | None, datetime | None]:
        """Return (files, years the range touches, bounds that still filter something)."""
        files = self._partition_files(dataset)
        if not files:
            raise self._not_found(dataset)
        lo, hi = _to_utc(start, "start"), _to_utc(end, "end")
        years = sorted(
            y
            for y in files
            if (lo is None or y >= lo.year) and (hi is None or datetime(y, 1, 1, tzinfo=UTC) < hi)
        )
        # a bound outside the selected years filters nothing: skip it (saves a pass over a year)
        if years and lo is not None and lo <= datetime(years[0], 1, 1, tzinfo=UTC):
            lo = None
        if years and hi is not None and hi >= datetime(years[-1] + 1, 1, 1, tzinfo=UTC):
            hi = None
        return files, years, lo, hi

    def _read(
        self,
        dataset: str,
        kind: Kind,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> pl.DataFrame:
        """Read eagerly with pyarrow (row-group pruning, threaded decode; see `_parquet`)."""
        files, years, lo, hi = self._select(dataset, start, end)
        if not years:
            return _empty(kind, self._scan_sources([files[max(files)]]).collect_schema())
        sources = self._sources([files[y] for y in years])
        bars = kind.key == kind.time
        frame = read_partitions(sources, kind.time, lo, hi, sorted_by_time=bars)
        # bars: files are sorted by open_time and years ascend; trades: ids may not follow time
        return frame if bars else frame.sort(kind.key)

    def _scan(
        self,
        dataset: str,
        kind: Kind,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> pl.LazyFrame:
        files, years, lo, hi = self._select(dataset, start, end)
        if not years:
            return _empty(kind, self._scan_sources([files[max(files)]]).collect_schema()).lazy()
        scan = self._scan_sources([files[y] for y in years])
        time = pl.col(kind.time)
        if lo is not None:
            scan = scan.filter(time >= pl.lit(lo).cast(kind.schema[kind.time]))
        if hi is not None:
            scan = scan.filter(time < pl.lit(hi).cast(kind.schema[kind.time]))
        if kind.key == kind.time:
            # bars: files are sorted by open_time and years ascend, so the scan is sorted
            return scan.set_sorted(kind.key)
        # trades: ids are sorted per file; sort anyway in case ids do not follow time
        return scan.sort(kind.key)

    def _not_found(self, dataset: str) -> NotFoundError:
        parts = dataset.replace("\\", "/").split("/")[-3:]
        exchange, symbol, interval = (p.partition("=")[2] for p in parts)
        existing = sorted({(e, s, i) for (e, s, i, _y) in self._all_files()})
        have = [f"{e}/{s}/{i}" for (e, s, i) in existing]
        wanted = f"{exchange}/{symbol}/{interval}"
        lines = [f"no data for {wanted} in catalog {self.root}"]
        same_symbol = [i for (e, s, i) in existing if e == exchange and s == symbol]
        if same_symbol:
            lines.append(f"{symbol} has interval(s): {', '.join(same_symbol)}")
        symbols = sorted({s for (e, s, _i) in existing if e == exchange})
        close = difflib.get_close_matches(symbol, symbols, n=3, cutoff=0.6)
        if close and not same_symbol:
            lines.append("did you mean " + " or ".join(repr(c) for c in close) + "?")
        if have:
            lines.append("datasets: " + ", ".join(have[:20]) + (" …" if len(have) > 20 else ""))
        else:
            lines.append("the catalog is empty")
        lines.append("import data with `quantforge data import` or `quantforge data sync`")
        return NotFoundError("; ".join(lines))

    # ------------------------------------------------------------------ writing

    def _write(self, dataset: str, frame: pl.DataFrame, kind: Kind) -> WriteReport:
        rows_in = frame.height
        with self._lock(dataset):
            files = self._partition_files(dataset)
            changed: list[tuple[str, str, pl.DataFrame]] = []  # (partition, target, rows)
            rows_new = 0
            rows_total = 0
            by_year = split_years(frame, kind.time)
            for year, incoming in by_year.items():
                target = files.get(year) or self._child(dataset, f"year={year}", DATA_FILE)
                existing = self._stored(files[year], kind) if year in files else None
                merged = merge(existing, incoming, kind)
                rows_total += merged.height
                rows_new += merged.height - (0 if existing is None else existing.height)
                if existing is not None and merged.equals(existing, null_equal=True):
                    continue  # same content: leave the file (and its bytes) alone
                partition = "/".join([*dataset.replace("\\", "/").split("/")[-3:], f"year={year}"])
                changed.append((partition, target, merged))
            touched = set(by_year)
            # zstd runs outside the GIL: serialise several partitions on several cores
            workers = min(len(changed), os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
                contents = list(pool.map(partition_bytes, [rows for _p, _t, rows in changed]))
            prepared = [(p, t, c) for (p, t, _r), c in zip(changed, contents, strict=True)]
            others = [path for year, path in files.items() if year not in touched]
            if others:
                rows_total += self._row_count(others)
            self._publish(prepared)
        log.info(
            "catalog write %s: %d rows in, %d new, %d partition(s) rewritten",
            dataset,
            rows_in,
            rows_new,
            len(prepared),
        )
        return WriteReport(
            rows_in=rows_in,
            rows_new=rows_new,
            rows_total=rows_total,
            partitions=tuple(p for p, _t, _c in prepared),
        )

    def _publish(self, prepared: Sequence[tuple[str, str, bytes]]) -> None:
        if not prepared:
            return
        if not self._local:
            # A PUT of a whole object is atomic on S3: readers see the old or the new object.
            for _partition, target, content in prepared:
                try:
                    self._fs.pipe_file(target, content)
                except OSError as exc:
                    msg = f"cannot write {self._protocol}://{target}: {exc}; rerun the import"
                    raise CatalogError(msg) from exc
            return
        temps: list[tuple[str, str]] = []
        made_dirs: list[Path] = []
        try:
            for _partition, target, content in prepared:
                folder = Path(target).parent
                if not folder.is_dir():
                    missing = [folder, *(p for p in folder.parents if not p.exists())]
                    folder.mkdir(parents=True, exist_ok=True)
                    made_dirs.extend(missing)
                temps.append((self._write_temp(folder, content), target))
        except BaseException as exc:
            for temp, _target in temps:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            for folder in sorted(made_dirs, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(exc, OSError):
                msg = f"cannot write catalog {self.root}: {exc}; the catalog was left unchanged"
                raise CatalogError(msg) from exc
            raise
        for temp, target in temps:
            os.replace(temp, target)
            _fsync_dir(Path(target).parent)

    def _stored(self, path: str, kind: Kind) -> pl.DataFrame:
        """Read one whole stored partition (the merge base of a write)."""
        return read_partitions(
            self._sources([path]), kind.time, None, None, sorted_by_time=kind.key == kind.time
        )

    def _write_temp(self, folder: Path, content: bytes) -> str:
        temp = folder / f"{_TEMP_PREFIX}{uuid.uuid4().hex}{_TEMP_SUFFIX}"
        with open(temp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        return str(temp)

    @contextlib.contextmanager
    def _lock(self, dataset: str) -> Iterator[None]:
        if not self._local or fcntl is None:
            yield
            return
        Path(dataset).mkdir(parents=True, exist_ok=True)
        with open(os.path.join(dataset, _LOCK_FILE), "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                # temp files left by a killed writer are garbage now that we hold the lock
                for stale in Path(dataset).glob(f"year=*/{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
                    with contextlib.suppress(OSError):
                        stale.unlink()
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ statistics

    def _bar_info(
        self, exchange: str, symbol: str, interval: str, paths: Sequence[str]
    ) -> DatasetInfo | None:
        times = self._columns(paths, [BAR_TIME]).get_column(BAR_TIME)
        if times.len() == 0:
            return None
        gaps, runs, largest = bar_gaps(times, interval)
        return DatasetInfo(
            exchange=exchange,
            symbol=symbol,
            interval=interval,
            first=times[0],
            last=times[-1],
            rows=times.len(),
            gaps=gaps,
            largest_gap=largest,
            gap_runs=runs,
        )

    def _tick_info(
        self, exchange: str, symbol: str, interval: str, paths: Sequence[str]
    ) -> DatasetInfo | None:
        frame = self._columns(paths, [TRADE_TIME, "trade_id"])
        if frame.height == 0:
            return None
        step = frame.get_column("trade_id").diff().drop_nulls()
        holes = step.filter(step > 1)
        times = frame.get_column(TRADE_TIME)
        return DatasetInfo(
            exchange=exchange,
            symbol=symbol,
            interval=interval,
            first=times.min(),  # type: ignore[arg-type]
            last=times.max(),  # type: ignore[arg-type]
            rows=frame.height,
            gaps=int((holes - 1).sum()),
            largest_gap=None,
            gap_runs=holes.len(),
        )


def bar_gaps(times: pl.Series, interval: str) -> tuple[int, int, timedelta]:
    """Count missing slots in a sorted series of bar open times.

    Parameters
    ----------
    times
        Sorted, unique ``open_time`` values.
    interval
        The bar interval (calendar months allowed).

    Returns
    -------
    tuple[int, int, timedelta]
        (missing slots, number of holes, longest missing time span).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> s = pl.Series([datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 1, 4, 5, 7)])
    >>> bar_gaps(s, "1h")
    (3, 2, datetime.timedelta(seconds=7200))
    """
    iv = normalize_interval(interval)
    frame = pl.DataFrame({"t": times})
    if iv.endswith("M"):
        months = int(iv[:-1])
        index = pl.col("t").dt.year().cast(pl.Int64) * 12 + pl.col("t").dt.month().cast(pl.Int64)
        missing = (index.diff() // months - 1).alias("missing")
    else:
        missing = (pl.col("t").dt.epoch("ms").diff() // interval_ms(iv) - 1).alias("missing")
    expected = pl.col("t").dt.offset_by(interval_every(iv)).shift(1)
    span = (pl.col("t") - expected).alias("span")
    stats = frame.select(missing, span).filter(pl.col("missing") > 0)
    if stats.height == 0:
        return 0, 0, timedelta(0)
    largest = stats.get_column("span").max()
    return (
        int(stats.get_column("missing").sum()),
        stats.height,
        largest if isinstance(largest, timedelta) else timedelta(0),
    )


# ---------------------------------------------------------------------- validation & merging


def _check_kind(kind: str) -> str:
    if kind not in _TICK_KINDS:
        msg = f"unknown trade kind {kind!r}; use 'trades' or 'aggTrades'"
        raise ConfigError(msg)
    return kind


def _to_utc(value: datetime | str | None, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            msg = (
                f"invalid {name} time {value!r}; use ISO 8601 such as 2024-01-01 or "
                "2024-01-01T12:00:00Z"
            )
            raise ConfigError(msg) from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _fsync_dir(folder: Path) -> None:
    # make the rename durable; directories cannot be opened for fsync on every platform
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _empty(kind: Kind, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema or kind.schema))
