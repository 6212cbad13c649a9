"""Helpers for hand-computed engine cases: tiny bar frames and scripted strategies."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

import quantforge as qf


def make_bars(rows: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    o, h, lo, c = (list(x) for x in zip(*rows, strict=True))
    n = len(rows)
    return pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 60_000,
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": [1_000.0] * n,
        }
    ).with_columns(pl.col("open_time").cast(pl.Datetime("ms", "UTC")))


class Script(qf.Strategy):
    """Run ``actions[i](ctx)`` after bar i; remember returned order ids in ``self.ids``."""

    def __init__(self, actions: dict[int, Callable[[qf.Context], object]]) -> None:
        self.actions = actions
        self.ids: dict[int, object] = {}
        self.fills: list[qf.Fill] = []

    def on_bar(self, ctx: qf.Context) -> None:
        act = self.actions.get(ctx.i)
        if act is not None:
            self.ids[ctx.i] = act(ctx)

    def on_fill(self, ctx: qf.Context, fill: qf.Fill) -> None:
        self.fills.append(fill)
