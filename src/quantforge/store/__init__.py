"""The results database (SQLite by default, PostgreSQL, MariaDB) and its Parquet artifacts."""

from __future__ import annotations

from quantforge.store.repository import ResultStore, RunRecord, StoredRun

__all__ = ["ResultStore", "RunRecord", "StoredRun"]
