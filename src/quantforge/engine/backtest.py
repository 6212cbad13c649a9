"""The `backtest` facade: one configuration, two front-ends (signal arrays or a Strategy)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from quantforge._typing import BoolArray, FloatArray
from quantforge.engine import _kernel_loops as loops
from quantforge.engine.costs import Fees, NoSlippage, SlippageModel
from quantforge.engine.exits import ExitRules
from quantforge.engine.instrument import Instrument
from quantforge.engine.records import SlippageKind, TrailKind
from quantforge.engine.result import BacktestResult, build_result, kernel_metrics
from quantforge.engine.risk import RiskLimits
from quantforge.engine.sizing import PercentEquity, Sizer
from quantforge.engine.state import MarketArrays, SameBar, SimState, lower_params, market_arrays
from quantforge.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    from quantforge.strategies.base import Context, Strategy

log = logging.getLogger(__name__)

SignalInput = BoolArray | pl.Series | list[bool] | None


@dataclass(frozen=True, slots=True)
class Backtest:
    """Everything about a simulation except the bars and the decisions.

    Parameters
    ----------
    cash
        Starting cash in quote currency.
    fees
        Maker/taker rates (`Fees`).
    slippage
        Slippage model for taker fills (``qf.slippage.FixedBps(2)`` …).
    sizing
        Default size of entries (``qf.sizing.PercentEquity(1.0)`` …).
    exit_rules
        Stop-loss / take-profit / trailing / timeout attached to every entry (`ExitRules`).
    instrument
        Tick size, lot size, min notional, market type, leverage (`Instrument`).
    same_bar_rule
        Which extreme of a bar the price visits first: ``"adverse"`` (default), ``"favorable"``
        or ``"open_distance"`` (the extreme nearer the open).
    entry_valid_bars
        How many bars a limit entry (``entry_price``) stays working.
    risk
        Risk rails (`RiskLimits`): position/notional/leverage caps, max open orders, daily loss
        limit, drawdown kill switch.
    volume_participation
        Largest fraction of a bar's volume one order may fill on that bar; the rest keeps working
        from the next bar (partial fills). None = no cap.
    symbol, calendar, risk_free_rate
        Labels the ledger; ``calendar`` ("crypto" or "equity") annualises the metrics.
    """

    cash: float = 100_000.0
    fees: Fees = field(default_factory=Fees)
    slippage: SlippageModel = field(default_factory=NoSlippage)
    sizing: Sizer = field(default_factory=lambda: PercentEquity(1.0))
    exit_rules: ExitRules = field(default_factory=ExitRules)
    instrument: Instrument = field(default_factory=Instrument)
    same_bar_rule: SameBar = "adverse"
    entry_valid_bars: int = 1
    risk: RiskLimits = field(default_factory=RiskLimits)
    volume_participation: float | None = None
    symbol: str = ""
    calendar: str = "crypto"
    risk_free_rate: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cash) and self.cash > 0.0):
            msg = f"cash must be a positive amount, got {self.cash!r}"
            raise ConfigError(msg)
        vp = self.volume_participation
        if vp is not None and not (math.isfinite(vp) and 0.0 < vp <= 1.0):
            msg = f"volume_participation must be in (0, 1] or None, got {vp!r}"
            raise ConfigError(msg)
        if self.entry_valid_bars < 1:
            msg = f"entry_valid_bars must be >= 1, got {self.entry_valid_bars}"
            raise ConfigError(msg)

    @property
    def kernel_atr_period(self) -> int | None:
        """Return the ATR period the kernel needs (trailing ATR stop, ATR slippage), else None.

        Two configurations with the same value read the same `market` arrays of given bars.
        """
        return self._atr_period()

    def _atr_period(self) -> int | None:
        trail = self.exit_rules.trailing_stop
        if trail is not None and trail.atr_multiple is not None:
            return trail.atr_period
        period = getattr(self.slippage, "period", None)
        if self.slippage.lower()[0] == int(SlippageKind.ATR_FRACTION) and period is not None:
            return int(period)
        return None

    def params(self) -> FloatArray:
        """Return the kernel parameter vector of this configuration."""
        return lower_params(
            self.fees, self.slippage, self.instrument, self.same_bar_rule, self.risk,
            self.volume_participation,
        )  # fmt: skip

    def market(
        self,
        bars: pl.DataFrame,
        atr_period: int | None = None,
        funding_rate: FloatArray | pl.Series | None = None,
        intrabar: pl.DataFrame | None = None,
    ) -> MarketArrays:
        """Validate ``bars`` (and the funding series) and return the arrays the kernel reads."""
        funding = None
        if funding_rate is not None:
            if self.instrument.market == "spot":
                msg = "funding_rate applies to perpetuals; use Instrument(market='linear_perp')"
                raise ConfigError(msg)
            funding = _float_array(funding_rate, bars.height, "funding_rate", 0.0)
        period = atr_period if atr_period is not None else self._atr_period()
        return market_arrays(bars, period, funding, intrabar)

    def run_signals(
        self,
        bars: pl.DataFrame,
        entries: SignalInput = None,
        exits: SignalInput = None,
        short_entries: SignalInput = None,
        short_exits: SignalInput = None,
        entry_price: FloatArray | pl.Series | None = None,
        size: FloatArray | pl.Series | None = None,
        funding_rate: FloatArray | pl.Series | None = None,
        intrabar: pl.DataFrame | None = None,
    ) -> BacktestResult:
        """Run the compiled fast path on boolean signal arrays (a signal at t fills from t+1).

        See `backtest` for the signal rules.
        """
        market = self.market(bars, funding_rate=funding_rate, intrabar=intrabar)
        state = self._simulate_signals(
            market, entries, exits, short_entries, short_exits, entry_price, size
        )
        return build_result(
            state, market, symbol=self.symbol, calendar=self.calendar,
            risk_free_rate=self.risk_free_rate,
        )  # fmt: skip

    def run_signals_metrics(
        self,
        bars: pl.DataFrame | MarketArrays,
        entries: SignalInput = None,
        exits: SignalInput = None,
        short_entries: SignalInput = None,
        short_exits: SignalInput = None,
        entry_price: FloatArray | pl.Series | None = None,
        size: FloatArray | pl.Series | None = None,
    ) -> Mapping[str, float]:
        """Run the fast path like `run_signals` and return only its metrics (no frames built).

        The metrics equal ``run_signals(...).metrics`` bit for bit (same kernel, same metric
        inputs); sweeps use this route because building the trade/order/fill/equity frames costs
        more than the simulation itself.

        Parameters
        ----------
        bars
            The bar frame, or the `MarketArrays` of `market` (validated once, reused across
            runs whose settings need the same arrays — same ATR period, no funding/intrabar).
        entries, exits, short_entries, short_exits, entry_price, size
            As for `run_signals`.
        """
        market = bars if isinstance(bars, MarketArrays) else self.market(bars)
        state = self._simulate_signals(
            market, entries, exits, short_entries, short_exits, entry_price, size
        )
        return kernel_metrics(
            state, market, calendar=self.calendar, risk_free_rate=self.risk_free_rate
        )

    def _simulate_signals(
        self,
        market: MarketArrays,
        entries: SignalInput,
        exits: SignalInput,
        short_entries: SignalInput,
        short_exits: SignalInput,
        entry_price: FloatArray | pl.Series | None,
        size: FloatArray | pl.Series | None,
    ) -> SimState:
        n = market.n
        le, lx, se, sx = (_bool_array(a, n, name) for a, name in (
            (entries, "entries"), (exits, "exits"),
            (short_entries, "short_entries"), (short_exits, "short_exits"),
        ))  # fmt: skip
        limit = _float_array(entry_price, n, "entry_price", np.nan)
        size_mode, size_value = self.sizing.lower()
        sizes = _float_array(size, n, "size", size_value)
        sl_pct, tp_pct, trail_kind, trail_value, timeout = self.exit_rules.lower()
        sl_dist, tp_dist = self.exit_rules.distances(n)
        # room for the orders, fills and trades the signals can make, so the loop rarely stops
        # to grow them: an entry spawns at most a close (when it reverses), its order and three
        # attached exits, an exit at most a close (most exit signals find no position)
        n_entries = int(np.count_nonzero(le) + np.count_nonzero(se))
        n_exits = int(np.count_nonzero(lx) + np.count_nonzero(sx))
        state = SimState(n, self.cash, capacity=_capacity(5 * n_entries + n_exits))
        params = self.params()
        start = 0
        while start < n:
            start = loops.simulate_signals_nb(
                start, n, market.open, market.high, market.low, market.close, market.volume,
                market.atr, market.flags, market.funding, le, lx, se, sx, limit, size_mode,
                sizes, sl_pct, tp_pct, sl_dist, tp_dist, trail_kind, trail_value, timeout,
                self.entry_valid_bars,
                state.orders, state.active, state.fills, state.trades, state.fs, state.ist,
                params, state.cash_out, state.pos_out,
            )  # fmt: skip
            if start < n:
                state.grow()
        return state

    def run_strategy(
        self,
        bars: pl.DataFrame,
        strategy: Strategy,
        funding_rate: FloatArray | pl.Series | None = None,
        intrabar: pl.DataFrame | None = None,
    ) -> BacktestResult:
        """Run the event-driven path: ``strategy.on_bar`` / ``on_fill`` callbacks."""
        from quantforge.engine.events import run_events

        market = self.market(bars, getattr(strategy, "atr_period", None), funding_rate, intrabar)
        state = SimState(market.n, self.cash)
        run_events(self, market, state, strategy)
        return build_result(
            state, market, symbol=self.symbol, calendar=self.calendar,
            risk_free_rate=self.risk_free_rate,
        )  # fmt: skip


def _bool_array(a: SignalInput, n: int, name: str) -> BoolArray:
    if a is None:
        return np.zeros(n, dtype=np.bool_)
    arr = a.to_numpy() if isinstance(a, pl.Series) else np.asarray(a)
    if arr.shape != (n,):
        msg = f"{name} has shape {arr.shape}; expected one value per bar, shape ({n},)"
        raise DataValidationError(msg)
    if arr.dtype != np.bool_:
        msg = f"{name} has dtype {arr.dtype}; pass a boolean array (True = signal on that bar)"
        raise DataValidationError(msg)
    return np.ascontiguousarray(arr)


def _float_array(a: FloatArray | pl.Series | None, n: int, name: str, fill: float) -> FloatArray:
    if a is None:
        return np.full(n, fill)
    arr = a.to_numpy() if isinstance(a, pl.Series) else np.asarray(a)
    if arr.shape != (n,):
        msg = f"{name} has shape {arr.shape}; expected one value per bar, shape ({n},)"
        raise DataValidationError(msg)
    return np.ascontiguousarray(arr, dtype=np.float64)


def backtest(
    bars: pl.DataFrame,
    strategy: Strategy | None = None,
    *,
    entries: SignalInput = None,
    exits: SignalInput = None,
    short_entries: SignalInput = None,
    short_exits: SignalInput = None,
    entry_price: FloatArray | pl.Series | None = None,
    size: FloatArray | pl.Series | None = None,
    funding_rate: FloatArray | pl.Series | None = None,
    intrabar: pl.DataFrame | None = None,
    cash: float = 100_000.0,
    fees: Fees | None = None,
    slippage: SlippageModel | None = None,
    sizing: Sizer | None = None,
    exit_rules: ExitRules | None = None,
    instrument: Instrument | None = None,
    same_bar_rule: SameBar = "adverse",
    entry_valid_bars: int = 1,
    risk: RiskLimits | None = None,
    volume_participation: float | None = None,
    symbol: str = "",
    calendar: str = "crypto",
    risk_free_rate: float = 0.0,
) -> BacktestResult:
    """Simulate trading ``bars`` with a `Strategy` (event path) or signal arrays (fast path).

    A decision on bar t sees data up to t's close and fills from bar t+1: market orders at its
    open plus slippage, limits and stops when its range reaches them (at the open when it gaps
    through). Signal rules (fast path): an entry and an exit of one direction on the same bar
    cancel out, as do long and short entries together; an opposite entry closes and reverses; no
    pyramiding; ``entry_price`` (NaN = market) turns entries into limit orders working for
    ``entry_valid_bars`` bars; ``size`` overrides the sizer's value per bar.

    Parameters
    ----------
    bars
        OHLCV frame indexed by ``open_time`` (`quantforge.data.schema`).
    strategy
        A `quantforge.Strategy`; mutually exclusive with the signal arrays.
    entries, exits, short_entries, short_exits
        Boolean arrays, one value per bar.
    funding_rate
        Perpetuals: funding rate per bar (0 or NaN = no funding at that bar), paid at the bar's
        open on the position held into it: ``-position * open * rate`` (longs pay a positive
        rate). Booked in cash and in the trade's ``funding``.
    intrabar
        Finer bars of the same market (e.g. 1m under 1h bars). For each bar, the finer series
        tells whether its low or its high came first; that order replaces the same-bar rule
        wherever it is known (the rule still decides when one finer bar holds both extremes).
    cash, fees, slippage, sizing, exit_rules, instrument, same_bar_rule, entry_valid_bars, risk,
    volume_participation, symbol, calendar, risk_free_rate
        See `Backtest`.

    Returns
    -------
    BacktestResult
        Trades, orders, fills, equity and metrics.

    Raises
    ------
    ConfigError
        For an invalid configuration, or both a strategy and signals.
    DataValidationError
        For malformed bars or signal arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import polars as pl
    >>> import quantforge as qf
    >>> bars = pl.DataFrame({"open_time": [0, 60_000, 120_000], "open": [1.0, 2.0, 3.0],
    ...     "high": [1.0, 2.0, 3.0], "low": [1.0, 2.0, 3.0], "close": [1.0, 2.0, 3.0],
    ...     "volume": [1.0, 1.0, 1.0]})
    >>> r = qf.backtest(bars, entries=np.array([True, False, False]), cash=100.0,
    ...                 sizing=qf.sizing.FixedQty(1.0))
    >>> r.trades["entry_price"].to_list(), r.final_equity
    ([2.0], 101.0)
    """
    config = Backtest(
        cash=cash,
        fees=fees if fees is not None else Fees(),
        slippage=slippage if slippage is not None else NoSlippage(),
        sizing=sizing if sizing is not None else PercentEquity(1.0),
        exit_rules=exit_rules if exit_rules is not None else ExitRules(),
        instrument=instrument if instrument is not None else Instrument(),
        same_bar_rule=same_bar_rule,
        entry_valid_bars=entry_valid_bars,
        risk=risk if risk is not None else RiskLimits(),
        volume_participation=volume_participation,
        symbol=symbol,
        calendar=calendar,
        risk_free_rate=risk_free_rate,
    )
    has_signals = any(a is not None for a in (entries, exits, short_entries, short_exits))
    if strategy is not None:
        if has_signals or entry_price is not None or size is not None:
            msg = "pass either a strategy or signal arrays (entries/exits/...), not both"
            raise ConfigError(msg)
        return config.run_strategy(bars, strategy, funding_rate, intrabar)
    if not has_signals:
        msg = "nothing to simulate: pass a Strategy or at least one of entries/short_entries"
        raise ConfigError(msg)
    return config.run_signals(
        bars, entries, exits, short_entries, short_exits, entry_price, size, funding_rate, intrabar
    )


@dataclass(frozen=True, slots=True)
class SameBarBounds:
    """The same backtest under the adverse and the favorable same-bar rule.

    Where one bar reaches several orders and the order of its extremes is unknown, the truth lies
    between these two runs: ``worst`` visits the adverse extreme first, ``best`` the favorable one.
    """

    worst: BacktestResult
    best: BacktestResult


def same_bar_bounds(
    bars: pl.DataFrame,
    strategy_factory: Callable[[], Strategy] | None = None,
    **kwargs: Any,
) -> SameBarBounds:
    """Run `backtest` twice, with ``same_bar_rule`` "adverse" and "favorable".

    Parameters
    ----------
    bars
        As for `backtest`.
    strategy_factory
        Builds a fresh strategy for each run (strategies keep state); None for the fast path.
    **kwargs
        Every other `backtest` argument except ``same_bar_rule``.
    """
    if "same_bar_rule" in kwargs:
        msg = "same_bar_bounds sets same_bar_rule itself; drop it from the arguments"
        raise ConfigError(msg)
    runs = []
    for rule in ("adverse", "favorable"):
        strategy = strategy_factory() if strategy_factory is not None else None
        runs.append(backtest(bars, strategy, same_bar_rule=rule, **kwargs))
    return SameBarBounds(worst=runs[0], best=runs[1])


def warmup() -> None:
    """Compile (or load from the on-disk cache) every engine kernel on a tiny input.

    Runs a small fast-path backtest (full result and the sweeps' metrics-only route) and a small
    event-path backtest. The machine code is cached by Numba next to the engine sources (or under
    ``$NUMBA_CACHE_DIR``), so later processes only load it; see docs/engine.md, "Compilation and
    the on-disk cache".
    """
    n = 40
    close = 100.0 + np.sin(np.arange(n, dtype=np.float64))
    bars = pl.DataFrame(
        {
            "open_time": np.arange(n, dtype=np.int64) * 60_000,
            "open": close,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.ones(n),
        }
    )
    entries = np.zeros(n, dtype=np.bool_)
    entries[::5] = True
    exits = np.zeros(n, dtype=np.bool_)
    exits[2::5] = True
    rules = ExitRules(stop_loss=0.01, take_profit=0.02, trailing=0.01, timeout_bars=3)
    backtest(bars, entries=entries, exits=exits, short_entries=exits, exit_rules=rules,
             instrument=Instrument(market="linear_perp"),
             risk=RiskLimits(max_drawdown=0.5, daily_loss_limit=0.2, max_notional=1e9))  # fmt: skip
    # the sweep route's compiled metrics pass (engine._kernel_metrics)
    Backtest(exit_rules=rules).run_signals_metrics(bars, entries, exits)
    # the event path's kernels (advance_nb and the submit entry point)
    from quantforge.strategies.base import Strategy

    class _Warmup(Strategy):
        def on_bar(self, ctx: Context) -> None:
            if ctx.position > 0.0 and exits[ctx.i]:
                ctx.close_position()
            elif ctx.position == 0.0 and entries[ctx.i]:
                ctx.buy(stop_distance=1.5)

    # its own stop distance merges with the backtest's other exits (ExitRules.merged)
    backtest(bars, _Warmup(), exit_rules=ExitRules(take_profit=0.02, trailing=0.01, timeout_bars=3))
    log.debug("engine kernels ready (trail kinds %s)", [m.name for m in TrailKind])


def _capacity(records: int) -> int:
    """Return a power of two >= ``records`` (at least 256): the kernels' initial record room."""
    return 1 << max(8, (max(records, 1) - 1).bit_length())
