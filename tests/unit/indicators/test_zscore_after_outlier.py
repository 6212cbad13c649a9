"""Regression: a z-score window that an outlier has just left keeps full precision.

Found by hypothesis (test_zscore_is_bounded): the window of 17 values [1, …, 1, 1.015625] right
after 524290 left it gave |z| = 4.00000001 > sqrt(16), because the exact re-sum was taken around
the block's first value (the outlier) instead of a value inside the window.
"""

from __future__ import annotations

import numpy as np

from quantforge.indicators import zscore


def test_zscore_window_after_outlier_is_exact() -> None:
    x = np.array([524290.0] + [1.0] * 16 + [1.015625])
    z = zscore(x, 17)
    # window [1]*16 + [1.015625]: mean = 1 + 0.015625/17, std (ddof 0) = 0.015625*4/17 -> z = 4
    assert abs(z[-1] - 4.0) <= 1e-14  # was off by 1e-8 before the fix
    assert np.isnan(z[:16]).all()


def test_zscore_window_long_after_outlier_left_is_exact() -> None:
    # found by hypothesis: [2, 2, 2, 2, 1] three bars after 741457 left the window gave
    # z = -2.00038; the guard compared against the current sum of squares, not the ones seen
    x = np.array([2.0] * 5 + [1.0078125, 741457.0] + [2.0] * 4 + [1.0])
    z = zscore(x, 5)
    assert abs(z[-1] + 2.0) <= 1e-14
    assert np.all(np.abs(z[~np.isnan(z)]) <= 2.0 * (1 + 1e-12))
