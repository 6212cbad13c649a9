"""Hypothesis: the compiled kernel's ledger and equity equal the plain-Python reference's."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.reference_sim import RefConfig, simulate_reference

from quantforge.engine import _kernel as k
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.costs import Fees, FixedBps, NoSlippage
from quantforge.engine.exits import ExitRules, TrailingStop
from quantforge.engine.instrument import Instrument
from quantforge.engine.records import SizeMode
from quantforge.engine.state import SimState, lower_params


@st.composite
def bar_series(draw):
    n = draw(st.integers(3, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, draw(st.sampled_from([0.002, 0.01, 0.03])), n)
    close = 100.0 * np.exp(np.cumsum(ret))
    gap = rng.normal(0, 0.004, n) * rng.integers(0, 2, n)
    op = np.r_[100.0, close[:-1]] * (1 + gap)
    hi = np.maximum(op, close) * (1 + np.abs(rng.normal(0, 0.006, n)))
    lo = np.minimum(op, close) * (1 - np.abs(rng.normal(0, 0.006, n)))
    if draw(st.booleans()):  # prices on a 0.01 grid, as real venues quote them
        op, hi, lo, close = (np.round(a, 2) for a in (op, hi, lo, close))
        hi = np.maximum.reduce([hi, op, close])
        lo = np.minimum.reduce([lo, op, close])
    p = draw(st.sampled_from([0.1, 0.3, 0.6]))
    sig = [rng.random(n) < p / (2 if j % 2 else 1) for j in range(4)]
    limit = None
    if draw(st.booleans()):
        off = rng.normal(0, 0.01, n)
        limit = np.where(rng.random(n) < 0.5, close * (1 + off), np.nan)
    return op, hi, lo, close, sig, limit


@st.composite
def configs(draw):
    spot = draw(st.booleans())
    trail = draw(st.sampled_from([None, "pct", "abs"]))
    return RefConfig(
        cash=draw(st.sampled_from([1_000.0, 10_000.0])),
        maker=draw(st.sampled_from([0.0, 0.0002, -0.0001])),
        taker=draw(st.sampled_from([0.0, 0.0004, 0.001])),
        slip_bps=draw(st.sampled_from([0.0, 2.0, 10.0])),
        tick=draw(st.sampled_from([0.0, 0.01, 0.5])),
        lot=draw(st.sampled_from([0.0, 0.001, 1.0])),
        min_notional=draw(st.sampled_from([0.0, 5.0, 500.0])),
        spot=spot,
        leverage=1.0 if spot else draw(st.sampled_from([1.0, 3.0])),
        rule=draw(st.sampled_from(["adverse", "favorable", "open_distance"])),
        size_mode=draw(st.sampled_from(["qty", "notional", "pct"])),
        size=draw(st.sampled_from([0.5, 1.0, 3.0])),
        stop_loss=draw(st.sampled_from([None, 0.005, 0.02])),
        take_profit=draw(st.sampled_from([None, 0.005, 0.03])),
        trail_pct=0.01 if trail == "pct" else None,
        trail_abs=1.5 if trail == "abs" else None,
        timeout=draw(st.sampled_from([None, 1, 3])),
        entry_valid_bars=draw(st.sampled_from([1, 2])),
    )


@st.composite
def distance_kinds(draw):
    """Absolute exit distances: (which of stop / take-profit, scale, fraction of NaN bars)."""
    which = draw(st.sampled_from([None, "stop", "take_profit", "both"]))
    # 0.3 and 1.0 bar ranges; 200 puts a long's stop (or a short's target) below zero
    scale = draw(st.sampled_from([0.3, 1.0, 200.0]))
    holes = draw(st.sampled_from([0.0, 0.3]))
    return which, scale, holes


def with_distances(cfg: RefConfig, kind, hi, lo, seed: int) -> RefConfig:
    """Return ``cfg`` with per-bar distance arrays (scale x the bar's range) replacing fractions."""
    which, scale, holes = kind
    if which is None:
        return cfg
    rng = np.random.default_rng(seed)
    n = hi.shape[0]
    base = (hi - lo) + 0.05
    dist = np.where(rng.random(n) < holes, np.nan, scale * base * rng.uniform(0.5, 1.5, n))
    if scale > 100.0:
        dist = np.full(n, scale)
    lst = [float(x) for x in dist]
    if which in ("stop", "both"):
        cfg = replace(cfg, stop_loss=None, stop_distance=lst)
    if which in ("take_profit", "both"):
        cfg = replace(cfg, take_profit=None, take_profit_distance=lst)
    return cfg


def run_kernel(cfg: RefConfig, op, hi, lo, cl, sig, limit):
    n = op.shape[0]
    slip = FixedBps(cfg.slip_bps) if cfg.slip_bps > 0 else NoSlippage()
    inst = Instrument(
        tick_size=cfg.tick,
        lot_size=cfg.lot,
        min_notional=cfg.min_notional,
        market="spot" if cfg.spot else "linear_perp",
        leverage=cfg.leverage,
    )
    params = lower_params(Fees(cfg.maker, cfg.taker), slip, inst, cfg.rule)  # type: ignore[arg-type]
    trail = None
    if cfg.trail_pct is not None:
        trail = TrailingStop(percent=cfg.trail_pct)
    elif cfg.trail_abs is not None:
        trail = TrailingStop(absolute=cfg.trail_abs)
    rules = ExitRules(
        stop_loss=cfg.stop_loss,
        take_profit=cfg.take_profit,
        trailing=trail,
        timeout_bars=cfg.timeout,
        stop_distance=None if cfg.stop_distance is None else np.array(cfg.stop_distance),
        take_profit_distance=(
            None if cfg.take_profit_distance is None else np.array(cfg.take_profit_distance)
        ),
    )
    sl, tp, tk, tv, to = rules.lower()
    sl_dist, tp_dist = rules.distances(n)
    mode = {"qty": SizeMode.QTY, "notional": SizeMode.NOTIONAL, "pct": SizeMode.PERCENT_EQUITY}
    state = SimState(n, cfg.cash, capacity=64)
    lim = limit if limit is not None else np.full(n, np.nan)
    start = 0
    while start < n:
        start = loops.simulate_signals_nb(
            start,
            n,
            op,
            hi,
            lo,
            cl,
            np.ones(n),
            np.full(n, np.nan),
            np.zeros(n, dtype=np.int8),
            np.zeros(n),
            *sig,
            lim,
            int(mode[cfg.size_mode]),
            np.full(n, cfg.size),
            sl,
            tp,
            sl_dist,
            tp_dist,
            tk,
            tv,
            to,
            cfg.entry_valid_bars,
            state.orders,
            state.active,
            state.fills,
            state.trades,
            state.fs,
            state.ist,
            params,
            state.cash_out,
            state.pos_out,
        )
        if start < n:
            state.grow()
    k.close_open_trade_nb(state.trades, state.fs, state.ist, n - 1, cl[-1])
    return state


TAGS = {
    0: "entry",
    1: "signal",
    2: "stop",
    3: "take_profit",
    4: "trailing",
    5: "timeout",
    8: "end_of_data",
}


def assert_same(state, ref) -> None:
    fills = state.fills[: state.ist[k.I_NFILL]]
    got = [(int(f["bar"]), int(f["side"]), TAGS[int(f["tag"])]) for f in fills]
    want = [(f.bar, f.side, f.tag) for f in ref.fills]
    assert got == want
    for f, r in zip(fills, ref.fills, strict=True):
        assert math.isclose(f["qty"], r.qty, rel_tol=1e-12)
        assert math.isclose(f["price"], r.price, rel_tol=1e-12)
        assert math.isclose(f["fee"], r.fee, rel_tol=1e-9, abs_tol=1e-12)
    trades = state.trades[: state.ist[k.I_NTRADE]]
    assert len(trades) == len(ref.trades)
    for t, r in zip(trades, ref.trades, strict=True):
        assert (
            int(t["side"]),
            int(t["entry_bar"]),
            int(t["exit_bar"]),
            TAGS[int(t["exit_reason"])],
        ) == (r.side, r.entry_bar, r.exit_bar, r.exit_reason)
        assert math.isclose(t["pnl"], r.pnl, rel_tol=1e-9, abs_tol=1e-7)
        assert math.isclose(t["exit_price"], r.exit_price, rel_tol=1e-12)
    np.testing.assert_allclose(state.cash_out, ref.cash, rtol=1e-10, atol=1e-7)
    np.testing.assert_allclose(state.pos_out, ref.position, rtol=1e-12, atol=1e-12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_series(), cfg=configs(), dist=distance_kinds(), seed=st.integers(0, 2**16))
def test_kernel_matches_reference(bars, cfg, dist, seed) -> None:
    op, hi, lo, cl, sig, limit = bars
    cfg = with_distances(cfg, dist, hi, lo, seed)
    state = run_kernel(cfg, op, hi, lo, cl, sig, limit)
    ref = simulate_reference(cfg, op, hi, lo, cl, *sig, limit)
    assert_same(state, ref)


@settings(max_examples=60, deadline=None)
@given(bars=bar_series(), cfg=configs())
def test_pnl_adds_up_to_equity_change(bars, cfg) -> None:
    op, hi, lo, cl, sig, limit = bars
    state = run_kernel(cfg, op, hi, lo, cl, sig, limit)
    trades = state.trades[: state.ist[k.I_NTRADE]]
    final = state.cash_out[-1] + state.pos_out[-1] * cl[-1]
    assert math.isclose(trades["pnl"].sum(), final - cfg.cash, rel_tol=1e-9, abs_tol=1e-6)
    if cfg.spot:
        assert np.all(state.pos_out >= 0.0)
