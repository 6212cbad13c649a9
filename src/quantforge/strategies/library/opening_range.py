"""``opening_range_breakout``: trade breakouts of the first minutes of an exchange session."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from quantforge._typing import FloatArray, IntArray
from quantforge.errors import ConfigError, DataValidationError
from quantforge.strategies.base import Context, Fill, Strategy
from quantforge.strategies.library._common import (
    BarArrays,
    StrategyDefinition,
    as_arrays,
    get_float,
    get_int,
    get_str,
)
from quantforge.strategies.params import Param, ParamSpace, ParamValue

if TYPE_CHECKING:
    from quantforge.indicators.cache import IndicatorCache

log = logging.getLogger(__name__)

_MIN_MS = 60_000
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Sessions:
    """Per-bar session facts: index of the session holding the bar (-1 = none), open and close."""

    session: IntArray
    open_ms: IntArray
    close_ms: IntArray
    bar_ms: int


def session_table(time_ms: IntArray, calendar: str) -> Sessions:
    """Map every bar to its exchange session (open/close in UTC ms, early closes included).

    Sessions come from `exchange_calendars`; holidays have no session, half days close early. A
    bar belongs to the session with ``open <= open_time < close``.

    Raises
    ------
    ConfigError
        For an unknown calendar name.
    DataValidationError
        For fewer than two bars (the bar interval cannot be inferred).
    """
    import exchange_calendars as xc  # type: ignore[import-untyped]
    import pandas as pd  # type: ignore[import-untyped]

    if time_ms.shape[0] < 2:
        msg = "opening_range_breakout needs at least two bars to infer the bar interval"
        raise DataValidationError(msg)
    bar_ms = int(np.min(np.diff(time_ms)))
    start = pd.Timestamp(int(time_ms[0]) - 2 * _DAY_MS, unit="ms").normalize()
    end = pd.Timestamp(int(time_ms[-1]) + 2 * _DAY_MS, unit="ms").normalize()
    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.x reads Series.values, which pandas 3 deprecates; not ours
            warnings.simplefilter("ignore", DeprecationWarning)
            cal = xc.get_calendar(calendar, start=start, end=end)
            sched = cal.schedule
    except xc.errors.InvalidCalendarName as e:
        close = [c for c in xc.get_calendar_names() if c.upper() == calendar.upper()]
        hint = f" — did you mean {close[0]!r}?" if close else " (e.g. 'XNYS' for NYSE)"
        msg = f"opening_range_breakout: unknown exchange calendar {calendar!r}{hint}"
        raise ConfigError(msg) from e
    opens = np.asarray(sched["open"].astype("int64").to_numpy() // 1_000_000, dtype=np.int64)
    closes = np.asarray(sched["close"].astype("int64").to_numpy() // 1_000_000, dtype=np.int64)
    idx = np.searchsorted(opens, time_ms, side="right") - 1
    ok = (idx >= 0) & (time_ms < closes[np.clip(idx, 0, None)])
    session = np.where(ok, idx, -1).astype(np.int64)
    safe = np.clip(idx, 0, None)
    return Sessions(
        session,
        np.where(ok, opens[safe], 0).astype(np.int64),
        np.where(ok, closes[safe], 0).astype(np.int64),
        bar_ms,
    )


def opening_ranges(
    arrays: BarArrays, sessions: Sessions, range_minutes: int
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Return per bar the session's opening-range high and low and when the range is complete.

    The range is the highest high and lowest low of the session's bars whose ``open_time`` lies
    in ``[open, open + range_minutes)``; it is known from the close of the bar ending at or after
    ``open + range_minutes`` on. The third array is that time (ms) per bar (0 outside sessions).
    High/low are NaN outside sessions and for sessions without a bar in the window.
    """
    n = arrays.close.shape[0]
    hi = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    end = sessions.open_ms + range_minutes * _MIN_MS
    in_range = (sessions.session >= 0) & (arrays.time_ms < end)
    s = sessions.session
    for sid in np.unique(s[in_range]):
        rows = in_range & (s == sid)
        members = s == sid
        hi[members] = np.max(arrays.high[rows])
        lo[members] = np.min(arrays.low[rows])
    return hi, lo, np.where(s >= 0, end, 0).astype(np.int64)


