"""Default locations, kept apart from `quantforge.config` so that reading them imports nothing.

The CLI builds its ``--help`` texts from these at import time; `quantforge.config.Settings`
(pydantic-settings) is only built when a command runs.
"""

from __future__ import annotations

__all__ = ["DEFAULT_BINANCE_BASE_URL", "DEFAULT_BINANCE_DATA_URL", "DEFAULT_CATALOG"]

#: Where the catalog lives when neither ``--catalog`` nor ``QUANTFORGE_CATALOG`` says otherwise.
DEFAULT_CATALOG = "catalog"
#: Binance spot REST base URL; point it at a test server, Binance US or the testnet.
DEFAULT_BINANCE_BASE_URL = "https://api.binance.com"
#: Binance public data dumps.
DEFAULT_BINANCE_DATA_URL = "https://data.binance.vision"
