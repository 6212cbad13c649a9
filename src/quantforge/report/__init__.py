"""Reports of stored results: console tear sheets, HTML pages, PNG plots, sweep views.

Modules (import the one you need; `html` pulls in Plotly and `plots` matplotlib):

- `quantforge.report.data`: `RunView` and how to build it from a result or the store
- `quantforge.report.tearsheet`: Rich tear sheet and top-N table, metric formatting
- `quantforge.report.html`: self-contained HTML tear sheet, sweep report, comparison
- `quantforge.report.plots`: matplotlib PNGs (equity, drawdown)
- `quantforge.report.sweep`: parameter heatmaps and the plateau score
- `quantforge.report.build`: whole reports of a stored run or experiment

See ``docs/reports.md``.
"""
