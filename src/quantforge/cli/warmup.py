"""CLI command ``quantforge warmup``: compile the Numba kernels once so later runs start fast."""

from __future__ import annotations

import time

from quantforge.cli._app import app, console

__all__ = ["warmup"]


@app.command()
def warmup() -> None:
    """Compile the engine and indicator kernels into Numba's on-disk cache.

    The first backtest on a fresh install compiles the kernels (tens of seconds); afterwards they
    load from the cache in ``__pycache__`` folders beside the package sources (or under
    $NUMBA_CACHE_DIR when set). Run this once after installing or upgrading.

    Example: quantforge warmup
    """
    import numpy as np

    started = time.perf_counter()
    from quantforge.engine import warmup as engine_warmup

    engine_warmup()

    from quantforge.indicators import atr, ema, rsi, sma

    x = 100.0 + np.sin(np.arange(64, dtype=np.float64))
    for fn in (sma, ema, rsi):
        fn(x, 14)
    atr(x + 1.0, x - 1.0, x, 14)
    console.print(f"kernels ready in {time.perf_counter() - started:.1f} s")
