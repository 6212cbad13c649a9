"""The results schema as SQLAlchemy Core tables (the Alembic migrations create the same thing).

Three tables:

- ``experiments``: one row per experiment (name, the config as JSON, when, code version, git
  revision, data fingerprint).
- ``runs``: one row per parameter combination run. ``(experiment_id, run_key)`` is unique — a run
  key is a content hash, so the same run may appear in two experiments, but never twice in one;
  that is what makes resuming idempotent. The headline metrics are real columns (sortable,
  indexable); all metrics are also kept as JSON (non-finite values as the strings ``"inf"``,
  ``"-inf"``, ``"nan"``, since JSON and MySQL/MariaDB have no NaN/inf; their real columns are NULL).
- ``artifacts``: files belonging to a run (trades, equity curve: Parquet), by path relative to the
  store's artifacts folder.

Timestamps are stored as UTC without zone (MySQL/MariaDB have no zone type) and come back as
timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

__all__ = [
    "HEADLINE_METRIC_TYPES",
    "VERSION_TABLE",
    "UTCDateTime",
    "artifacts",
    "experiments",
    "metadata",
    "runs",
]

NAMING: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

#: Alembic's version table for these migrations. Not Alembic's default ``alembic_version``: Optuna
#: studies share the results database and Optuna keeps its own schema revision in that table.
VERSION_TABLE: Final = "quantforge_alembic_version"


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A datetime stored as naive UTC (microseconds kept on MySQL/MariaDB), read as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Use DATETIME(6) on MySQL/MariaDB so microseconds survive."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert an aware datetime to naive UTC; refuse naive ones (ambiguous)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; pass a UTC-aware one")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Attach UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


#: headline metric -> column type (n_trades is a count)
HEADLINE_METRIC_TYPES: Final[dict[str, type[sa.types.TypeEngine[Any]]]] = {
    "total_return": sa.Float,
    "annual_return": sa.Float,
    "sharpe": sa.Float,
    "sortino": sa.Float,
    "calmar": sa.Float,
    "max_drawdown": sa.Float,
    "win_rate": sa.Float,
    "profit_factor": sa.Float,
    "n_trades": sa.Integer,
    "exposure": sa.Float,
    "pnl_to_max_drawdown": sa.Float,
}

# Float(53) is double precision everywhere (MySQL's plain FLOAT would be single precision).
_DOUBLE: Final = sa.Float(precision=53).with_variant(
    mysql.DOUBLE(asdecimal=False), "mysql", "mariadb"
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("git_revision", sa.String(40), nullable=True),
    sa.Column("data_fingerprint", sa.String(64), nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment_id",
        sa.Integer,
        sa.ForeignKey("experiments.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("run_key", sa.String(64), nullable=False),
    sa.Column("strategy", sa.String(100), nullable=False),
    sa.Column("symbol", sa.String(40), nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("duration_s", _DOUBLE, nullable=True),
    *(
        sa.Column(name, sa.Integer if kind is sa.Integer else _DOUBLE, nullable=True)
        for name, kind in HEADLINE_METRIC_TYPES.items()
    ),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.UniqueConstraint("experiment_id", "run_key", name="uq_runs_experiment_id_run_key"),
    sa.CheckConstraint("status IN ('ok', 'error')", name="ck_runs_status"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.UniqueConstraint("run_id", "kind", name="uq_artifacts_run_id_kind"),
)
