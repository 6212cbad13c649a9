"""Alembic migrations of the results store (run programmatically by `ResultStore.open`)."""
