"""Alembic environment: migrations run on the connection `ResultStore.open` hands over.

Run by hand (``alembic -x url=sqlite:///results.db upgrade head`` with ``script_location`` pointing
here) it opens its own connection from the ``url`` option instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from quantforge.store.tables import VERSION_TABLE, metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Upgrade on the given connection, or on one opened from the ``url`` option."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database: pass -x url=<sqlalchemy url>")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; give a database url")
run_migrations()
