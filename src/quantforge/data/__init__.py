"""Market data: sources, the Parquet catalog, validation, resampling."""

from __future__ import annotations

__all__: list[str] = []
