"""The exception tree: every error quantforge raises on purpose derives from `QuantforgeError`.

Messages say what is wrong, give the offending value and say what to do next. The CLI prints
the message and exits 1 (failure) or 2 (usage/configuration); tracebacks only with ``--debug``.
"""

from __future__ import annotations


class QuantforgeError(Exception):
    """Base of every error quantforge raises on purpose."""

    #: process exit code the CLI uses for this error
    exit_code: int = 1


class ConfigError(QuantforgeError, ValueError):
    """A setting, parameter or configuration file is invalid."""

    exit_code = 2


class DataError(QuantforgeError):
    """Market data could not be read, written or trusted."""


class DataSourceError(DataError):
    """A venue or network source failed; the cause is chained."""


class ExchangeAPIError(DataSourceError):
    """An exchange answered with an error body (e.g. Binance ``{"code": -1121, "msg": ...}``)."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InvalidSymbolError(ExchangeAPIError, ValueError):
    """The exchange does not know the symbol (or interval); retrying will not help."""

    exit_code = 2


class RateLimitError(ExchangeAPIError):
    """The exchange rate limit was hit (HTTP 429) or the IP was banned (HTTP 418)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after_s = retry_after_s


class ChecksumError(DataError):
    """A downloaded or imported file does not match its published checksum."""


class DataFormatError(DataError, ValueError):
    """A file is malformed: wrong column count, text in a numeric column, truncated archive..."""


class DataValidationError(DataError, ValueError):
    """Data breaks an invariant: gaps, duplicates, NaN, unsorted timestamps, OHLC breaks."""


class CatalogError(DataError):
    """The Parquet catalog could not be read or written."""


class NotFoundError(QuantforgeError, LookupError):
    """An unknown run id, symbol, dataset or strategy."""


class StrategyError(QuantforgeError):
    """User strategy code raised; the cause is chained."""


class EngineError(QuantforgeError):
    """The simulation was asked to do something it cannot do."""


class OptimizationError(QuantforgeError):
    """A parameter search or validation could not be run."""


class ExecutionBackendError(QuantforgeError):
    """An executor (local pool, Ray) failed to run tasks."""


class StoreError(QuantforgeError):
    """The results store could not be read or written."""
