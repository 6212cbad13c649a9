"""Market data: sources, the Parquet catalog, validation, resampling."""

from __future__ import annotations

from quantforge.data.catalog import Catalog, DatasetInfo, WriteReport
from quantforge.data.sources.binance import BinanceClient

__all__: list[str] = ["BinanceClient", "Catalog", "DatasetInfo", "WriteReport"]
