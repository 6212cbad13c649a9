"""Fast JSON for the results path (orjson): the store's JSON columns and the per-run files.

A sweep of 10,000 runs encodes every run's metrics and parameters into the store, writes a file
per run and reads the runs back for the summary; with the standard library that was ~1.3 s of the
parent's CPU per 10,000 runs, with orjson ~0.15 s (docs/benchmarks.md).

Conventions shared by every caller, so what is stored and what is written agree:
datetimes and other non-JSON values become ``str(value)`` (as ``json.dumps(default=str)`` did),
non-string dict keys become strings, and NaN/inf become ``null`` — the metrics writers turn
non-finite numbers into the strings ``"nan"``, ``"inf"``, ``"-inf"`` before encoding, so only
parameters can meet this rule. Run keys do not use this module: their canonical form is frozen
(`quantforge.experiment.keys`).
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

__all__ = ["dumps", "dumps_bytes", "loads"]

_OPTIONS: Final = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps_bytes(value: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """Return ``value`` as UTF-8 JSON (two-space indented when ``indent``)."""
    options = _OPTIONS
    if indent:
        options |= orjson.OPT_INDENT_2
    if sort_keys:
        options |= orjson.OPT_SORT_KEYS
    return orjson.dumps(value, default=str, option=options)


def dumps(value: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    """Return ``value`` as a JSON string (see `dumps_bytes`)."""
    return dumps_bytes(value, indent=indent, sort_keys=sort_keys).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse JSON text; also the standard library's ``NaN``/``Infinity`` literals.

    Stores written by earlier versions (standard-library encoder) may hold those literals in a
    parameter; orjson refuses them, so such text takes the standard library's parser.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
