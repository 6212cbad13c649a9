"""Memoise indicator results across a parameter sweep, bounded by bytes (LRU).

A sweep over ``fast in 5..50, slow in 20..200`` asks for ``ema(close, 20)`` many times; the cache
computes it once. Keys are ``(indicator name, canonical parameters, input fingerprints)``; a
fingerprint is the XXH3-128 digest of an input array's bytes plus its dtype and shape (~1 ms for
1M float64 values; not cryptographic, and it need not be: inputs are our own data).

Fingerprints of **read-only** arrays (e.g. columns from ``polars.Series.to_numpy()``, or arrays
after ``a.flags.writeable = False``) are computed once per array object and remembered while
the object lives. Writable arrays are hashed on every call, because they could have been
changed in place since the last one. Cached results are returned read-only (they are shared
between callers): copy one before changing it.

Memory is bounded: the total ``nbytes`` of stored results never exceeds ``max_bytes``; the least
recently used results are evicted first, and a single result larger than ``max_bytes`` is
returned but not stored. The cache is not thread-safe; use one per worker process.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from quantforge.errors import ConfigError
from quantforge.indicators.registry import IndicatorResult, Params, lookup

log = logging.getLogger(__name__)

_Key = tuple[str, Params, tuple[bytes, ...]]


def _freeze(result: IndicatorResult) -> int:
    # mark the stored arrays read-only and return their total size in bytes
    arrays = [result] if isinstance(result, np.ndarray) else list(result)
    for arr in arrays:
        arr.flags.writeable = False
    return sum(arr.nbytes for arr in arrays)


class IndicatorCache:
    """LRU cache of indicator results keyed by name, parameters and input fingerprints.

    Parameters
    ----------
    max_bytes : int, default 512 MiB
        Upper bound on the total size of stored results.

    Examples
    --------
    >>> import numpy as np
    >>> cache = IndicatorCache(max_bytes=10_000_000)
    >>> close = np.arange(100.0)
    >>> close.flags.writeable = False
    >>> a = cache.get("ema", {"period": 20}, [close])
    >>> b = cache.get("ema", {"period": 20}, [close])
    >>> a is b, cache.hits, cache.misses
    (True, 1, 1)
    """

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            msg = f"max_bytes must be an integer >= 0; got {max_bytes!r}"
            raise ConfigError(msg)
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        #: number of input arrays actually hashed (memoised fingerprints do not count)
        self.fingerprints_computed = 0
        self._store: OrderedDict[_Key, tuple[IndicatorResult, int]] = OrderedDict()
        self._bytes = 0
        self._fingerprints: dict[int, tuple[weakref.ref[np.ndarray[Any, Any]], bytes]] = {}

    @property
    def nbytes(self) -> int:
        """Total size of the stored results in bytes."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._store)

    def fingerprint(self, array: npt.NDArray[Any]) -> bytes:
        """Return a 16-byte XXH3-128 digest of an array's contents, tagged with dtype and shape."""
        ident = id(array)
        if not array.flags.writeable:
            known = self._fingerprints.get(ident)
            if known is not None and known[0]() is array:
                return known[1]
        digest = xxhash.xxh3_128()
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).view(np.uint8).data)
        value = digest.digest()
        self.fingerprints_computed += 1
        if not array.flags.writeable:
            self._fingerprints[ident] = (weakref.ref(array, self._forget(ident)), value)
        return value

    def _forget(self, ident: int) -> Any:
        def drop(_: object) -> None:
            self._fingerprints.pop(ident, None)

        return drop

    def get(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        inputs: Sequence[npt.ArrayLike],
    ) -> IndicatorResult:
        """Return ``name(*inputs, **params)``, computing it only on a miss.

        Parameters
        ----------
        name : str
            Registry name of the indicator (see ``quantforge.indicators.registry.REGISTRY``).
        params : mapping or None
            Keyword parameters; omitted ones take the function's defaults, so
            ``{"period": 14}`` and ``{}`` share an entry for ``rsi``.
        inputs : sequence of array_like
            Positional input arrays in the registry's order (e.g. high, low, close).

        Returns
        -------
        numpy.ndarray or tuple of numpy.ndarray
            The (read-only) result.

        Raises
        ------
        ConfigError
            For an unknown indicator, bad parameters or the wrong number of inputs.
        """
        info = lookup(name)
        if len(inputs) != len(info.inputs):
            msg = (
                f"{name} takes {len(info.inputs)} input arrays ({', '.join(info.inputs)}); "
                f"got {len(inputs)}"
            )
            raise ConfigError(msg)
        canonical = info.canonical_params((), dict(params or {}))
        arrays = [np.asarray(a) for a in inputs]
        key: _Key = (name, canonical, tuple(self.fingerprint(a) for a in arrays))
        stored = self._store.get(key)
        if stored is not None:
            self._store.move_to_end(key)
            self.hits += 1
            return stored[0]
        self.misses += 1
        result = info.function(*arrays, **dict(canonical))
        size = _freeze(result)
        if size <= self.max_bytes:
            self._store[key] = (result, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, old_size) = self._store.popitem(last=False)
                self._bytes -= old_size
                self.evictions += 1
        else:
            log.debug(
                "%s result of %d bytes exceeds max_bytes=%d; not cached", name, size, self.max_bytes
            )
        return result

    def clear(self) -> None:
        """Drop every stored result and memoised fingerprint; keep the counters."""
        self._store.clear()
        self._bytes = 0
        self._fingerprints.clear()
