"""Numba kernels for information-driven bars (sequential threshold with reset)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def threshold_bar_ends_nb(measure, threshold):
    """Return the exclusive end index of every bar and whether the last bar reached the threshold.

    Reference: a plain loop that adds ``measure[i]`` to the running bar total and closes the bar
    (total reset to 0) at the first trade where the total is ``>= threshold``; the trade that
    crosses the threshold belongs wholly to the bar it closes. A trailing bar that never reached
    the threshold is returned too, with ``last_complete=False``. Assumes ``threshold > 0``.
    """
    n = measure.shape[0]
    ends = np.empty(n, np.int64)
    k = 0
    acc = 0.0
    for i in range(n):
        acc += measure[i]
        if acc >= threshold:
            ends[k] = i + 1
            k += 1
            acc = 0.0
    last_complete = True
    if n > 0 and (k == 0 or ends[k - 1] != n):
        ends[k] = n
        k += 1
        last_complete = False
    return ends[:k], last_complete
