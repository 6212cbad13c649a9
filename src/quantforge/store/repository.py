"""`ResultStore`: experiments, runs and their artifacts in SQLite (default), PostgreSQL or MariaDB.

Open a store with a SQLAlchemy URL; the schema is brought to the newest Alembic revision on open.

- ``sqlite:///results/results.db`` — a file (its folder is created); artifacts go to
  ``results/artifacts/`` unless ``artifacts_dir`` says otherwise.
- ``postgresql+psycopg://user@host:5432/db`` (``pip install 'quantforge[postgres]'``)
- ``mysql+pymysql://user@host:3306/db`` for MySQL/MariaDB (``pip install 'quantforge[mysql]'``)

Writes stream: `ResultStore.add_runs` consumes any iterable of `RunRecord` in batches, so memory
stays flat however many runs an experiment has. Runs whose key is already stored for the
experiment are skipped (or replaced with ``replace=True``), so resuming is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel

from quantforge import _json
from quantforge.errors import ConfigError, NotFoundError, StoreError
from quantforge.store.tables import (
    HEADLINE_METRIC_TYPES,
    VERSION_TABLE,
    artifacts,
    experiments,
    runs,
)

log = logging.getLogger(__name__)

__all__ = ["ArtifactKind", "ResultStore", "RunRecord", "StoredRun"]

ArtifactKind = Literal["trades", "equity"]
_ARTIFACT_KINDS: Final = ("trades", "equity")
_MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
_NON_FINITE: Final = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
# Alembic keeps the running migration in module globals (alembic.context, alembic.op), so two
# threads must not migrate at the same time; this lock is the one piece of module state here.
_MIGRATION_LOCK: Final = threading.Lock()


def _adopt_shared_version_table(connection: sa.Connection, config: AlembicConfig) -> None:
    """Move our revision out of ``alembic_version`` (stores made before `VERSION_TABLE`).

    Earlier stores kept their revision in Alembic's default table, where Optuna (sharing the
    database) reads its own: a plain ``optuna.load_study(storage=url)`` then refused the database.
    Our row moves to `VERSION_TABLE`; an ``alembic_version`` left empty is dropped, so Optuna
    stamps its own revision there the next time it opens the database.
    """
    names = set(sa.inspect(connection).get_table_names())
    if VERSION_TABLE in names or "alembic_version" not in names:
        return
    script = ScriptDirectory.from_config(config)
    ours = {rev.revision for rev in script.walk_revisions()}
    shared = sa.table("alembic_version", sa.column("version_num", sa.String))
    found = [v for v in connection.execute(sa.select(shared.c.version_num)).scalars() if v in ours]
    if not found:
        return
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    context.stamp(script, found[0])
    connection.execute(sa.delete(shared).where(shared.c.version_num.in_(found)))
    if connection.execute(sa.select(sa.func.count()).select_from(shared)).scalar_one() == 0:
        connection.execute(sa.text("DROP TABLE alembic_version"))
    log.info("results store: moved schema revision %s to %s", found[0], VERSION_TABLE)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run, ready to store.

    ``metrics`` holds every metric the engine computed; the headline ones (see
    `quantforge.store.tables.HEADLINE_METRIC_TYPES`) also land in their own columns. ``trades``
    and ``equity`` are optional frames written as Parquet artifacts.
    """

    run_key: str
    strategy: str
    params: Mapping[str, Any]
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    metrics: Mapping[str, float | int | None] = field(default_factory=dict)
    symbol: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    trades: pl.DataFrame | None = None
    equity: pl.DataFrame | None = None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run read back from the store (artifacts as absolute paths, when there are any)."""

    id: int
    experiment_id: int
    run_key: str
    strategy: str
    symbol: str | None
    params: dict[str, Any]
    status: str
    error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_s: float | None
    metrics: dict[str, float | int | None]
    artifacts: dict[str, Path]

    @classmethod
    def from_record(cls, run_id: int, experiment_id: int, record: RunRecord) -> StoredRun:
        """Return the run as the store gives it back once ``record`` is stored as ``run_id``.

        No database round trip: the same normalisation the store applies on the way in and out
        (parameters through JSON, non-finite metrics as in `get_run`, times as aware UTC).
        Artifacts are not resolved. tests/integration/test_store.py holds it equal to `get_run`
        on every supported database.
        """
        return cls(
            id=run_id,
            experiment_id=experiment_id,
            run_key=record.run_key,
            strategy=record.strategy,
            symbol=record.symbol,
            params=_json_params(record.params),
            status=record.status,
            error=record.error,
            started_at=_as_utc(record.started_at),
            finished_at=_as_utc(record.finished_at),
            duration_s=None if record.duration_s is None else float(record.duration_s),
            metrics=_read_metrics({k: _json_metric(v) for k, v in record.metrics.items()}),
            artifacts={},
        )


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    # what a JSON column gives back (values JSON cannot hold become their text)
    out: dict[str, Any] = _json.loads(_json.dumps_bytes(dict(params)))
    return out


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # what a UTCDateTime column gives back (naive datetimes are refused when stored)
    return None if value is None or value.tzinfo is None else value.astimezone(dt.UTC)


def _json_metric(value: object) -> object:
    kind = type(value)
    if kind is float:  # the common case first: this runs for every metric of every run
        return value if math.isfinite(value) else _json_metric_non_finite(value)  # type: ignore[arg-type]
    if kind is int:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if hasattr(value, "item") and not isinstance(value, int | float | str):
        return _json_metric(value.item())
    return value


def _json_metric_non_finite(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _column_metric(name: str, value: object) -> float | int | None:
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"metric {name!r} must be a number or None; got {value!r}")
    if HEADLINE_METRIC_TYPES[name] is sa.Integer:
        return int(value) if math.isfinite(value) else None
    return float(value) if math.isfinite(value) else None


def _read_metrics(raw: Mapping[str, Any]) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for key, value in raw.items():
        out[key] = _NON_FINITE[value] if isinstance(value, str) and value in _NON_FINITE else value
    return out


def _config_json(config: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(config, BaseModel):
        return dict(config.model_dump(mode="json"))
    # Round-trip through JSON so what is stored is exactly what comes back.
    try:
        return dict(json.loads(json.dumps(config, default=str, allow_nan=False)))
    except ValueError as e:
        raise ConfigError(f"experiment config cannot be stored as JSON: {e}") from e


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class ResultStore:
    """The results database. Build it with `ResultStore.open`; close it (or use ``with``)."""

    def __init__(self, engine: sa.Engine, artifacts_dir: Path | None) -> None:
        self.engine = engine
        self.artifacts_dir = artifacts_dir

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str, *, artifacts_dir: str | Path | None = None, migrate: bool = True
    ) -> ResultStore:
        """Connect to ``url``, upgrade the schema to the newest revision, return the store.

        Parameters
        ----------
        url
            SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``,
            ``mysql+pymysql://...``).
        artifacts_dir
            Folder for Parquet artifacts; default ``<db folder>/artifacts`` for a SQLite file,
            none otherwise (storing a run with trades/equity then raises `StoreError`).
        migrate
            Run Alembic ``upgrade head`` (default True).

        Returns
        -------
        ResultStore

        Raises
        ------
        StoreError
            When the database cannot be reached or migrated (the cause is chained).

        Examples
        --------
        >>> with ResultStore.open("sqlite:///results/results.db") as store:  # doctest: +SKIP
        ...     experiment_id = store.create_experiment("demo", {"grid": "8x8"})
        """
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as e:
            raise ConfigError(
                f"store URL {url!r} is not a SQLAlchemy URL; write e.g. sqlite:///results.db or "
                "postgresql+psycopg://user@host:5432/db"
            ) from e
        directory = Path(artifacts_dir) if artifacts_dir is not None else None
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                path = Path(database)
                path.parent.mkdir(parents=True, exist_ok=True)
                if directory is None:
                    directory = path.parent / "artifacts"
        try:
            engine = sa.create_engine(
                parsed,
                pool_pre_ping=True,
                json_serializer=_json.dumps,
                json_deserializer=_json.loads,
            )
        except (ImportError, sa.exc.ArgumentError) as e:
            raise StoreError(
                f"cannot create a database engine for {parsed.render_as_string()}: {e}; "
                "install the driver extra (quantforge[postgres] or quantforge[mysql])"
            ) from e
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, directory)
        if migrate:
            try:
                store.upgrade()
            except Exception:
                engine.dispose()
                raise
        return store

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` on this database.

        Alembic's migration context is process-global, so upgrades in one process take turns.
        Two processes migrating a fresh database at once may collide (both create the tables);
        the loser retries once and then finds the schema current.
        """
        config = AlembicConfig()
        config.set_main_option("script_location", str(_MIGRATIONS))
        for attempt in (1, 2):
            try:
                with _MIGRATION_LOCK, self.engine.begin() as connection:
                    _adopt_shared_version_table(connection, config)
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                return
            except (sa.exc.ProgrammingError, sa.exc.IntegrityError) as e:
                if attempt == 2:
                    raise StoreError(
                        f"migrating the results database {self.engine.url.render_as_string()} "
                        f"failed: {e.orig}"
                    ) from e
                log.info("schema migration collided with another process; retrying")
                time.sleep(0.5)
            except sa.exc.OperationalError as e:
                if attempt == 2 or "already exists" not in str(e.orig):
                    raise StoreError(
                        f"cannot reach or migrate the results database "
                        f"{self.engine.url.render_as_string()}: {e.orig}"
                    ) from e
                log.info("schema migration collided with another process; retrying")
                time.sleep(0.5)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> ResultStore:
        """Return self."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    # -- experiments -------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        config: Mapping[str, Any] | BaseModel,
        *,
        code_version: str,
        git_revision: str | None = None,
        data_fingerprint: str | None = None,
        created_at: dt.datetime | None = None,
    ) -> int:
        """Insert an experiment and return its id.

        Parameters
        ----------
        name
            Experiment name.
        config
            The experiment config (an `ExperimentConfig` or any JSON-able mapping).
        code_version
            quantforge version that ran it.
        git_revision
            Commit of the code, when known.
        data_fingerprint
            Fingerprint of the data it ran on, when known.
        created_at
            Creation time (UTC-aware); default now.
        """
        row = {
            "name": name,
            "config": _config_json(config),
            "created_at": created_at or dt.datetime.now(dt.UTC),
            "code_version": code_version,
            "git_revision": git_revision,
            "data_fingerprint": data_fingerprint,
        }
        with self.engine.begin() as connection:
            result = connection.execute(sa.insert(experiments).values(**row))
            primary_key = result.inserted_primary_key
        assert primary_key is not None
        experiment_id = int(primary_key[0])
        log.info("created experiment %d (%s)", experiment_id, name)
        return experiment_id

    def get_experiment(self, experiment_id: int) -> dict[str, Any]:
        """Return one experiment as a dict (config parsed), or raise `NotFoundError`."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(experiments).where(experiments.c.id == experiment_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no experiment with id {experiment_id} in this store")
        return dict(row)

    def experiments(self) -> pl.DataFrame:
        """Return every experiment (without configs) with its run counts, newest first."""
        counts = (
            sa.select(
                runs.c.experiment_id,
                sa.func.count().label("n_runs"),
                sa.func.sum(sa.case((runs.c.status == "error", 1), else_=0)).label("n_errors"),
            )
            .group_by(runs.c.experiment_id)
            .subquery()
        )
        query = (
            sa.select(
                experiments.c.id,
                experiments.c.name,
                experiments.c.created_at,
                experiments.c.code_version,
                experiments.c.git_revision,
                experiments.c.data_fingerprint,
                sa.func.coalesce(counts.c.n_runs, 0).label("n_runs"),
                sa.func.coalesce(counts.c.n_errors, 0).label("n_errors"),
            )
            .select_from(experiments.outerjoin(counts, counts.c.experiment_id == experiments.c.id))
            .order_by(experiments.c.created_at.desc(), experiments.c.id.desc())
        )
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        schema: dict[str, Any] = {
            "id": pl.Int64,
            "name": pl.String,
            "created_at": pl.Datetime("us", "UTC"),
            "code_version": pl.String,
            "git_revision": pl.String,
            "data_fingerprint": pl.String,
            "n_runs": pl.Int64,
            "n_errors": pl.Int64,
        }
        for row in rows:
            row["n_runs"], row["n_errors"] = int(row["n_runs"]), int(row["n_errors"])
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _require_experiment(self, connection: sa.Connection, experiment_id: int) -> None:
        found = connection.execute(
            sa.select(experiments.c.id).where(experiments.c.id == experiment_id)
        ).first()
        if found is None:
            raise NotFoundError(f"no experiment with id {experiment_id} in this store")

    # -- runs --------------------------------------------------------------------------------

    def existing_keys(self, experiment_id: int, *, include_errors: bool = True) -> set[str]:
        """Return the run keys already stored for the experiment (to skip them when resuming).

        With ``include_errors=False`` failed runs are left out, so a resume retries them
        (store them again with ``add_runs(..., replace=True)``).
        """
        query = sa.select(runs.c.run_key).where(runs.c.experiment_id == experiment_id)
        if not include_errors:
            query = query.where(runs.c.status == "ok")
        with self.engine.connect() as connection:
            self._require_experiment(connection, experiment_id)
            return {row[0] for row in connection.execute(query)}

    def _row(self, experiment_id: int, record: RunRecord) -> dict[str, Any]:
        if record.status not in ("ok", "error"):
            raise ConfigError(f"run {record.run_key}: status must be 'ok' or 'error'")
        row: dict[str, Any] = {
            "experiment_id": experiment_id,
            "run_key": record.run_key,
            "strategy": record.strategy,
            "symbol": record.symbol,
            "params": _json_params(record.params),
            "status": record.status,
            "error": record.error,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "duration_s": record.duration_s,
            "metrics": {k: _json_metric(v) for k, v in record.metrics.items()},
        }
        for name in HEADLINE_METRIC_TYPES:
            row[name] = _column_metric(name, record.metrics.get(name))
        return row

    def _write_artifacts(self, experiment_id: int, record: RunRecord) -> list[tuple[str, str, int]]:
        frames = [
            (kind, frame)
            for kind, frame in (("trades", record.trades), ("equity", record.equity))
            if frame is not None
        ]
        if not frames:
            return []
        if self.artifacts_dir is None:
            raise StoreError(
                f"run {record.run_key} has artifacts but this store has no artifacts folder; "
                "open it with ResultStore.open(url, artifacts_dir=...)"
            )
        relative = Path(str(experiment_id)) / record.run_key
        folder = self.artifacts_dir / relative
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for kind, frame in frames:
            name = f"{kind}.parquet"
            _write_parquet_atomic(frame, folder / name)
            written.append((kind, (relative / name).as_posix(), frame.height))
        return written

    def attach_artifacts(
        self,
        run_id: int,
        *,
        trades: pl.DataFrame | None = None,
        equity: pl.DataFrame | None = None,
    ) -> dict[str, Path]:
        """Store trades and/or an equity curve for a stored run; return every artifact's path.

        The run keeps its id and row (unlike ``add_runs(..., replace=True)``). An artifact of a
        kind the run already has is replaced. Files are written to a temporary name and renamed,
        so a crash never leaves a half-written artifact.

        Raises
        ------
        NotFoundError
            For an unknown run.
        StoreError
            Without an artifacts folder, or on a database failure.
        """
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(runs.c.experiment_id, runs.c.run_key, runs.c.strategy).where(
                    runs.c.id == run_id
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no run with id {run_id} in this store")
        record = RunRecord(
            run_key=str(row.run_key), strategy=str(row.strategy), params={},
            trades=trades, equity=equity,
        )  # fmt: skip
        try:
            written = self._write_artifacts(int(row.experiment_id), record)
            if written:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.delete(artifacts).where(
                            artifacts.c.run_id == run_id,
                            artifacts.c.kind.in_([kind for kind, _, _ in written]),
                        )
                    )
                    connection.execute(
                        sa.insert(artifacts),
                        [
                            {"run_id": run_id, "kind": kind, "path": path, "n_rows": n}
                            for kind, path, n in written
                        ],
                    )
            with self.engine.connect() as connection:
                return self._artifact_paths(connection, [run_id]).get(run_id, {})
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"storing the artifacts of run {run_id} failed: {e}") from e

    def add_runs(
        self,
        experiment_id: int,
        records: Iterable[RunRecord],
        *,
        batch_size: int = 500,
        replace: bool = False,
        on_stored: Callable[[Sequence[tuple[int, RunRecord]]], None] | None = None,
    ) -> int:
        """Store runs in batches (memory stays flat); return how many were written.

        A run whose key is already stored for this experiment is skipped, or replaced (with
        its artifacts) when ``replace=True`` — e.g. to store a retried failure. ``on_stored``
        is called after each committed batch with the ``(run id, record)`` of every run that
        batch wrote (not the skipped ones).

        Raises
        ------
        NotFoundError
            For an unknown experiment.
        StoreError
            For artifacts without an artifacts folder, or a database failure.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {batch_size}")
        with self.engine.connect() as connection:
            self._require_experiment(connection, experiment_id)
        written = 0
        batch: list[RunRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                written += self._insert_batch(experiment_id, batch, replace, on_stored)
                batch = []
        if batch:
            written += self._insert_batch(experiment_id, batch, replace, on_stored)
        return written

    def _insert_batch(
        self,
        experiment_id: int,
        batch: list[RunRecord],
        replace: bool,
        on_stored: Callable[[Sequence[tuple[int, RunRecord]]], None] | None,
    ) -> int:
        unique: dict[str, RunRecord] = {}
        for record in batch:
            unique[record.run_key] = record  # the last record of a key within a batch wins
        try:
            return self._insert_unique(experiment_id, unique, replace, on_stored)
        except sa.exc.IntegrityError:
            # Another writer stored some of these keys between our check and our insert; the
            # check sees them now, so one retry settles it.
            log.info("concurrent insert into experiment %d; retrying the batch", experiment_id)
        try:
            return self._insert_unique(experiment_id, unique, replace, on_stored)
        except sa.exc.IntegrityError as e:
            raise StoreError(
                f"storing {len(unique)} runs of experiment {experiment_id} failed twice on a "
                f"constraint (concurrent writers?): {e.orig}"
            ) from e

    def _insert_unique(
        self,
        experiment_id: int,
        unique: dict[str, RunRecord],
        replace: bool,
        on_stored: Callable[[Sequence[tuple[int, RunRecord]]], None] | None,
    ) -> int:
        keys = list(unique)
        try:
            with self.engine.begin() as connection:
                present = {
                    row[0]
                    for row in connection.execute(
                        sa.select(runs.c.run_key).where(
                            runs.c.experiment_id == experiment_id, runs.c.run_key.in_(keys)
                        )
                    )
                }
                if present and replace:
                    connection.execute(
                        sa.delete(runs).where(
                            runs.c.experiment_id == experiment_id, runs.c.run_key.in_(present)
                        )
                    )
                    present = set()
                fresh = [unique[k] for k in keys if k not in present]
                if not fresh:
                    return 0
                connection.execute(sa.insert(runs), [self._row(experiment_id, r) for r in fresh])
                with_artifacts = [r for r in fresh if r.trades is not None or r.equity is not None]
                wanted = fresh if on_stored is not None else with_artifacts
                ids: dict[str, int] = {}
                if wanted:
                    ids = {
                        str(key): int(run_id)
                        for key, run_id in connection.execute(
                            sa.select(runs.c.run_key, runs.c.id).where(
                                runs.c.experiment_id == experiment_id,
                                runs.c.run_key.in_([r.run_key for r in wanted]),
                            )
                        )
                    }
                if with_artifacts:
                    rows = [
                        {"run_id": ids[r.run_key], "kind": kind, "path": path, "n_rows": n}
                        for r in with_artifacts
                        for kind, path, n in self._write_artifacts(experiment_id, r)
                    ]
                    connection.execute(sa.insert(artifacts), rows)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(
                f"storing {len(keys)} runs of experiment {experiment_id} failed: {e}"
            ) from e
        if on_stored is not None:  # committed: tell the caller which ids its runs got
            on_stored([(ids[r.run_key], r) for r in fresh])
        return len(fresh)

    def _artifact_paths(
        self, connection: sa.Connection, run_ids: Sequence[int]
    ) -> dict[int, dict[str, Path]]:
        out: dict[int, dict[str, Path]] = {}
        if not run_ids:
            return out
        query = sa.select(artifacts.c.run_id, artifacts.c.kind, artifacts.c.path).where(
            artifacts.c.run_id.in_(list(run_ids))
        )
        base = self.artifacts_dir or Path()
        for run_id, kind, path in connection.execute(query):
            out.setdefault(int(run_id), {})[str(kind)] = base / str(path)
        return out

    def get_run(self, run_id: int) -> StoredRun:
        """Return one run, or raise `NotFoundError`."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"no run with id {run_id} in this store")
            paths = self._artifact_paths(connection, [run_id]).get(run_id, {})
        return StoredRun(
            id=int(row["id"]),
            experiment_id=int(row["experiment_id"]),
            run_key=str(row["run_key"]),
            strategy=str(row["strategy"]),
            symbol=row["symbol"],
            params=dict(row["params"]),
            status=str(row["status"]),
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            duration_s=row["duration_s"],
            metrics=_read_metrics(row["metrics"]),
            artifacts=paths,
        )

    def load_artifact(self, run_id: int, kind: ArtifactKind) -> pl.DataFrame:
        """Read a run's ``trades`` or ``equity`` Parquet artifact."""
        if kind not in _ARTIFACT_KINDS:
            raise ConfigError(f"artifact kind must be one of {_ARTIFACT_KINDS}; got {kind!r}")
        run = self.get_run(run_id)
        path = run.artifacts.get(kind)
        if path is None:
            raise NotFoundError(f"run {run_id} has no {kind} artifact")
        if not path.is_file():
            raise StoreError(f"run {run_id}: {kind} artifact {path} is missing on disk")
        return pl.read_parquet(path)

    def _select_runs(
        self,
        experiment_id: int,
        order_by: str,
        descending: bool,
        limit: int | None,
        status: Literal["ok", "error", "all"],
        strategy: str | None,
    ) -> sa.Select[Any]:
        if order_by not in HEADLINE_METRIC_TYPES and order_by not in ("id", "duration_s"):
            raise ConfigError(
                f"cannot order runs by {order_by!r}; use one of "
                f"{', '.join((*HEADLINE_METRIC_TYPES, 'id', 'duration_s'))}"
            )
        if limit is not None and limit < 1:
            raise ConfigError(f"limit must be >= 1; got {limit}")
        column = runs.c[order_by]
        query = sa.select(runs).where(runs.c.experiment_id == experiment_id)
        if status != "all":
            query = query.where(runs.c.status == status)
        if strategy is not None:
            query = query.where(runs.c.strategy == strategy)
        # NULLs (no value, or a non-finite one) last in either direction, ids break ties;
        # written without NULLS LAST, which MySQL/MariaDB lack.
        query = query.order_by(
            sa.case((column.is_(None), 1), else_=0),
            column.desc() if descending else column.asc(),
            runs.c.id.asc(),
        )
        if limit is not None:
            query = query.limit(limit)
        return query

    def iter_runs(
        self,
        experiment_id: int,
        *,
        order_by: str = "id",
        descending: bool = False,
        status: Literal["ok", "error", "all"] = "all",
        strategy: str | None = None,
    ) -> Iterator[StoredRun]:
        """Yield runs one by one, streaming from the database (artifacts not resolved)."""
        query = self._select_runs(experiment_id, order_by, descending, None, status, strategy)
        with self.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=1000).execute(
                query
            )
            for row in result.mappings():
                yield StoredRun(
                    id=int(row["id"]),
                    experiment_id=int(row["experiment_id"]),
                    run_key=str(row["run_key"]),
                    strategy=str(row["strategy"]),
                    symbol=row["symbol"],
                    params=dict(row["params"]),
                    status=str(row["status"]),
                    error=row["error"],
                    started_at=row["started_at"],
                    finished_at=row["finished_at"],
                    duration_s=row["duration_s"],
                    metrics=_read_metrics(row["metrics"]),
                    artifacts={},
                )

    def runs(
        self,
        experiment_id: int,
        *,
        order_by: str = "pnl_to_max_drawdown",
        descending: bool = True,
        limit: int | None = None,
        status: Literal["ok", "error", "all"] = "ok",
        strategy: str | None = None,
    ) -> pl.DataFrame:
        """Return runs as a table, best first by ``order_by``.

        Columns: id, run_key, strategy, symbol, status, error, started_at, finished_at,
        duration_s, the headline metrics, ``params`` (JSON text) and one ``param.<name>`` column
        per parameter. Runs whose ``order_by`` value is NULL (missing or non-finite) come last.

        Parameters
        ----------
        experiment_id
            The experiment.
        order_by
            A headline metric, ``id`` or ``duration_s``.
        descending
            Largest first (default) or smallest first.
        limit
            At most this many rows.
        status
            ``"ok"`` (default), ``"error"`` or ``"all"``.
        strategy
            Only this strategy's runs.
        """
        query = self._select_runs(experiment_id, order_by, descending, limit, status, strategy)
        # only the table's columns: decoding every run's metrics JSON took half the time
        query = query.with_only_columns(*(runs.c[name] for name in _BASE_SCHEMA))
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        return _frame(rows)

    def best(
        self,
        experiment_id: int,
        *,
        metric: str = "pnl_to_max_drawdown",
        descending: bool = True,
        strategy: str | None = None,
    ) -> StoredRun:
        """Return the best successful run by ``metric``, or raise `NotFoundError` if none."""
        query = self._select_runs(experiment_id, metric, descending, 1, "ok", strategy)
        with self.engine.connect() as connection:
            row = connection.execute(query.with_only_columns(runs.c.id)).first()
        if row is None:
            raise NotFoundError(f"experiment {experiment_id} has no successful runs")
        return self.get_run(int(row[0]))

    def export(
        self,
        experiment_id: int,
        path: str | Path,
        *,
        file_format: Literal["csv", "parquet", "json"] | None = None,
        order_by: str = "pnl_to_max_drawdown",
        descending: bool = True,
        status: Literal["ok", "error", "all"] = "all",
    ) -> Path:
        """Write the experiment's runs to CSV, Parquet or JSON (format from the suffix by default).

        Returns
        -------
        Path
            The file written.
        """
        target = Path(path)
        kind = file_format or target.suffix.lower().lstrip(".")
        if kind not in ("csv", "parquet", "json"):
            raise ConfigError(
                f"cannot export to {target.name!r}: give a .csv, .parquet or .json path "
                "or file_format="
            )
        frame = self.runs(experiment_id, order_by=order_by, descending=descending, status=status)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "csv":
            frame.write_csv(target)
        elif kind == "parquet":
            frame.write_parquet(target)
        else:
            frame.write_json(target)
        log.info("exported %d runs of experiment %d to %s", frame.height, experiment_id, target)
        return target


_BASE_SCHEMA: Final[dict[str, Any]] = {
    "id": pl.Int64,
    "run_key": pl.String,
    "strategy": pl.String,
    "symbol": pl.String,
    "status": pl.String,
    "error": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64,
    **{
        name: (pl.Int64 if kind is sa.Integer else pl.Float64)
        for name, kind in HEADLINE_METRIC_TYPES.items()
    },
    "params": pl.String,
}


def _write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    # write beside the target, then rename: readers never see a half-written file
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _param_series(name: str, values: list[Any]) -> pl.Series:
    try:
        return pl.Series(name, values)
    except (TypeError, pl.exceptions.PolarsError):
        return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)


def _frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {name: [] for name in _BASE_SCHEMA}
    for row in rows:
        for name in _BASE_SCHEMA:
            if name == "params":
                data[name].append(json.dumps(row["params"], sort_keys=True))
            else:
                data[name].append(row[name])
    frame = pl.DataFrame(data, schema=_BASE_SCHEMA)
    names: list[str] = []
    for row in rows:
        for key in row["params"]:
            if key not in names:
                names.append(key)
    extra = [_param_series(f"param.{n}", [row["params"].get(n) for row in rows]) for n in names]
    return frame.with_columns(extra) if extra else frame
