"""Intrabar refinement: which extreme of a bar came first, read from a finer bar series."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from quantforge._typing import IntArray
from quantforge.data.schema import BAR_TIME
from quantforge.engine import _kernel as k
from quantforge.errors import DataValidationError


def extreme_order(time_ms: IntArray, fine: pl.DataFrame) -> npt.NDArray[np.int8]:
    """Return per coarse bar whether its low came first (``BF_LOW_FIRST``) or its high.

    Each fine bar belongs to the coarse bar whose ``open_time`` is the last one at or before its
    own. Within a coarse bar, the first fine bar that reaches the group's highest high and the
    first that reaches its lowest low are compared; when one fine bar holds both (or the coarse bar
    has no fine bars) the answer stays 0 and the engine's same-bar rule decides.

    Raises
    ------
    DataValidationError
        If ``fine`` lacks open_time/high/low or is not sorted by open_time.
    """
    missing = [c for c in (BAR_TIME, "high", "low") if c not in fine.columns]
    if missing:
        msg = f"intrabar series lacks column(s) {missing}; pass finer OHLCV bars"
        raise DataValidationError(msg)
    ft = fine[BAR_TIME]
    ft_ms = (
        ft.cast(pl.Int64) if ft.dtype.is_integer() else ft.dt.cast_time_unit("ms").cast(pl.Int64)
    )
    fine_ms = ft_ms.to_numpy()
    if fine_ms.shape[0] > 1 and not np.all(np.diff(fine_ms) > 0):
        msg = "intrabar series is not sorted strictly by open_time; sort and deduplicate it"
        raise DataValidationError(msg)
    n = time_ms.shape[0]
    out = np.zeros(n, dtype=np.int8)
    grp = np.searchsorted(time_ms, fine_ms, side="right") - 1
    keep = grp >= 0
    grp = grp[keep]
    fh = fine["high"].cast(pl.Float64).to_numpy()[keep]
    fl = fine["low"].cast(pl.Float64).to_numpy()[keep]
    if grp.shape[0] == 0:
        return out
    gmax = np.full(n, -np.inf)
    gmin = np.full(n, np.inf)
    np.maximum.at(gmax, grp, fh)
    np.minimum.at(gmin, grp, fl)
    idx = np.arange(grp.shape[0])
    big = np.iinfo(np.int64).max
    first_h = np.full(n, big)
    first_l = np.full(n, big)
    hit_h = fh == gmax[grp]
    hit_l = fl == gmin[grp]
    np.minimum.at(first_h, grp[hit_h], idx[hit_h])
    np.minimum.at(first_l, grp[hit_l], idx[hit_l])
    seen = first_h != big
    out[seen & (first_l < first_h)] = k.BF_LOW_FIRST
    out[seen & (first_h < first_l)] = k.BF_HIGH_FIRST
    return out
