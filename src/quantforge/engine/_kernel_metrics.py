"""Compiled reductions behind the metrics-only route of sweeps (`engine.lean_metrics`).

Everything here is ``@njit(cache=True)``. The one contract: every number equals, bit for bit,
what `engine.metrics.compute_metrics` gets from NumPy for the same inputs. So every element-wise
expression is the same IEEE operation in the same order, and every sum is NumPy's own pairwise
summation (`pairwise_sum_nb`, a transcription of ``pairwise_sum_DOUBLE`` in NumPy's
``loops_utils.h.src``: eight accumulators over blocks of at most 128 values, halves split on a
multiple of 8), which is what ``np.sum`` / ``np.mean`` / ``ndarray.std`` apply to a contiguous
float64 array. Order statistics are exact whatever the selection algorithm. No fast-math.
"""

# mypy: allow-untyped-defs, allow-untyped-calls, allow-untyped-decorators

from __future__ import annotations

import numpy as np
from numba import njit

# layout of the statistics vector `curve_stats_nb` fills
S_OK = 0  # 1.0 when the inputs are in the fast path's domain (finite, equity > 0), else 0.0
S_SUM_E = 1  # sum of equity
S_SUM_X = 2  # sum of gross exposure |gross_value| / equity
S_SUM_R = 3  # sum of returns
S_SUM_EX = 4  # sum of excess returns r - rf_bar
S_SUM_BELOW2 = 5  # sum of min(r - rf_bar, 0) ** 2
S_SUM_D2 = 6  # sum of (r - mean) ** 2
S_SUM_D3 = 7  # sum of (r - mean) ** 2 * (r - mean)
S_SUM_D4 = 8  # sum of (r - mean) ** 2 * (r - mean) ** 2
S_MAX_ABS_R = 9  # max |r|
S_Q_LOW = 10  # the TAIL_PROBABILITY quantile of r (linear interpolation)
S_Q_HIGH = 11  # the 1 - TAIL_PROBABILITY quantile
S_SUM_TAIL = 12  # sum of the r <= q_low, in bar order
S_N_TAIL = 13  # how many r <= q_low
S_MIN_DD = 14  # min of equity / running peak - 1
S_MAX_DD_ABS = 15  # max of running peak - equity
S_DURATION = 16  # longest run of bars below the running peak
S_SUM_DD2 = 17  # sum of squared drawdowns
S_SUM_NOTIONAL = 18  # sum of |qty * price| over fills
N_STATS = 19


@njit(cache=True)
def pairwise_plan_nb(n):
    """Return the leaf blocks and the combine program of NumPy's pairwise summation of n values.

    NumPy sums blocks of at most 128 values (`_block_sum_nb`) and adds the halves' sums up a
    binary tree whose halves split on a multiple of 8. Returns ``(starts, ops)``: leaf block j
    covers ``[starts[j], starts[j + 1])`` (blocks in index order, ``starts[-1] == n``), and
    ``ops`` is the post-order program `pairwise_combine_nb` replays: 1 pushes the next block's
    sum, 0 replaces the top two sums with left + right. Every series of n values has the same
    tree, so one walk over the blocks can sum several series derived from the same bars. The
    recursion runs on an explicit stack: Numba's on-disk cache cannot hold a self-recursive
    function.
    """
    # blocks above 128 values split into halves of at least 57: n // 32 + 2 bounds the leaves
    cap = n // 32 + 2
    starts = np.empty(cap + 1, dtype=np.int64)
    ops = np.empty(2 * cap, dtype=np.int8)
    n_leaves = 0
    n_ops = 0
    # post-order walk of the split tree; stage 0: visit left, 1: visit right, 2: combine
    s_lo = np.empty(64, dtype=np.int64)
    s_n = np.empty(64, dtype=np.int64)
    s_stage = np.empty(64, dtype=np.int64)
    s_lo[0] = 0
    s_n[0] = n
    s_stage[0] = 0
    sp = 1
    while sp > 0:
        top = sp - 1
        m = s_n[top]
        if m <= 128:
            starts[n_leaves] = s_lo[top]
            n_leaves += 1
            ops[n_ops] = 1
            n_ops += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        stage = s_stage[top]
        if stage == 0:
            s_stage[top] = 1
            s_lo[sp] = s_lo[top]
            s_n[sp] = half
            s_stage[sp] = 0
            sp += 1
        elif stage == 1:
            s_stage[top] = 2
            s_lo[sp] = s_lo[top] + half
            s_n[sp] = m - half
            s_stage[sp] = 0
            sp += 1
        else:
            ops[n_ops] = 0
            n_ops += 1
            sp -= 1
    starts[n_leaves] = n
    return starts[: n_leaves + 1], ops[:n_ops]


