"""Property tests: resampling conserves volume and takes open/high/low/close from the right bars."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantforge.data.resample import resample_bars

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


@st.composite
def minute_bars(draw: st.DrawFn) -> tuple[list[int], pl.DataFrame]:
    minutes = sorted(draw(st.sets(st.integers(0, 400), min_size=1, max_size=120)))
    rows = []
    for _ in minutes:
        o = draw(st.floats(1.0, 1000.0))
        c = draw(st.floats(1.0, 1000.0))
        h = max(o, c) + draw(st.floats(0.0, 10.0))
        lo = min(o, c) - draw(st.floats(0.0, 0.99))
        v = draw(st.floats(0.0, 1e6))
        rows.append((o, h, lo, c, v))
    o, h, lo, c, v = zip(*rows, strict=True)
    frame = pl.DataFrame(
        {
            "open_time": [T0 + dt.timedelta(minutes=m) for m in minutes],
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": v,
            "trades": [int(x) % 97 for x in v],
        },
        schema_overrides={"open_time": pl.Datetime("ms", "UTC")},
    )
    return minutes, frame


@settings(max_examples=60, deadline=None)
@given(data=minute_bars(), k=st.sampled_from([3, 5, 15, 60]))
def test_resample_matches_plain_python(data: tuple[list[int], pl.DataFrame], k: int) -> None:
    minutes, bars = data
    out = resample_bars(bars, "1m", f"{k}m")
    groups: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(minutes):
        groups[m // k].append(i)  # T0 is midnight, so epoch alignment = alignment to T0
    assert out.height == len(groups)
    rows = bars.rows(named=True)
    for bar, key in zip(out.iter_rows(named=True), sorted(groups), strict=True):
        members = [rows[i] for i in groups[key]]
        assert bar["open_time"] == T0 + dt.timedelta(minutes=key * k)
        assert bar["open"] == members[0]["open"]
        assert bar["close"] == members[-1]["close"]
        assert bar["high"] == max(r["high"] for r in members)
        assert bar["low"] == min(r["low"] for r in members)
        assert bar["volume"] == pytest.approx(
            sum(r["volume"] for r in members), rel=1e-12, abs=1e-9
        )
        assert bar["trades"] == sum(r["trades"] for r in members)
        assert bar["source_bars"] == len(members)
        assert bar["complete"] == (len(members) == k)
    assert out["volume"].sum() == pytest.approx(bars["volume"].sum(), rel=1e-12, abs=1e-9)
    assert out["trades"].sum() == bars["trades"].sum()
    complete_only = resample_bars(bars, "1m", f"{k}m", drop_incomplete=True)
    assert complete_only.height == int(out["complete"].sum())
    assert complete_only["source_bars"].to_list() == [k] * complete_only.height