class OpeningRangeStrategy(Strategy):
    """Event-path ``opening_range_breakout`` (see `OpeningRangeBreakout` for the rules)."""

    def __init__(self, arrays: BarArrays, sessions: Sessions, p: Mapping[str, ParamValue]) -> None:
        self.a = arrays
        self.s = sessions
        self.range_hi, self.range_lo, self.range_end = opening_ranges(
            arrays, sessions, get_int(p, "range_minutes")
        )
        self.breakout = get_float(p, "breakout_pct")
        self.limit = get_float(p, "limit_pct")
        self.stop_pct = get_float(p, "stop_pct")
        self.max_stops = get_int(p, "max_stops_per_day")
        self.cooloff_ms = get_int(p, "cooloff_minutes") * _MIN_MS
        self.cutoff = sessions.close_ms - get_int(p, "flat_minutes") * _MIN_MS
        self.direction = get_str(p, "direction")
        self.session = -1
        self.stops_today = 0
        self.last_stop_ms: int | None = None
        #: (bar, side) of every entry order placed
        self.entry_orders: list[tuple[int, int]] = []

    @property
    def name(self) -> str:
        """Return the registry name."""
        return "opening_range_breakout"

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Count stop-outs per session and remember when the last one happened."""
        if fill.tag == "stop":
            if int(self.s.session[fill.bar]) == self.session:
                self.stops_today += 1
            self.last_stop_ms = int(self.a.time_ms[fill.bar])

    def on_bar(self, ctx: Context) -> None:
        """Apply the rules to bar ``ctx.i``."""
        i = ctx.i
        sid = int(self.s.session[i])
        if sid != self.session:
            self.session = sid
            self.stops_today = 0
        bar_end = int(self.a.time_ms[i]) + self.s.bar_ms
        if sid < 0 or bar_end >= self.cutoff[i]:
            # outside a session, or inside the flat window: no entries, close what is open
            if ctx.position != 0.0:
                ctx.close_position()
            return
        if ctx.position != 0.0 or bar_end < self.range_end[i]:
            return
        if self.stops_today >= self.max_stops:
            return
        if self.last_stop_ms is not None and int(self.a.time_ms[i]) < (
            self.last_stop_ms + self.cooloff_ms
        ):
            return
        hi, lo = float(self.range_hi[i]), float(self.range_lo[i])
        if not (np.isfinite(hi) and np.isfinite(lo)):
            return
        up = hi * (1.0 + self.breakout)
        down = lo * (1.0 - self.breakout)
        side = {"long": 1, "short": -1}.get(self.direction, 0)
        if side == 0:  # both: the trigger nearer to the close
            side = 1 if up - ctx.close <= ctx.close - down else -1
        if side > 0:
            ctx.buy(stop=up, limit=up * (1.0 + self.limit), tif=1, stop_loss=self.stop_pct)
        else:
            ctx.sell(stop=down, limit=down * (1.0 - self.limit), tif=1, stop_loss=self.stop_pct)
        self.entry_orders.append((i, side))


class OpeningRangeBreakout(StrategyDefinition):
    """Opening-range breakout for exchange-traded instruments (equities).

    Sessions (open, close, holidays, early closes) come from the exchange calendar ``calendar``
    (`exchange_calendars`; "XNYS" opens 09:30 America/New_York). Bars outside every session are
    ignored (any position is closed). Rules, evaluated on the close of bar t (orders fill from
    bar t+1; ``bar`` = the smallest spacing of the bars):

    - **Opening range**: highest high and lowest low of the session's bars whose ``open_time`` lies
      in ``[open, open + range_minutes)``. It is known once a bar ending at or after
      ``open + range_minutes`` has closed; before that no entry order exists, so nothing can fill
      inside the opening-range window.
    - **Entry** (when flat): a stop-limit buy with stop ``range_high * (1 + breakout_pct)`` and
      limit ``stop * (1 + limit_pct)`` (a short: stop ``range_low * (1 - breakout_pct)``, limit
      ``stop * (1 - limit_pct)``), good for one bar and re-placed on every bar while allowed.
      ``direction`` "long" (default) or "short" picks the side; "both" picks, on each bar, the
      trigger nearer to the close (one entry order at a time). Shorts need an instrument that
      allows them (``Instrument(market="linear_perp")``); a spot instrument rejects them.
    - **Stop**: attached stop-market exit at ``entry_fill * (1 ∓ stop_pct)``, working from the entry
      bar.
    - **Stops per day**: after ``max_stops_per_day`` stop-outs in a session, no more entries that
      session.
    - **Cool-off**: after a stop fills on a bar opening at time s, no entry order is placed on a bar
      opening before ``s + cooloff_minutes``.
    - **Flat before the close**: with ``cutoff = session close - flat_minutes`` (the early close on
      half days), from the bar that ends at or after the cutoff on, no entry order is placed and any
      position is closed with a market order at the next bar's open — at or after the cutoff and,
      as ``flat_minutes`` must be at least one bar, before the close.
    """

    name = "opening_range_breakout"
    summary = "Equity opening-range breakout: stop-limit entries, % stop, flat before the close"
    space = ParamSpace(
        (
            Param("calendar", str, "XNYS", "exchange calendar name (exchange_calendars)"),
            Param("range_minutes", int, 30, "length of the opening range (minutes)", 1, 600),
            Param("breakout_pct", float, 0.0, "trigger beyond the range (fraction)", 0.0, 0.2),
            Param("limit_pct", float, 0.001, "limit distance past trigger (fraction)", 0.0, 0.2),
            Param(
                "stop_pct",
                float,
                0.005,
                "stop distance from the entry fill (fraction)",
                minimum=0.0,
                maximum=0.5,
                exclusive_minimum=True,
            ),
            Param("max_stops_per_day", int, 2, "stop-outs after which a session ends", 1, 1000),
            Param("cooloff_minutes", int, 30, "no entries this long after a stop", 0, 1440),
            Param("flat_minutes", int, 5, "be flat this long before the close", 1, 600),
            Param("direction", str, "long", "sides traded", choices=("long", "short", "both")),
        ),
    )

    def build(
        self,
        bars: pl.DataFrame | BarArrays,
        params: Mapping[str, object] | None = None,
        cache: IndicatorCache | None = None,
    ) -> OpeningRangeStrategy:
        """Return the event-path strategy (the session table is built here)."""
        p = self.resolve(params)
        a = as_arrays(bars)
        sessions = session_table(a.time_ms, get_str(p, "calendar"))
        if get_int(p, "flat_minutes") * _MIN_MS < sessions.bar_ms:
            msg = (
                f"opening_range_breakout: flat_minutes={p['flat_minutes']} is shorter than one "
                f"bar ({sessions.bar_ms // _MIN_MS} min); the closing order would fill after "
                "the close — use at least one bar"
            )
            raise ConfigError(msg)
        log.debug("opening_range_breakout: %d bars, bar %d ms", a.close.shape[0], sessions.bar_ms)
        return OpeningRangeStrategy(a, sessions, p)