@njit(cache=True)
def pairwise_combine_nb(block_sums, ops):
    """Return NumPy's pairwise sum from its leaf blocks' sums (see `pairwise_plan_nb`).

    NumPy starts the reduction from the identity 0.0, so a sum of negative zeros is +0.0.
    """
    stack = np.empty(64)
    sp = 0
    j = 0
    for op in ops:
        if op == 1:
            stack[sp] = block_sums[j]
            sp += 1
            j += 1
        else:
            sp -= 1
            stack[sp - 1] = stack[sp - 1] + stack[sp]
    return 0.0 + stack[0]


@njit(cache=True)
def pairwise_sum_nb(a, lo, n):
    """Return the sum of ``a[lo:lo + n]`` exactly as NumPy's pairwise summation computes it.

    Reference: ``np.sum(a[lo:lo + n])`` for a contiguous float64 array (bit for bit).
    """
    if n <= 128:
        return 0.0 + _block_sum_nb(a, lo, n)
    starts, ops = pairwise_plan_nb(n)
    n_blocks = starts.shape[0] - 1
    sums = np.empty(n_blocks)
    for j in range(n_blocks):
        sums[j] = _block_sum_nb(a, lo + starts[j], starts[j + 1] - starts[j])
    return pairwise_combine_nb(sums, ops)


@njit(cache=True)
def _block_sum_nb(a, lo, n):
    # NumPy's leaf: a plain loop under 8 values, else eight accumulators (n <= 128)
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _select_nb(a, k):
    """Partially order ``a`` in place so that ``a[k]`` is its k-th smallest value; return it.

    Hoare-style quickselect with a median-of-three pivot; the value returned is the order
    statistic, whatever the permutation left behind.
    """
    lo = 0
    hi = a.shape[0] - 1
    while hi > lo:
        mid = (lo + hi) // 2
        x, y, z = a[lo], a[mid], a[hi]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
            if x > y:
                y = x
        pivot = y
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(cache=True)
def _order_stat_pair_nb(work, prev, nxt):
    """Return the prev-th and nxt-th smallest values of ``work`` (nxt == prev or prev + 1)."""
    a = _select_nb(work, prev)
    if nxt == prev:
        return a, a
    # after the selection everything right of prev is >= a[prev]: the next one is their min
    b = work[prev + 1]
    for i in range(prev + 2, work.shape[0]):
        if work[i] < b:
            b = work[i]
    return a, b


