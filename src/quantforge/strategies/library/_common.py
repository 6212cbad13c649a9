"""What every built-in strategy shares: the definition base class, signal plans, bar arrays.

A built-in strategy is a `StrategyDefinition`: a name, a `ParamSpace`, rules (the class
docstring) and two ways to produce decisions from bars and parameters:

- `StrategyDefinition.signals` returns a `SignalPlan` (boolean arrays + declarative exits) for the
  compiled fast path, or None when the rules need state the fast path cannot express;
- `StrategyDefinition.build` returns an event-path `Strategy` object.

Both take an optional `IndicatorCache` so that a sweep computes each distinct indicator once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import polars as pl

from quantforge._typing import BoolArray, FloatArray, IntArray
from quantforge.engine.exits import ExitRules
from quantforge.errors import ConfigError
from quantforge.indicators.registry import lookup
from quantforge.strategies.params import ParamSpace, ParamValue

if TYPE_CHECKING:
    from quantforge.engine.backtest import Backtest
    from quantforge.engine.result import BacktestResult
    from quantforge.engine.state import MarketArrays
    from quantforge.indicators.cache import IndicatorCache
    from quantforge.strategies.base import Strategy

log = logging.getLogger(__name__)

Path = Literal["auto", "signals", "events"]
Params = dict[str, ParamValue]


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """Decisions for the compiled fast path: signal arrays plus the exits attached to entries."""

    entries: BoolArray
    exits: BoolArray
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None
    exit_rules: ExitRules = field(default_factory=ExitRules)

    def configured(self, config: Backtest) -> Backtest:
        """Return ``config`` with the exits our entries get: ours, merged with its own.

        ``config.exit_rules`` fill in the kinds of exit we leave unset, as on the event path
        (`ExitRules.merged`; both setting one kind raises `ConfigError`).
        """
        from dataclasses import replace

        rules = self.exit_rules.merged(config.exit_rules)
        return config if rules is config.exit_rules else replace(config, exit_rules=rules)

    def run(self, bars: pl.DataFrame, config: Backtest) -> BacktestResult:
        """Run this plan on ``bars`` with ``config`` (exits merged, see `configured`)."""
        return self.configured(config).run_signals(
            bars, self.entries, self.exits, self.short_entries, self.short_exits
        )

    def metrics(self, bars: pl.DataFrame | MarketArrays, config: Backtest) -> Mapping[str, float]:
        """Return only the metrics of `run` (equal bit for bit), without building frames.

        ``bars`` may be the `MarketArrays` of ``config.market(frame)`` reused across plans, as
        long as ``configured(config)`` has the same ``kernel_atr_period``.
        """
        return self.configured(config).run_signals_metrics(
            bars, self.entries, self.exits, self.short_entries, self.short_exits
        )


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Read-only float64 columns of a bar frame (read-only so the cache memoises fingerprints)."""

    time_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def of(cls, bars: pl.DataFrame) -> BarArrays:
        """Return the columns of ``bars`` (``open_time`` as int64 ms since the epoch, UTC)."""
        t = bars["open_time"]
        if isinstance(t.dtype, pl.Datetime):
            t = t.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
        time_ms = np.ascontiguousarray(t.cast(pl.Int64).to_numpy(), dtype=np.int64)
        cols = [
            np.ascontiguousarray(bars[c].cast(pl.Float64).to_numpy(), dtype=np.float64)
            for c in ("open", "high", "low", "close", "volume")
        ]
        for a in (time_ms, *cols):
            a.flags.writeable = False
        return cls(time_ms, *cols)


def indicator(
    cache: IndicatorCache | None, name: str, params: Mapping[str, Any], *inputs: FloatArray
) -> FloatArray:
    """Return indicator ``name`` on ``inputs``, through ``cache`` when one is given."""
    result = (
        cache.get(name, params, list(inputs))
        if cache is not None
        else lookup(name).function(*inputs, **dict(params))
    )
    if not isinstance(result, np.ndarray):
        msg = f"indicator {name!r} returns several arrays; strategies use single-output ones"
        raise ConfigError(msg)
    return result


def crosses_above(a: FloatArray, b: FloatArray) -> BoolArray:
    """Return ``a[t] > b[t] and a[t-1] <= b[t-1]`` (False where any of the four is NaN)."""
    out = np.zeros(a.shape[0], dtype=np.bool_)
    if a.shape[0] > 1:
        with np.errstate(invalid="ignore"):
            out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def crosses_below(a: FloatArray, b: FloatArray) -> BoolArray:
    """Return ``a[t] < b[t] and a[t-1] >= b[t-1]`` (False where any of the four is NaN)."""
    return crosses_above(b, a)


