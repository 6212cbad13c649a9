"""Indicators by name: which function computes each, which frame columns feed it, its outputs.

Used by `IndicatorCache` (keys are ``(name, canonical params, input fingerprints)``), by the frame
helpers (`spec`, `with_indicators`) and by `mtf_indicator`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy.typing as npt

from quantforge._typing import FloatArray
from quantforge.errors import ConfigError
from quantforge.indicators.momentum import (
    macd,
    roc,
    rsi,
    stochastic,
    stochastic_fast,
)
from quantforge.indicators.moving import ema, sma, wma
from quantforge.indicators.trend import adx, dmi, linreg_slope, minus_di, plus_di
from quantforge.indicators.volatility import (
    atr,
    bollinger_bands,
    donchian,
    rolling_max,
    rolling_min,
    rolling_std,
    true_range,
    zscore,
)
from quantforge.indicators.volume import (
    obv,
    rolling_vwap,
    session_vwap,
    typical_price,
)

log = logging.getLogger(__name__)

#: what an indicator returns: one array, or a NamedTuple of arrays
IndicatorResult: TypeAlias = FloatArray | tuple[FloatArray, ...]
#: canonical parameters: (name, value) pairs in signature order, defaults filled in
Params: TypeAlias = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    """How to compute one named indicator.

    Attributes
    ----------
    name : str
        Registry name (``"ema"``, ``"bollinger_bands"``, ...).
    function : Callable
        Array function; called as ``function(*inputs, **params)``.
    inputs : tuple of str
        Default frame column for each positional input, in order.
    outputs : tuple of str
        Field names of a multi-output result; empty for a single array.
    warmup : Callable
        Canonical parameters (as a dict) -> leading NaN count of each output (TA-Lib lookback).
    """

    name: str
    function: Callable[..., IndicatorResult]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    warmup: Callable[[dict[str, Any]], tuple[int, ...]] = lambda _: (0,)

    def canonical_params(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Params:
        """Bind ``args``/``kwargs`` to the parameters after the inputs, defaults filled in.

        Raises
        ------
        ConfigError
            For unknown or missing parameters (with close-match suggestions).
        """
        spec = _parameter_spec(self.function, len(self.inputs))
        if not args and spec is not None:
            # keyword parameters only (the cache's case): fill defaults without binding
            order, defaults = spec
            if all(k in defaults for k in kwargs) and all(
                k in kwargs or defaults[k] is not inspect.Parameter.empty for k in order
            ):
                return tuple((k, kwargs[k] if k in kwargs else defaults[k]) for k in order)
        signature = inspect.signature(self.function)
        names = list(signature.parameters)[len(self.inputs) :]
        unknown = [k for k in kwargs if k not in names]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], names, n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            msg = (
                f"{self.name} has no parameter {unknown[0]!r}; its parameters are "
                f"{', '.join(names) or '(none)'}.{suggestion}"
            )
            raise ConfigError(msg)
        try:
            bound = signature.bind(*([None] * len(self.inputs)), *args, **kwargs)
        except TypeError as e:
            msg = f"bad parameters for {self.name}({', '.join(names)}): {e}"
            raise ConfigError(msg) from e
        bound.apply_defaults()
        return tuple((k, bound.arguments[k]) for k in names if k in bound.arguments)


@functools.cache
def _parameter_spec(
    function: Callable[..., IndicatorResult], n_inputs: int
) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    # The names and defaults of an indicator's parameters after its inputs, computed once per
    # function (inspect.signature costs ~0.1 ms, once per cache look-up before); None when a
    # parameter is variadic or positional-only, which only the full binding handles.
    params = list(inspect.signature(function).parameters.values())[n_inputs:]
    simple = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind not in simple for p in params):
        return None
    return tuple(p.name for p in params), {p.name: p.default for p in params}


def _vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    period: int,
) -> FloatArray:
    return rolling_vwap(typical_price(high, low, close), volume, period)


def _session_vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    open_time: npt.ArrayLike,
) -> FloatArray:
    return session_vwap(typical_price(high, low, close), volume, open_time=open_time)


_HLC = ("high", "low", "close")
_BANDS = ("upper", "middle", "lower")


def _window(p: dict[str, Any]) -> tuple[int, ...]:
    return (int(p["period"]) - 1,)


def _smoothed(p: dict[str, Any]) -> tuple[int, ...]:
    return (int(p["period"]),)


def _window3(p: dict[str, Any]) -> tuple[int, ...]:
    return _window(p) * 3


def _macd(p: dict[str, Any]) -> tuple[int, ...]:
    return (int(p["slow"]) + int(p["signal"]) - 2,) * 3


def _stoch(p: dict[str, Any]) -> tuple[int, ...]:
    return (int(p["k_period"]) + int(p["slowing"]) + int(p["d_period"]) - 3,) * 2


def _stoch_fast(p: dict[str, Any]) -> tuple[int, ...]:
    return (int(p["k_period"]) + int(p["d_period"]) - 2,) * 2


def _dmi(p: dict[str, Any]) -> tuple[int, ...]:
    period = int(p["period"])
    return (period, period, 2 * period - 1)


def _adx(p: dict[str, Any]) -> tuple[int, ...]:
    return (2 * int(p["period"]) - 1,)


REGISTRY: Mapping[str, IndicatorInfo] = {
    info.name: info
    for info in (
        IndicatorInfo("sma", sma, ("close",), (), _window),
        IndicatorInfo("ema", ema, ("close",), (), _window),
        IndicatorInfo("wma", wma, ("close",), (), _window),
        IndicatorInfo("rsi", rsi, ("close",), (), _smoothed),
        IndicatorInfo("macd", macd, ("close",), ("macd", "signal", "histogram"), _macd),
        IndicatorInfo("roc", roc, ("close",), (), _smoothed),
        IndicatorInfo("stochastic", stochastic, _HLC, ("k", "d"), _stoch),
        IndicatorInfo("stochastic_fast", stochastic_fast, _HLC, ("k", "d"), _stoch_fast),
        IndicatorInfo("true_range", true_range, _HLC, (), lambda _: (1,)),
        IndicatorInfo("atr", atr, _HLC, (), _smoothed),
        IndicatorInfo("rolling_std", rolling_std, ("close",), (), _window),
        IndicatorInfo("zscore", zscore, ("close",), (), _window),
        IndicatorInfo("bollinger_bands", bollinger_bands, ("close",), _BANDS, _window3),
        IndicatorInfo("rolling_max", rolling_max, ("high",), (), _window),
        IndicatorInfo("rolling_min", rolling_min, ("low",), (), _window),
        IndicatorInfo("donchian", donchian, ("high", "low"), _BANDS, _window3),
        IndicatorInfo("dmi", dmi, _HLC, ("plus_di", "minus_di", "adx"), _dmi),
        IndicatorInfo("adx", adx, _HLC, (), _adx),
        IndicatorInfo("plus_di", plus_di, _HLC, (), _smoothed),
        IndicatorInfo("minus_di", minus_di, _HLC, (), _smoothed),
        IndicatorInfo("linreg_slope", linreg_slope, ("close",), (), _window),
        IndicatorInfo("obv", obv, ("close", "volume")),
        IndicatorInfo("typical_price", typical_price, _HLC),
        IndicatorInfo("vwap", _vwap, (*_HLC, "volume"), (), _window),
        IndicatorInfo("session_vwap", _session_vwap, (*_HLC, "volume", "open_time")),
    )
}


def lookup(name: str) -> IndicatorInfo:
    """Return the registry entry for ``name``.

    Raises
    ------
    ConfigError
        If no indicator has that name (suggesting close matches).
    """
    info = REGISTRY.get(name)
    if info is None:
        hint = difflib.get_close_matches(name, list(REGISTRY), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        msg = f"unknown indicator {name!r}; known: {', '.join(sorted(REGISTRY))}.{suggestion}"
        raise ConfigError(msg)
    return info