@njit(cache=True)
def _order_stats_nb(r, k1, k2, k3, k4, scratch, scratch2):
    """Return the k1-, k2-, k3- and k4-th smallest values of ``r`` (k1 <= k2 <= k3 <= k4).

    A sample of ~1,000 values gives a narrow value bracket around each pair of ranks (its order
    statistics, by quickselect: ``np.sort`` would add ~3 s to the first-ever compile); one pass
    counts the values below each bracket and at its two ends and gathers those strictly inside,
    and a quickselect inside the (small) bracket gives the exact order statistics. When a
    bracket misses its ranks (unlucky sample), the whole array is selected instead. ``r`` is not
    modified.
    """
    n = r.shape[0]
    step = max(1, n // 1024)
    sample = r[::step].copy()
    m = sample.shape[0]
    # a sample rank's error is ~sqrt(m f (1 - f)) ranks: keep 4 of those (and 4 ranks) margin
    f1 = k1 / n
    f2 = k3 / n
    pad1 = int(4.0 * np.sqrt(m * f1 * (1.0 - f1))) + 4
    pad2 = int(4.0 * np.sqrt(m * f2 * (1.0 - f2))) + 4
    # bracket [lo, hi] of values for ranks k1..k2 and k3..k4 (inf bounds: no bracket edge)
    i = int(k1 / n * m) - pad1
    lo1 = _select_nb(sample, i) if i >= 0 else -np.inf
    i = int(k2 / n * m) + pad1
    hi1 = _select_nb(sample, i) if i < m else np.inf
    i = int(k3 / n * m) - pad2
    lo2 = _select_nb(sample, i) if i >= 0 else -np.inf
    i = int(k4 / n * m) + pad2
    hi2 = _select_nb(sample, i) if i < m else np.inf
    # one pass: per bracket, how many values lie below it, equal its ends, and (gathered) the
    # values strictly inside; ties at the ends (a curve flat for most bars has thousands of zero
    # returns) are counted, never gathered or selected
    counts = np.zeros(8, dtype=np.int64)  # below, at lo, inside, at hi; bracket 1 then 2
    between = 0
    for j in range(n):
        v = r[j]
        if hi1 < v < lo2:  # above bracket 1 and below bracket 2: most values, one test
            between += 1
            continue
        _bucket_nb(v, lo1, hi1, scratch, counts, 0)
        _bucket_nb(v, lo2, hi2, scratch2, counts, 4)
    counts[4] += between  # below bracket 2
    a, ok_a = _rank_value_nb(k1, lo1, hi1, scratch, counts, 0)
    b, ok_b = _rank_value_nb(k2, lo1, hi1, scratch, counts, 0)
    c, ok_c = _rank_value_nb(k3, lo2, hi2, scratch2, counts, 4)
    d, ok_d = _rank_value_nb(k4, lo2, hi2, scratch2, counts, 4)
    if not (ok_a and ok_b):  # the sample misled us: select in the whole array
        scratch[:n] = r
        a, b = _order_stat_pair_nb(scratch[:n], k1, k2)
    if not (ok_c and ok_d):
        scratch2[:n] = r
        c, d = _order_stat_pair_nb(scratch2[:n], k3, k4)
    return a, b, c, d


@njit(cache=True, inline="always")
def _bucket_nb(v, lo, hi, inside, counts, at):
    if v < lo:
        counts[at] += 1
    elif v == lo:
        counts[at + 1] += 1
    elif v < hi:
        inside[counts[at + 2]] = v
        counts[at + 2] += 1
    elif v == hi:
        counts[at + 3] += 1


@njit(cache=True)
def _rank_value_nb(k, lo, hi, inside, counts, at):
    """Return (the k-th smallest value, True) from a bracket's counts, or (nan, False)."""
    k -= counts[at]
    if k < 0:
        return np.nan, False
    if k < counts[at + 1]:
        return lo, True
    k -= counts[at + 1]
    size = counts[at + 2]
    if k < size:
        return _select_nb(inside[:size], k), True
    k -= size
    if k < counts[at + 3]:
        return hi, True
    return np.nan, False


@njit(cache=True)
def _lerp_nb(a, b, t):
    # NumPy's _lerp: a + (b - a) * t, or b - (b - a) * (1 - t) from t = 0.5 on
    diff = b - a
    if t >= 0.5:
        return b - diff * (1.0 - t)
    return a + diff * t


# error_model='numpy': no zero-division checks (no divisor here can be zero), so the
# element-wise divisions vectorise
@njit(cache=True, error_model="numpy")
def curve_stats_nb(equity, gross_value, fill_qty, fill_price, rf_bar, quantile_index, out):
    """Fill ``out`` (N_STATS values) with the reductions `compute_metrics` takes of a curve.

    ``quantile_index`` holds NumPy's linear-interpolation positions for the two tail quantiles:
    (previous index, next index, gamma) for the low tail, then for the high tail. Sets
    ``out[S_OK] = 0`` and stops when equity or exposure is not finite, equity is not positive
    everywhere (ruin) or there are fewer than two equity values: the caller then takes the NumPy
    route, which handles (or reports) those cases. Reference: `engine.metrics.compute_metrics`.

    The series NumPy would materialise and sum (exposure, squared drawdowns, excess returns, ...)
    are computed one leaf block of the pairwise tree at a time (`pairwise_plan_nb`) and summed
    there: the same values, added in the same order, without a pass per series.
    """
    out[:] = 0.0
    big_n = equity.shape[0]
    if big_n < 2:
        return
    x_blk = np.empty(128)
    y_blk = np.empty(128)
    z_blk = np.empty(128)
    # per bar: equity (finite and > 0, else ruin or an error: NumPy route), exposure
    # np.where(equity > 0, |gross| / equity, 0) with equity > 0, the running peak, e / peak - 1,
    # peak - e and the bars since the last bar at the peak
    starts, ops = pairwise_plan_nb(big_n)
    n_blocks = starts.shape[0] - 1
    sums = np.empty((3, n_blocks))
    peak = equity[0]
    min_dd = 0.0
    max_abs = 0.0
    last_peak = 0
    longest = 0
    for j in range(n_blocks):
        lo = starts[j]
        m = starts[j + 1] - lo
        for t in range(m):
            i = lo + t
            e = equity[i]
            if not (np.isfinite(e) and e > 0.0):
                return
            x = np.abs(gross_value[i]) / e
            if not np.isfinite(x):
                return
            x_blk[t] = x
            if e > peak:
                peak = e
            dd = e / peak - 1.0
            if i == 0 or dd < min_dd:
                min_dd = dd
            gap = peak - e
            if i == 0 or gap > max_abs:
                max_abs = gap
            if e >= peak and i > last_peak:
                last_peak = i
            if i - last_peak > longest:
                longest = i - last_peak
            y_blk[t] = dd * dd
        sums[0, j] = _block_sum_nb(equity, lo, m)
        sums[1, j] = _block_sum_nb(x_blk, 0, m)
        sums[2, j] = _block_sum_nb(y_blk, 0, m)
    out[S_SUM_E] = pairwise_combine_nb(sums[0], ops)
    out[S_SUM_X] = pairwise_combine_nb(sums[1], ops)
    out[S_SUM_DD2] = pairwise_combine_nb(sums[2], ops)
    out[S_MIN_DD] = min_dd
    out[S_MAX_DD_ABS] = max_abs
    out[S_DURATION] = longest
    # returns r and their sums: r, excess r - rf_bar, min(excess, 0) ** 2
    n = big_n - 1
    r = np.empty(n)
    starts, ops = pairwise_plan_nb(n)
    n_blocks = starts.shape[0] - 1
    sums = np.empty((3, n_blocks))
    max_abs_r = 0.0
    for j in range(n_blocks):
        lo = starts[j]
        m = starts[j + 1] - lo
        for t in range(m):  # no branch: the division vectorises
            v = equity[lo + t + 1] / equity[lo + t] - 1.0
            r[lo + t] = v
            x = v - rf_bar
            x_blk[t] = x
            below = min(x, 0.0)
            y_blk[t] = below * below
        for t in range(m):
            if np.abs(r[lo + t]) > max_abs_r:
                max_abs_r = np.abs(r[lo + t])
        sums[0, j] = _block_sum_nb(r, lo, m)
        sums[1, j] = _block_sum_nb(x_blk, 0, m)
        sums[2, j] = _block_sum_nb(y_blk, 0, m)
    out[S_MAX_ABS_R] = max_abs_r
    sum_r = pairwise_combine_nb(sums[0], ops)
    out[S_SUM_R] = sum_r
    out[S_SUM_EX] = pairwise_combine_nb(sums[1], ops)
    out[S_SUM_BELOW2] = pairwise_combine_nb(sums[2], ops)
    # central moments: (r - mean) ** 2, ** 2 * (r - mean), ** 2 * ** 2 (same tree as r)
    mean = sum_r / n
    for j in range(n_blocks):
        lo = starts[j]
        m = starts[j + 1] - lo
        for t in range(m):
            d = r[lo + t] - mean
            d2 = d * d
            x_blk[t] = d2
            y_blk[t] = d2 * d
            z_blk[t] = d2 * d2
        sums[0, j] = _block_sum_nb(x_blk, 0, m)
        sums[1, j] = _block_sum_nb(y_blk, 0, m)
        sums[2, j] = _block_sum_nb(z_blk, 0, m)
    out[S_SUM_D2] = pairwise_combine_nb(sums[0], ops)
    out[S_SUM_D3] = pairwise_combine_nb(sums[1], ops)
    out[S_SUM_D4] = pairwise_combine_nb(sums[2], ops)
    # tail quantiles (exact order statistics) and the mean of the left tail
    buf = np.empty(n)
    lo_a, lo_b, hi_a, hi_b = _order_stats_nb(
        r,
        int(quantile_index[0]),
        int(quantile_index[1]),
        int(quantile_index[3]),
        int(quantile_index[4]),
        buf,
        np.empty(n),
    )
    q_low = _lerp_nb(lo_a, lo_b, quantile_index[2])
    out[S_Q_LOW] = q_low
    out[S_Q_HIGH] = _lerp_nb(hi_a, hi_b, quantile_index[5])
    m = 0
    for i in range(n):
        if r[i] <= q_low:
            buf[m] = r[i]
            m += 1
    out[S_SUM_TAIL] = pairwise_sum_nb(buf, 0, m)
    out[S_N_TAIL] = m
    # traded notional: |qty * price| per fill, in fill order
    n_fills = fill_qty.shape[0]
    notional = np.empty(n_fills)
    for i in range(n_fills):
        notional[i] = np.abs(fill_qty[i] * fill_price[i])
    out[S_SUM_NOTIONAL] = pairwise_sum_nb(notional, 0, n_fills)
    out[S_OK] = 1.0


# layout of the statistics vector `trade_stats_nb` fills
T_N_WINS = 0
T_N_LOSSES = 1
T_SUM_WINS = 2  # sum of the winning pnl, in closing order
T_SUM_LOSSES = 3  # sum of the losing pnl (negative)
T_SUM_PNL = 4
T_SUM_RET = 5
T_MAX_RET = 6
T_MIN_RET = 7
T_SUM_HELD = 8
T_MAX_HELD = 9
T_SUM_RET_D2 = 10  # sum of (ret - mean ret) ** 2
T_MAX_ABS_RET = 11
T_WIN_RUN = 12  # longest run of wins
T_LOSS_RUN = 13  # longest run of losses
N_TRADE_STATS = 14


@njit(cache=True)
def trade_stats_nb(pnl, ret, held, out):
    """Fill ``out`` (N_TRADE_STATS values) with the reductions of the per-trade metrics.

    Reference: ``engine.metrics._trade_metrics`` (same sums, bit for bit: the wins and losses
    are gathered in closing order before NumPy's pairwise summation). Needs at least one trade.
    """
    n = pnl.shape[0]
    scratch = np.empty(n)
    m = 0
    for i in range(n):
        if pnl[i] > 0.0:
            scratch[m] = pnl[i]
            m += 1
    out[T_N_WINS] = m
    out[T_SUM_WINS] = pairwise_sum_nb(scratch, 0, m)
    m = 0
    for i in range(n):
        if pnl[i] < 0.0:
            scratch[m] = pnl[i]
            m += 1
    out[T_N_LOSSES] = m
    out[T_SUM_LOSSES] = pairwise_sum_nb(scratch, 0, m)
    out[T_SUM_PNL] = pairwise_sum_nb(pnl, 0, n)
    sum_ret = pairwise_sum_nb(ret, 0, n)
    out[T_SUM_RET] = sum_ret
    out[T_SUM_HELD] = pairwise_sum_nb(held, 0, n)
    hi = ret[0]
    lo = ret[0]
    top = held[0]
    max_abs = 0.0
    win_run = 0
    loss_run = 0
    best_win = 0
    best_loss = 0
    mean = sum_ret / n
    for i in range(n):
        if ret[i] > hi:
            hi = ret[i]
        if ret[i] < lo:
            lo = ret[i]
        if held[i] > top:
            top = held[i]
        if np.abs(ret[i]) > max_abs:
            max_abs = np.abs(ret[i])
        d = ret[i] - mean
        scratch[i] = d * d
        win_run = win_run + 1 if pnl[i] > 0.0 else 0
        loss_run = loss_run + 1 if pnl[i] < 0.0 else 0
        best_win = max(best_win, win_run)
        best_loss = max(best_loss, loss_run)
    out[T_MAX_RET] = hi
    out[T_MIN_RET] = lo
    out[T_MAX_HELD] = top
    out[T_MAX_ABS_RET] = max_abs
    out[T_SUM_RET_D2] = pairwise_sum_nb(scratch, 0, n)
    out[T_WIN_RUN] = best_win
    out[T_LOSS_RUN] = best_loss
