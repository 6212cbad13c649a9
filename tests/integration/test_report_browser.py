"""The HTML reports as a person sees them: loaded in real headless Chromium (Playwright).

No JavaScript errors, every Plotly chart present with data, a screenshot kept in
test-artifacts/. Uses the Debian chromium at /usr/bin/chromium (never `playwright install`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.report.report_data import build_store

from quantforge.report.build import write_experiment_report, write_run_report
from quantforge.report.data import run_view_from_store
from quantforge.report.html import write_comparison_html

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# per chart: number of traces and points of each (x, z or values, whichever the trace has)
CHARTS_JS = """() => {
  const finite = (a) => a ? Array.from(a).flat().filter(v => v !== null && v !== '' &&
      (typeof v !== 'number' || Number.isFinite(v))).length : 0;
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map(div => ({
    id: div.id,
    traces: div.data.length,
    points: div._fullData.map(t => t.z ? finite(t.z) : Math.max(finite(t.y), finite(t.x))),
    rendered: div.querySelectorAll('.main-svg').length,
  }));
}"""


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(user_data),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reports")
    store, experiment_id, _ = build_store(root)
    with store:
        experiment = write_experiment_report(store, experiment_id, root / "out")
        run = write_run_report(store, experiment.best_run_id, root / "out")
        a = run_view_from_store(store, 1, load_bars=False)
        b = run_view_from_store(store, 10, load_bars=False)
        comparison = write_comparison_html(a, b, root / "out" / "compare.html")
    return {"tearsheet": run.main, "sweep": experiment.main, "comparison": comparison}


def _load(context: Any, path: Path, screenshot: Path) -> list[dict[str, Any]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => d._fullLayout)"
    )
    charts: list[dict[str, Any]] = page.evaluate(CHARTS_JS)
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    assert errors == []
    return charts


def _check(charts: list[dict[str, Any]], expected: set[str]) -> None:
    ids = {c["id"] for c in charts}
    assert expected <= ids, f"missing charts: {expected - ids}"
    for chart in charts:
        assert chart["rendered"] > 0, chart
        assert chart["traces"] > 0, chart
        assert all(n > 0 for n in chart["points"]), chart


def test_tearsheet_in_browser(
    browser_context: Any, reports: dict[str, Path], artifacts_dir: Path
) -> None:
    charts = _load(browser_context, reports["tearsheet"], artifacts_dir / "report_tearsheet.png")
    _check(
        charts,
        {
            "chart-equity",
            "chart-drawdown",
            "chart-monthly",
            "chart-rolling",
            "chart-pnl",
            "chart-price",
        },
    )
    equity = next(c for c in charts if c["id"] == "chart-equity")
    assert equity["traces"] == 2  # strategy and buy & hold
    price = next(c for c in charts if c["id"] == "chart-price")
    assert price["traces"] == 3  # candles, entries, exits


def test_sweep_report_in_browser(
    browser_context: Any, reports: dict[str, Path], artifacts_dir: Path
) -> None:
    charts = _load(browser_context, reports["sweep"], artifacts_dir / "report_sweep.png")
    _check(charts, {"chart-heatmap-1", "chart-heatmap-2", "chart-profiles", "chart-top-equity"})


def test_comparison_in_browser(
    browser_context: Any, reports: dict[str, Path], artifacts_dir: Path
) -> None:
    charts = _load(browser_context, reports["comparison"], artifacts_dir / "report_compare.png")
    _check(charts, {"chart-growth", "chart-drawdown"})
    assert all(c["traces"] == 2 for c in charts)


def test_log_toggle_switches_the_axis(browser_context: Any, reports: dict[str, Path]) -> None:
    page = browser_context.new_page()
    page.goto(reports["tearsheet"].as_uri())
    page.wait_for_function("() => document.getElementById('chart-equity')._fullLayout")
    page.locator("#chart-equity .updatemenu-button").nth(1).click()
    page.wait_for_function(
        "() => document.getElementById('chart-equity')._fullLayout.yaxis.type === 'log'"
    )
    page.close()


def test_big_series_stay_light_in_browser(
    browser_context: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    from tests.unit.report.test_report_files import _synthetic_view

    from quantforge.report.html import MAX_CANDLES, MAX_LINE_POINTS, write_tearsheet_html

    path = write_tearsheet_html(_synthetic_view(200_000, with_bars=True), tmp_path / "big.html")
    charts = _load(browser_context, path, artifacts_dir / "report_big_series.png")
    _check(charts, {"chart-equity", "chart-drawdown", "chart-monthly", "chart-price"})
    by_id = {c["id"]: c for c in charts}
    assert 1000 < max(by_id["chart-equity"]["points"]) <= MAX_LINE_POINTS
    assert by_id["chart-price"]["points"] == [1493]
    assert max(by_id["chart-price"]["points"]) <= MAX_CANDLES
