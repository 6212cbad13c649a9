"""The Strategy API of the event-driven path: `Strategy` callbacks and the `Context` they receive.

A strategy sees one bar at a time. ``on_bar(ctx)`` runs after bar ``ctx.i`` closed; orders it
places fill no earlier than bar ``ctx.i + 1``. ``on_fill(ctx, fill)`` runs for every fill of a bar
before that bar's ``on_bar``. The engine (`quantforge.engine.events`) implements `Context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from quantforge._typing import FloatArray
    from quantforge.engine.exits import TrailingStop
    from quantforge.engine.sizing import Sizer

TimeInForceSpec = Literal["gtc", "ioc"] | int
#: exit reason of a user-placed reduce-only order (``tag=``)
ExitTag = Literal["signal", "stop", "take_profit", "trailing", "timeout"]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution, as passed to `Strategy.on_fill`.

    ``side`` is +1 (buy) or -1 (sell); ``tag`` names the order's purpose (``"entry"``,
    ``"signal"``, ``"stop"``, ``"take_profit"``, ``"trailing"``, ``"timeout"``); ``position`` is the
    position after the fill.
    """

    order_id: int
    bar: int
    side: int
    qty: float
    price: float
    fee: float
    tag: str
    position: float


class Context(Protocol):
    """What a strategy can see and do on a bar (implemented by the engine)."""

    @property
    def i(self) -> int:
        """Index of the bar that just closed."""
        ...

    @property
    def time_ms(self) -> int:
        """``open_time`` of that bar, in ms since the epoch (UTC)."""
        ...

    @property
    def open(self) -> float:
        """Open of the current bar."""
        ...

    @property
    def high(self) -> float:
        """High of the current bar."""
        ...

    @property
    def low(self) -> float:
        """Low of the current bar."""
        ...

    @property
    def close(self) -> float:
        """Close of the current bar."""
        ...

    @property
    def closes(self) -> FloatArray:
        """Closes of every bar up to and including the current one (read-only view)."""
        ...

    @property
    def position(self) -> float:
        """Signed position in base units (negative = short)."""
        ...

    @property
    def cash(self) -> float:
        """Cash in quote currency."""
        ...

    @property
    def equity(self) -> float:
        """Cash plus the position valued at the current close."""
        ...

    @property
    def open_orders(self) -> list[int]:
        """Ids of orders still working."""
        ...

    def buy(
        self,
        qty: float | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        trail: TrailingStop | None = None,
        tif: TimeInForceSpec = "gtc",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing: TrailingStop | float | None = None,
        timeout_bars: int | None = None,
        reduce_only: bool = False,
        stop_distance: float | None = None,
        take_profit_distance: float | None = None,
        tag: ExitTag | None = None,
    ) -> int:
        """Place a buy order; return its id (see `quantforge.engine.events.EventContext.buy`)."""
        ...

    def sell(
        self,
        qty: float | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        trail: TrailingStop | None = None,
        tif: TimeInForceSpec = "gtc",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing: TrailingStop | float | None = None,
        timeout_bars: int | None = None,
        reduce_only: bool = False,
        stop_distance: float | None = None,
        take_profit_distance: float | None = None,
        tag: ExitTag | None = None,
    ) -> int:
        """Place a sell order; return its id."""
        ...

    def close_position(self, *, tag: ExitTag = "signal") -> int | None:
        """Close the whole position at the next open; return the order id (None when flat)."""
        ...

    def cancel(self, order_id: int) -> bool:
        """Cancel a working order; return whether it was still working."""
        ...

    def replace(
        self,
        order_id: int,
        *,
        qty: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> int | None:
        """Cancel a working order and place a copy with new qty/prices; return the new id."""
        ...


class Strategy:
    """Base class of event-driven strategies: override `on_bar` (and optionally the others).

    Set ``atr_period`` on the class when you use ATR-multiple trailing stops, so the engine
    prepares the ATR series.

    Examples
    --------
    >>> class BuyAndHold(Strategy):
    ...     def on_bar(self, ctx: Context) -> None:
    ...         if ctx.i == 0:
    ...             ctx.buy()
    """

    atr_period: int | None = None

    @property
    def name(self) -> str:
        """Return the strategy's display name (its class name)."""
        return type(self).__name__

    def on_start(self, ctx: Context) -> None:
        """Run once before the first bar (default: nothing to prepare)."""
        return None

    def on_bar(self, ctx: Context) -> None:
        """Decide after bar ``ctx.i`` closed; orders fill from bar ``ctx.i + 1``."""
        raise NotImplementedError(f"{self.name} must implement on_bar(ctx)")

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """React to a fill (default: no reaction)."""
        return None
