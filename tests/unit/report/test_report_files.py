"""HTML and PNG files from real backtests: offline page, atomic write, thinning, image content."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs
from tests.unit.report.report_data import build_store, ma_cross, synthetic_bars

from quantforge.report.data import (
    RunView,
    run_view_from_result,
    run_view_from_store,
    thin_indices,
)
from quantforge.report.html import _merge_candles, write_tearsheet_html
from quantforge.report.plots import plot_drawdown, plot_equity


def test_thinning_keeps_extremes(rng: np.random.Generator) -> None:
    y = np.cumsum(rng.normal(size=50_000))
    idx = thin_indices(y, 1000)
    assert idx.size <= 1000
    assert np.all(np.diff(idx) > 0)
    assert idx[0] == 0
    assert idx[-1] == y.size - 1
    assert int(np.argmax(y)) in idx
    assert int(np.argmin(y)) in idx
    assert thin_indices(y[:10], 1000).tolist() == list(range(10))


def test_merged_candles_keep_range() -> None:
    bars = synthetic_bars(1000)
    merged, k = _merge_candles(bars, 300)
    assert k == 4
    assert merged.height == 250
    assert merged["high"].max() == bars["high"].max()
    assert merged["low"].min() == bars["low"].min()
    assert merged["open"][0] == bars["open"][0]
    assert merged["close"][-1] == bars["close"][-1]


def test_tearsheet_html_is_self_contained(tmp_path: Path) -> None:
    bars = synthetic_bars(1200)
    view = run_view_from_result(ma_cross(bars, 5, 30), title="t", bars=bars)
    path = write_tearsheet_html(view, tmp_path / "sub" / "t.html", max_points=500)
    text = path.read_text("utf-8")
    bundle = get_plotlyjs()
    # plotly.js is inlined exactly once, in the head; nothing else is fetched from anywhere
    assert text.count(bundle) == 1
    rest = text.replace(bundle, "")
    has_remote = re.search(r"<script[^>]*\bsrc=|https?://", rest) is not None
    assert not has_remote, "the page references a remote resource"
    assert rest.count("Plotly.newPlot") >= 6
    for div in ("chart-equity", "chart-drawdown", "chart-monthly", "chart-rolling", "chart-pnl"):
        assert f'id="{div}"' in text
    assert 'id="chart-price"' in text
    assert "1,200 bars" in text
    assert "Turnover (annual)" in text
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left behind


def test_stored_run_view_reads_artifacts_and_bars(tmp_path: Path) -> None:
    store, experiment_id, _ = build_store(tmp_path)
    with store:
        best = store.best(experiment_id, metric="sharpe")
        view = run_view_from_store(store, best.id)
        assert view.equity.height == 2400
        assert view.trades.height == best.metrics["n_trades"]
        assert view.bars is not None
        assert view.bars.height == 2400
        bench = view.buy_and_hold()
        assert bench is not None
        close = view.bars["close"].to_numpy()
        np.testing.assert_allclose(bench, view.equity_values[0] * close / close[0])
        assert view.fingerprint["data fingerprint"] == "abc123"


@pytest.mark.parametrize("plot", [plot_equity, plot_drawdown])
def test_png_is_a_real_non_blank_image(tmp_path: Path, plot: object) -> None:
    bars = synthetic_bars(800)
    view = run_view_from_result(ma_cross(bars, 5, 30), title="png", bars=bars)
    path = plot(view, tmp_path / "p.png", size_px=(900, 400))  # type: ignore[operator]
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (900, 400)
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 5.0  # not a blank canvas
    # the curve is drawn: a good share of pixels is neither white nor the background
    assert (pixels < 200).mean() > 0.01


def _synthetic_view(n: int, *, with_bars: bool) -> RunView:
    bars = synthetic_bars(n, seed=3)
    equity = 10_000.0 * bars["close"].to_numpy() / bars["close"][0]
    frame = pl.DataFrame({"open_time": bars["open_time"], "equity": equity})
    return RunView(
        title="no trades",
        metrics={"total_return": float(equity[-1] / equity[0] - 1), "profit_factor": math.inf},
        equity=frame,
        trades=pl.DataFrame(),
        bars=bars if with_bars else None,
    )


def test_big_series_are_thinned(tmp_path: Path) -> None:
    view = _synthetic_view(200_000, with_bars=True)
    path = write_tearsheet_html(view, tmp_path / "big.html")
    text = path.read_text("utf-8")
    page = text.replace(get_plotlyjs(), "")
    # the page stays small: ~4 000 line points and 1 500 candles, not 200 000 bars
    assert len(page) < 1_500_000
    assert "200,000 bars drawn as 1,493 candles of 134 bars each" in page
    assert "200,000 bars thinned to at most 4,000 points" in page


def test_page_without_trades_or_bars(tmp_path: Path) -> None:
    view = _synthetic_view(500, with_bars=False)
    page = write_tearsheet_html(view, tmp_path / "quiet.html").read_text("utf-8")
    assert 'id="chart-pnl"' not in page
    assert 'id="chart-price"' not in page
    assert "no price chart" in page
    assert "∞" in page  # profit factor without losses


@pytest.mark.parametrize("plot", [plot_equity, plot_drawdown])
def test_thinned_png_draws_the_same_picture(tmp_path: Path, plot: object) -> None:
    # 20,000 points on a 600 px image: thinned to <= 4 per pixel column, the picture must match
    # the one drawn from every point (antialiased edges may differ by a few grey levels)
    bars = synthetic_bars(20_000, seed=11)
    view = run_view_from_result(ma_cross(bars, 5, 30), title="thin", bars=bars)
    images = []
    for thin in (True, False):
        path = plot(view, tmp_path / f"{thin}.png", size_px=(600, 300), thin=thin)  # type: ignore[operator]
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("L"), dtype=float))
    thinned, full = images
    assert (thinned < 200).mean() > 0.01  # something is drawn
    differ = np.abs(thinned - full) > 64
    assert differ.mean() < 0.005, f"{differ.sum()} pixels differ"
