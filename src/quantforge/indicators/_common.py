"""Input validation and the NaN-segment rule shared by every indicator function.

NaN rule (documented in ``docs/indicators.md``): a bar where any input is NaN or ±inf splits the
series. Each run of finite bars is computed as if it were a series of its own (warm-up included),
and the non-finite bars get NaN. So a gap never leaks a NaN into the recursive state of an EMA or
ATR forever, every window that touches a gap is NaN, and an indicator of an indicator (EMA of an
RSI, whose warm-up is NaN) just starts after the warm-up.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError
from quantforge.indicators._kernels import all_finite_nb

log = logging.getLogger(__name__)


def as_float_array(name: str, values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a contiguous 1-D float64 array, or raise `ConfigError`."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        msg = f"{name} must be a 1-D array of numbers; could not convert it to float64 ({e})"
        raise ConfigError(msg) from e
    if arr.ndim != 1:
        msg = f"{name} must be 1-D; got an array of shape {arr.shape} (pass one column at a time)"
        raise ConfigError(msg)
    return arr


def as_float_arrays(**named: npt.ArrayLike) -> list[FloatArray]:
    """Convert every keyword to float64 and check they all have the same length."""
    arrays = [as_float_array(name, values) for name, values in named.items()]
    lengths = {name: arr.shape[0] for name, arr in zip(named, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        msg = f"input arrays must have the same length; got {detail}"
        raise ConfigError(msg)
    return arrays


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``, else raise `ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be an integer >= {minimum}; got {value!r} ({type(value).__name__})"
        raise ConfigError(msg)
    ivalue = int(value)
    if ivalue < minimum:
        msg = f"{name} must be an integer >= {minimum}; got {ivalue}"
        raise ConfigError(msg)
    return ivalue


def check_float(name: str, value: object, minimum: float | None = None) -> float:
    """Return ``value`` as a finite float (``>= minimum`` when given), else raise `ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a real number; got {value!r} ({type(value).__name__})"
        raise ConfigError(msg)
    fvalue = float(value)
    if not np.isfinite(fvalue) or (minimum is not None and fvalue < minimum):
        bound = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        msg = f"{name} must be {bound}; got {fvalue!r}"
        raise ConfigError(msg)
    return fvalue


def by_finite_segments(
    kernel: Callable[..., tuple[FloatArray, ...]],
    checked: Sequence[FloatArray],
    n_out: int,
    extra: Sequence[npt.NDArray[Any]] = (),
) -> tuple[FloatArray, ...]:
    """Run ``kernel(*checked, *extra)`` on every run of bars where all ``checked`` are finite.

    ``extra`` arrays (e.g. session-start flags) are sliced alongside but not checked. Bars that are
    not finite get NaN in every output.
    """
    # fast path: a finite sum proves every value finite (NaN/±inf propagate); a sum that
    # overflows only sends us down the exact path below
    if all(math.isfinite(float(np.sum(arr))) or all_finite_nb(arr) for arr in checked):
        return kernel(*checked, *extra)
    n = checked[0].shape[0]
    finite = np.ones(n, dtype=np.bool_)
    for arr in checked:
        finite &= np.isfinite(arr)
    outs = tuple(np.full(n, np.nan) for _ in range(n_out))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        parts = kernel(*(a[start:stop] for a in checked), *(e[start:stop] for e in extra))
        for out, part in zip(outs, parts, strict=True):
            out[start:stop] = part
    return outs


def single(
    kernel: Callable[..., FloatArray], checked: Sequence[FloatArray], *args: object
) -> FloatArray:
    """Apply a one-output kernel (extra scalar ``args``) with the NaN-segment rule."""

    def run(*arrays: FloatArray) -> tuple[FloatArray, ...]:
        return (kernel(*arrays, *args),)

    return by_finite_segments(run, checked, 1)[0]
