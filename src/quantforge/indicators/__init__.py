"""Technical indicators: float64 arrays in, float64 arrays out, NaN warm-up as in TA-Lib.

Array functions validate their inputs (1-D, equal lengths, parameter ranges -> `ConfigError`)
and treat a non-finite bar as a break in the series (see ``docs/indicators.md``). Frame helpers
(`spec`, `with_indicators`, `compute`), multi-timeframe alignment (`mtf_indicator`) and the
sweep cache (`IndicatorCache`) build on them.
"""

from __future__ import annotations

from quantforge.indicators.cache import IndicatorCache
from quantforge.indicators.frame import IndicatorSpec, compute, spec, with_indicators
from quantforge.indicators.momentum import (
    Macd,
    Stochastic,
    macd,
    roc,
    rsi,
    stochastic,
    stochastic_fast,
)
from quantforge.indicators.moving import ema, sma, wma
from quantforge.indicators.mtf import align_to_base, mtf_indicator, resample_bars
from quantforge.indicators.trend import Dmi, adx, dmi, linreg_slope, minus_di, plus_di
from quantforge.indicators.volatility import (
    BollingerBands,
    DonchianChannel,
    atr,
    bollinger_bands,
    donchian,
    rolling_max,
    rolling_min,
    rolling_std,
    true_range,
    zscore,
)
from quantforge.indicators.volume import obv, rolling_vwap, session_vwap, typical_price

__all__ = [
    "BollingerBands",
    "Dmi",
    "DonchianChannel",
    "IndicatorCache",
    "IndicatorSpec",
    "Macd",
    "Stochastic",
    "adx",
    "align_to_base",
    "atr",
    "bollinger_bands",
    "compute",
    "dmi",
    "donchian",
    "ema",
    "linreg_slope",
    "macd",
    "minus_di",
    "mtf_indicator",
    "obv",
    "plus_di",
    "resample_bars",
    "roc",
    "rolling_max",
    "rolling_min",
    "rolling_std",
    "rolling_vwap",
    "rsi",
    "session_vwap",
    "sma",
    "spec",
    "stochastic",
    "stochastic_fast",
    "true_range",
    "typical_price",
    "with_indicators",
    "wma",
    "zscore",
]
