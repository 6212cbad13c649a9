"""Market data: sources, the Parquet catalog, validation, resampling."""

from __future__ import annotations

from quantforge.data.catalog import Catalog, DatasetInfo, WriteReport

__all__: list[str] = ["Catalog", "DatasetInfo", "WriteReport"]
