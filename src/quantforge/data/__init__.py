"""Market data: sources, the Parquet catalog, validation, resampling."""

from __future__ import annotations

from quantforge.data.catalog import Catalog, DatasetInfo, WriteReport
from quantforge.data.ingest import ImportReport, import_files
from quantforge.data.resample import resample_bars
from quantforge.data.sources.binance import BinanceClient
from quantforge.data.sources.binance_dumps import DumpFile, read_binance_dump
from quantforge.data.sources.csv import read_table
from quantforge.data.validate import CheckReport, check_bars, split_quarantine

__all__: list[str] = [
    "BinanceClient",
    "Catalog",
    "CheckReport",
    "DatasetInfo",
    "DumpFile",
    "ImportReport",
    "WriteReport",
    "check_bars",
    "import_files",
    "read_binance_dump",
    "read_table",
    "resample_bars",
    "split_quarantine",
]
