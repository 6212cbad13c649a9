"""Market data: sources, the Parquet catalog, validation, resampling.

Names are imported on first use (PEP 562), so ``import quantforge.data.schema`` does not pull in
the HTTP client, the catalog or the validators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantforge._lazy import lazy_attributes

if TYPE_CHECKING:
    from quantforge.data.catalog import Catalog, DatasetInfo, WriteReport
    from quantforge.data.ingest import ImportReport, import_files
    from quantforge.data.resample import resample_bars
    from quantforge.data.sources.binance import BinanceClient
    from quantforge.data.sources.binance_dumps import DumpFile, read_binance_dump
    from quantforge.data.sources.csv import read_table
    from quantforge.data.validate import CheckReport, check_bars, split_quarantine

_LAZY: dict[str, str] = {
    "BinanceClient": "quantforge.data.sources.binance",
    "Catalog": "quantforge.data.catalog",
    "CheckReport": "quantforge.data.validate",
    "DatasetInfo": "quantforge.data.catalog",
    "DumpFile": "quantforge.data.sources.binance_dumps",
    "ImportReport": "quantforge.data.ingest",
    "WriteReport": "quantforge.data.catalog",
    "check_bars": "quantforge.data.validate",
    "import_files": "quantforge.data.ingest",
    "read_binance_dump": "quantforge.data.sources.binance_dumps",
    "read_table": "quantforge.data.sources.csv",
    "resample_bars": "quantforge.data.resample",
    "split_quarantine": "quantforge.data.validate",
}

__all__ = [
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


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