def moving_average(
    cache: IndicatorCache | None, kind: object, close: FloatArray, period: object
) -> FloatArray:
    # kind/period come from a resolved params dict (values typed as ParamValue)
    """Return the ``kind`` ("sma" or "ema") moving average of ``close``."""
    if kind not in ("sma", "ema"):
        msg = f"ma type {kind!r}; use 'sma' or 'ema'"
        raise ConfigError(msg)
    if not isinstance(period, int):
        msg = f"ma period {period!r}; use an integer >= 1"
        raise ConfigError(msg)
    return indicator(cache, str(kind), {"period": period}, close)


class StrategyDefinition:
    """A named built-in strategy: parameters, rules and the two ways to run it.

    Subclasses set `name`, `summary` and `space`, state the rules in their docstring and
    implement `build` (event path) and, when the rules can be expressed as signals, `signals`.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    space: ClassVar[ParamSpace] = ParamSpace(())

    @property
    def rules(self) -> str:
        """Return the rules (the class docstring, dedented)."""
        import inspect

        return inspect.cleandoc(type(self).__doc__ or "")

    @property
    def has_signals(self) -> bool:
        """Return whether the fast path (signal arrays) can run this strategy."""
        return type(self).signals is not StrategyDefinition.signals

    def resolve(self, params: Mapping[str, object] | None = None) -> Params:
        """Return the complete, validated parameters (see `ParamSpace.resolve`)."""
        return self.space.resolve(params, owner=self.name)

    def signals(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> SignalPlan:
        """Return the fast-path `SignalPlan`; raise `ConfigError` when there is none."""
        msg = (
            f"strategy {self.name!r} keeps state the signal arrays cannot express; "
            "run it on the event path (path='events')"
        )
        raise ConfigError(msg)

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> Strategy:
        """Return an event-path `Strategy` for ``bars`` (indicators precomputed, causal)."""
        raise NotImplementedError

    def run(
        self,
        bars: pl.DataFrame,
        params: Mapping[str, object] | None = None,
        *,
        path: Path = "auto",
        cache: IndicatorCache | None = None,
        **engine_settings: Any,
    ) -> BacktestResult:
        """Backtest this strategy on ``bars``.

        Parameters
        ----------
        bars
            OHLCV frame indexed by ``open_time``.
        params
            Parameter overrides (unknown names and bad values raise `ConfigError`).
        path
            ``"signals"`` (compiled fast path), ``"events"`` (event-driven path) or ``"auto"``
            (signals when the strategy has them).
        cache
            Optional `IndicatorCache` shared across runs.
        **engine_settings
            Keyword arguments of `quantforge.engine.Backtest` (cash, fees, slippage, sizing,
            instrument, same_bar_rule, ...). ``exit_rules`` belongs to the strategy.

        Returns
        -------
        BacktestResult

        Raises
        ------
        ConfigError
            For bad parameters or settings, or ``path="signals"`` on an event-only strategy.
        """
        from quantforge.engine.backtest import Backtest

        if "exit_rules" in engine_settings:
            msg = (
                f"exit_rules is set by strategy {self.name!r} from its parameters; "
                "change its stop/take-profit parameters instead"
            )
            raise ConfigError(msg)
        try:
            config = Backtest(**engine_settings)
        except TypeError as e:
            msg = f"bad engine setting for {self.name!r}: {e}"
            raise ConfigError(msg) from None
        if path not in ("auto", "signals", "events"):
            msg = f"path={path!r}; use 'auto', 'signals' or 'events'"
            raise ConfigError(msg)
        resolved = self.resolve(params)
        arrays = BarArrays.of(bars)
        if path == "signals" or (path == "auto" and self.has_signals):
            return self.signals(arrays, resolved, cache).run(bars, config)
        return config.run_strategy(bars, self.build(arrays, resolved, cache))


def as_arrays(bars: pl.DataFrame | BarArrays) -> BarArrays:
    """Return ``bars`` as `BarArrays` (unchanged when it already is)."""
    return bars if isinstance(bars, BarArrays) else BarArrays.of(bars)


def no_signals(n: int) -> BoolArray:
    """Return an all-False signal array of length ``n``."""
    return np.zeros(n, dtype=np.bool_)


def get_int(params: Mapping[str, ParamValue], name: str) -> int:
    """Return integer parameter ``name`` of a resolved params dict."""
    value = params[name]
    assert isinstance(value, int), name
    assert not isinstance(value, bool), name
    return value


def get_float(params: Mapping[str, ParamValue], name: str) -> float:
    """Return float parameter ``name`` of a resolved params dict."""
    value = params[name]
    assert isinstance(value, int | float), name
    assert not isinstance(value, bool), name
    return float(value)


def get_bool(params: Mapping[str, ParamValue], name: str) -> bool:
    """Return boolean parameter ``name`` of a resolved params dict."""
    value = params[name]
    assert isinstance(value, bool), name
    return value


def get_str(params: Mapping[str, ParamValue], name: str) -> str:
    """Return string parameter ``name`` of a resolved params dict."""
    value = params[name]
    assert isinstance(value, str), name
    return value
