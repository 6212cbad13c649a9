"""Settings read from the environment (prefix ``QUANTFORGE_``), built in entry points.

Nothing reads these at import time: `cli` and `api` build a `Settings` and pass values down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from quantforge.defaults import (
    DEFAULT_BINANCE_BASE_URL,
    DEFAULT_BINANCE_DATA_URL,
    DEFAULT_CATALOG,
)

__all__ = ["DEFAULT_BINANCE_BASE_URL", "DEFAULT_BINANCE_DATA_URL", "DEFAULT_CATALOG", "Settings"]


class Settings(BaseSettings):
    """User settings; every field can be set as ``QUANTFORGE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="QUANTFORGE_", extra="ignore")

    catalog: str = Field(
        default=DEFAULT_CATALOG,
        description="catalog location: a local folder or an s3:// URL",
    )
    binance_base_url: str = DEFAULT_BINANCE_BASE_URL
    binance_data_url: str = DEFAULT_BINANCE_DATA_URL
    shared_data: Path | None = Field(
        default=None, description="folder of real market data used by the demo and tests"
    )
    results_dir: Path = Path("results")
    store_url: str | None = Field(default=None, description="results database URL")
