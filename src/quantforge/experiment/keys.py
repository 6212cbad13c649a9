"""Run keys and data fingerprints: stable identities that make experiments resumable.

A run key is the BLAKE2b hash of a canonical JSON document holding the strategy name, its
parameters, the engine settings, the code version and the data fingerprint. Canonical means:
keys sorted, no whitespace, floats in their shortest round-trip form (``repr``), NumPy scalars
turned into Python numbers, NaN/inf rejected. ``5`` and ``5.0`` are different parameters (a
window of 5 is an int), so they give different keys. Nothing depends on Python's ``hash()``, so a
key is the same in every process, machine and ``PYTHONHASHSEED``.

The data fingerprint hashes the exact rows a run sees: for each column used (in the given order)
its name, dtype, length, validity mask and values, read from contiguous buffers after rechunking
— so the way a frame was chunked or sliced does not change it, while any changed value, row or
column does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel

import quantforge
from quantforge.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "canonical_json",
    "code_version",
    "data_fingerprint",
    "git_revision",
    "run_key",
    "run_keyer",
]

#: bump when the key recipe changes, so old and new keys never collide
KEY_SCHEMA: Final = 1
_DIGEST_BYTES: Final = 16


def _canonical(value: Any, where: str) -> Any:
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump(mode="json"), where)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _canonical(value.item(), where)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {value!r}; keys need finite numbers")
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where} has a non-text key {key!r}; use text keys")
            out[key] = _canonical(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ConfigError(
        f"{where} is a {type(value).__name__} ({value!r}); keys accept numbers, text, booleans, "
        "None, dates, lists and mappings"
    )


def canonical_json(value: Any, *, where: str = "value") -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, compact, finite floats).

    Raises
    ------
    ConfigError
        For NaN/inf or a value JSON cannot hold.

    Examples
    --------
    >>> canonical_json({"slow": 50, "fast": 5.5})
    '{"fast":5.5,"slow":50}'
    """
    return json.dumps(
        _canonical(value, where),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def code_version() -> str:
    """Return the quantforge version string that goes into run keys."""
    return quantforge.__version__


def git_revision(path: str | Path | None = None) -> str | None:
    """Return the git commit of the checkout holding ``path`` (default: this package), or None."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = out.stdout.strip()
    return revision if out.returncode == 0 and len(revision) == 40 else None


def run_key(
    strategy: str,
    params: Mapping[str, Any],
    engine: Mapping[str, Any] | BaseModel,
    data_fingerprint: str,
    *,
    code: str | None = None,
) -> str:
    """Return the stable key of one run: 32 hex characters.

    Parameters
    ----------
    strategy
        Strategy registry name.
    params
        The parameter combination.
    engine
        Engine settings (a mapping or a pydantic model such as `EngineSpec`).
    data_fingerprint
        `data_fingerprint` of the bars (include the symbol in what you fingerprint, or run one
        fingerprint per symbol).
    code
        Code version; default `code_version()`.

    Returns
    -------
    str

    Examples
    --------
    >>> k = run_key("ma_cross", {"fast": 5, "slow": 50}, {"cash": 1e4}, "ab" * 16, code="1")
    >>> k == run_key("ma_cross", {"slow": 50, "fast": 5}, {"cash": 1e4}, "ab" * 16, code="1")
    True
    """
    document = {
        "schema": KEY_SCHEMA,
        "strategy": strategy,
        "params": _canonical(params, "params"),
        "engine": _canonical(engine, "engine"),
        "data": data_fingerprint,
        "code": code if code is not None else code_version(),
    }
    text = canonical_json(document, where="run")
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).hexdigest()


def run_keyer(
    engine: Mapping[str, Any] | BaseModel,
    data_fingerprint: str,
    *,
    code: str | None = None,
) -> Callable[[str, Mapping[str, Any]], str]:
    """Return ``run_key`` with the engine, data and code fixed: ``keyer(strategy, params)``.

    The engine document is encoded once, not once per combination (a grid of 10,000 runs shares
    it); the keys are the same strings `run_key` returns.

    Examples
    --------
    >>> keyer = run_keyer({"cash": 1e4}, "ab" * 16, code="1")
    >>> keyer("ma_cross", {"fast": 5}) == run_key("ma_cross", {"fast": 5}, {"cash": 1e4},
    ...                                           "ab" * 16, code="1")
    True
    """

    def dump(value: Any) -> str:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )

    # canonical_json of run_key's document: its keys in sorted order, compact
    head = (
        f'{{"code":{dump(code if code is not None else code_version())},'
        f'"data":{dump(data_fingerprint)},"engine":{dump(_canonical(engine, "engine"))},'
        '"params":'
    )
    schema = f',"schema":{KEY_SCHEMA},"strategy":'

    def keyer(strategy: str, params: Mapping[str, Any]) -> str:
        text = f"{head}{dump(_canonical(params, 'params'))}{schema}{dump(strategy)}}}"
        return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).hexdigest()

    return keyer


def _hash_series(h: Any, series: pl.Series) -> None:
    dtype = series.dtype
    h.update(f"{series.name}\x00{dtype}\x00{series.len()}\x00".encode())
    if series.null_count() > 0:
        h.update(b"V")
        h.update(np.ascontiguousarray(series.is_null().to_numpy(), dtype=np.uint8).tobytes())
    if dtype == pl.Boolean:
        values = series.fill_null(value=False).cast(pl.UInt8).to_numpy()
        h.update(np.ascontiguousarray(values).tobytes())
        return
    if dtype.is_numeric() or dtype.is_temporal():
        physical = series.to_physical()
        if physical.null_count() > 0:
            physical = physical.fill_null(0)
        h.update(np.ascontiguousarray(physical.to_numpy()).tobytes())
        return
    if dtype in (pl.String, pl.Categorical, pl.Enum) or isinstance(dtype, pl.Categorical | pl.Enum):
        array = series.cast(pl.String).fill_null("").to_arrow()
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        array = array.cast(pa.large_string())
        _, offsets_buffer, data_buffer = array.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
            array.offset : array.offset + len(array) + 1
        ]
        h.update((offsets - offsets[0]).tobytes())
        if data_buffer is not None:
            h.update(memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])])
        return
    raise DataError(
        f"cannot fingerprint column {series.name!r} of type {dtype}; "
        "fingerprint numeric, temporal, boolean and text columns only"
    )


def data_fingerprint(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> str:
    """Return a BLAKE2b fingerprint (32 hex characters) of the exact rows and columns used.

    Parameters
    ----------
    frame
        The bars (any chunking; it is rechunked first).
    columns
        The columns the runs read, in a fixed order; default: every column in frame order.

    Returns
    -------
    str

    Raises
    ------
    DataError
        When a column is missing or of a type that cannot be fingerprinted (lists, structs).

    Examples
    --------
    >>> a = pl.DataFrame({"close": [1.0, 2.0]})
    >>> data_fingerprint(a) == data_fingerprint(pl.concat([a[:1], a[1:]], rechunk=False))
    True
    """
    names = list(columns) if columns is not None else frame.columns
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(
            f"cannot fingerprint: columns {missing} are not in the frame ({frame.columns})"
        )
    h = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    h.update(f"quantforge-data-v{KEY_SCHEMA}\x00{frame.height}\x00".encode())
    for name in names:
        _hash_series(h, frame.get_column(name).rechunk())
    return h.hexdigest()
