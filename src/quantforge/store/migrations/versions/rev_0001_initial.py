"""Create experiments, runs and artifacts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types as of this revision (tables.py may move on; this may not).
_DOUBLE = sa.Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_METRICS = (
    ("total_return", _DOUBLE),
    ("annual_return", _DOUBLE),
    ("sharpe", _DOUBLE),
    ("sortino", _DOUBLE),
    ("calmar", _DOUBLE),
    ("max_drawdown", _DOUBLE),
    ("win_rate", _DOUBLE),
    ("profit_factor", _DOUBLE),
    ("n_trades", sa.Integer()),
    ("exposure", _DOUBLE),
    ("pnl_to_max_drawdown", _DOUBLE),
)


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("git_revision", sa.String(40), nullable=True),
        sa.Column("data_fingerprint", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
    )
    op.create_index("ix_experiments_name", "experiments", ["name"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("strategy", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("duration_s", _DOUBLE, nullable=True),
        *(sa.Column(name, kind, nullable=True) for name, kind in _METRICS),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="fk_runs_experiment_id_experiments",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("experiment_id", "run_key", name="uq_runs_experiment_id_run_key"),
        sa.CheckConstraint("status IN ('ok', 'error')", name="ck_runs_status"),
    )
    op.create_index("ix_runs_experiment_id", "runs", ["experiment_id"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_artifacts_run_id_runs", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "kind", name="uq_artifacts_run_id_kind"),
    )
    op.create_index("ix_artifacts_run_id", "artifacts", ["run_id"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("ix_artifacts_run_id", table_name="artifacts")
    op.drop_table("artifacts")
    op.drop_index("ix_runs_experiment_id", table_name="runs")
    op.drop_table("runs")
    op.drop_index("ix_experiments_name", table_name="experiments")
    op.drop_table("experiments")
