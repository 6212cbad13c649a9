"""Built-in strategies by name: ``get("ma_cross").run(bars, params, **engine_settings)``.

Experiment files and the ``quantforge strategies`` command refer to strategies by these names.
`parameter_names` has the shape `quantforge.experiment.config.load_experiment` expects for its
``strategy_parameters`` argument, so misspelt parameters in experiment files are caught.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from types import MappingProxyType

from quantforge.errors import NotFoundError
from quantforge.strategies.library._common import BarArrays, SignalPlan, StrategyDefinition
from quantforge.strategies.library.ema_rsi_atr import EmaRsiAtr
from quantforge.strategies.library.ma_cross import MaCross
from quantforge.strategies.library.opening_range import OpeningRangeBreakout
from quantforge.strategies.library.regime_ma_cross import RegimeMaCross
from quantforge.strategies.library.sma_cooldown import SmaCooldown

__all__ = [
    "STRATEGIES",
    "BarArrays",
    "SignalPlan",
    "StrategyDefinition",
    "get",
    "names",
    "parameter_names",
]

#: every built-in strategy, by registry name (read-only)
STRATEGIES = MappingProxyType(
    {
        d.name: d
        for d in (MaCross(), RegimeMaCross(), EmaRsiAtr(), SmaCooldown(), OpeningRangeBreakout())
    }
)


def names() -> list[str]:
    """Return the registry names in a stable (registration) order."""
    return list(STRATEGIES)


def get(name: str) -> StrategyDefinition:
    """Return the strategy registered as ``name``.

    Raises
    ------
    NotFoundError
        For an unknown name, suggesting close matches.

    Examples
    --------
    >>> get("ma_cross").space.defaults["slow"]
    30
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=3)
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else "run `quantforge strategies list` to see them"
        )
        msg = f"unknown strategy {name!r}; {hint}"
        raise NotFoundError(msg) from None


def parameter_names(name: str) -> Sequence[str] | None:
    """Return the parameter names of strategy ``name`` (None when unknown)."""
    definition = STRATEGIES.get(name)
    return None if definition is None else definition.space.names
