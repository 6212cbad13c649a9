"""Walk-forward windows: out-of-sample never overlaps its in-sample data nor other OOS parts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantforge.experiment.walkforward import WalkForwardSpec, walk_forward_windows

DAY = 86_400_000


def _check(windows: list, t: np.ndarray, spec: WalkForwardSpec) -> None:
    last_oos_end = -1
    for k, w in enumerate(windows):
        assert w.index == k
        assert 0 <= w.is_start < w.is_end == w.oos_start < w.oos_end <= t.size
        # no bar of the out-of-sample part is in the in-sample part, in index and in time
        assert set(range(w.is_start, w.is_end)).isdisjoint(range(w.oos_start, w.oos_end))
        assert t[w.is_end - 1] < t[w.oos_start]
        # out-of-sample parts are disjoint and move forward
        assert w.oos_start >= last_oos_end
        last_oos_end = w.oos_end
        if spec.mode == "anchored":
            assert w.is_start == 0


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(2, 400),
    in_sample=st.integers(1, 120),
    out_of_sample=st.integers(1, 60),
    extra_step=st.integers(0, 30),
    anchored=st.booleans(),
)
def test_bar_windows_never_overlap(
    n: int, in_sample: int, out_of_sample: int, extra_step: int, anchored: bool
) -> None:
    spec = WalkForwardSpec(
        mode="anchored" if anchored else "rolling",
        unit="bars",
        in_sample=in_sample,
        out_of_sample=out_of_sample,
        step=out_of_sample + extra_step,
    )
    t = np.arange(n, dtype=np.int64) * 900_000
    if in_sample + out_of_sample > n:
        return  # covered by the error test below
    windows = walk_forward_windows(t, spec)
    _check(windows, t, spec)
    for w in windows:
        assert w.oos_end - w.oos_start == out_of_sample
        if not anchored:
            assert w.is_end - w.is_start == in_sample
    # every possible window is used: one more would not fit
    assert windows[-1].oos_end + spec.stride > n


@settings(max_examples=150, deadline=None)
@given(
    days=st.integers(3, 120),
    bars_per_day=st.sampled_from([1, 4, 24, 96]),
    in_sample=st.integers(1, 40),
    out_of_sample=st.integers(1, 20),
    extra_step=st.integers(0, 10),
    anchored=st.booleans(),
    gaps=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_day_windows_never_overlap(
    days: int,
    bars_per_day: int,
    in_sample: int,
    out_of_sample: int,
    extra_step: int,
    anchored: bool,
    gaps: list[int],
) -> None:
    n = days * bars_per_day
    t = np.arange(n, dtype=np.int64) * (DAY // bars_per_day) + 1_700_000_000_000
    keep = np.ones(n, dtype=bool)
    keep[[g % n for g in gaps]] = False  # missing bars
    keep[0] = True
    t = t[keep]
    spec = WalkForwardSpec(
        mode="anchored" if anchored else "rolling",
        unit="days",
        in_sample=in_sample,
        out_of_sample=out_of_sample,
        step=out_of_sample + extra_step,
    )
    try:
        windows = walk_forward_windows(t, spec)
    except ValueError:
        assert in_sample + out_of_sample > days or t.size < 2 or len(gaps) > 0
        return
    _check(windows, t, spec)
    for w in windows:
        # the windows' bars lie inside their calendar spans
        span_oos = t[w.oos_end - 1] - t[w.oos_start]
        assert span_oos < out_of_sample * DAY
        if not anchored:
            assert t[w.is_end - 1] - t[w.is_start] < in_sample * DAY
