"""A deliberately plain reference simulator for the fast (signal) path — the engine's oracle.

Written separately from `quantforge.engine._kernel` and sharing none of its code: plain Python
objects, one loop over bars, readable over fast. It implements the documented semantics
(docs/engine.md) for: long/short signals, market and limit entries, declarative stop-loss /
take-profit / trailing (percent, absolute) / timeout exits, maker/taker fees, fixed-bps slippage,
tick and lot rounding, min notional, spot vs leveraged accounts, and the same-bar rule.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field


@dataclass
class RefConfig:
    cash: float = 10_000.0
    maker: float = 0.0
    taker: float = 0.0
    slip_bps: float = 0.0
    tick: float = 0.0
    lot: float = 0.0
    min_notional: float = 0.0
    spot: bool = True
    leverage: float = 1.0
    rule: str = "adverse"  # adverse | favorable | open_distance
    size_mode: str = "pct"  # qty | notional | pct
    size: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trail_pct: float | None = None
    trail_abs: float | None = None
    timeout: int | None = None
    entry_valid_bars: int = 1
    # absolute exit distances per bar, read at the entry's signal bar (NaN = none); they
    # replace stop_loss / take_profit when given
    stop_distance: list[float] | None = None
    take_profit_distance: list[float] | None = None


@dataclass
class RefOrder:
    oid: int
    side: int  # +1 buy, -1 sell
    kind: str  # market | limit | stop | trail
    price: float  # limit or stop price; trailing: reference extreme
    tag: str  # entry | signal | stop | take_profit | trailing | timeout
    first_bar: int
    last_bar: int | None = None  # good-for-N-bars entries
    closes: bool = False  # closes the whole position
    seen: bool = False  # has faced one open already (a later limit fill is a maker fill)
    group: int = -1
    signal_bar: int = -1  # entries: the bar whose signal placed them


@dataclass
class RefFill:
    bar: int
    side: int
    qty: float
    price: float
    fee: float
    tag: str


@dataclass
class RefTrade:
    side: int
    entry_bar: int
    exit_bar: int
    qty: float
    entry_price: float
    exit_price: float
    fees: float
    pnl: float
    exit_reason: str


@dataclass
class RefResult:
    fills: list[RefFill] = field(default_factory=list)
    trades: list[RefTrade] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    position: list[float] = field(default_factory=list)


class ReferenceSim:
    def __init__(self, cfg: RefConfig, o, h, l, c) -> None:  # noqa: E741
        self.cfg = cfg
        self.o, self.h, self.l, self.c = list(o), list(h), list(l), list(c)
        self.cash = cfg.cash
        self.pos = 0.0
        self.orders: list[RefOrder] = []
        self.next_id = 0
        self.out = RefResult()
        self.trade: dict | None = None
        self.timeout_at: int | None = None

    # -- helpers -------------------------------------------------------------------------
    def tick_round(self, p: float) -> float:
        t = self.cfg.tick
        return round(p / t) * t if t > 0 else p

    def new_order(self, **kw) -> RefOrder:
        order = RefOrder(oid=self.next_id, **kw)
        self.next_id += 1
        self.orders.append(order)
        return order

    def slipped(self, price: float, side: int) -> float:
        if self.cfg.slip_bps == 0:
            return price
        p = price * (1 + side * self.cfg.slip_bps / 10_000)
        t = self.cfg.tick
        if t > 0:
            p = (math.ceil(p / t - 1e-9) if side > 0 else math.floor(p / t + 1e-9)) * t
        return p if p > 0 else price

    def trail_level(self, order: RefOrder) -> float:
        dist = order.price * self.cfg.trail_pct if self.cfg.trail_pct else self.cfg.trail_abs
        return order.price + order.side * dist

    # -- a fill --------------------------------------------------------------------------
    def fill(self, order: RefOrder, bar: int, price: float, maker: bool, at_open: bool) -> None:
        self.orders.remove(order)
        cfg = self.cfg
        rate = cfg.maker if maker else cfg.taker
        if order.closes:
            if self.pos == 0 or (self.pos > 0) == (order.side > 0):
                return
            qty = abs(self.pos)
        else:
            equity = self.cash + self.pos * price
            if cfg.size_mode == "qty":
                qty = cfg.size
            elif cfg.size_mode == "notional":
                qty = cfg.size / price
            else:
                qty = cfg.size * equity / (price * (1 + rate))
            if cfg.lot > 0:
                qty = math.floor(qty / cfg.lot + 1e-9) * cfg.lot
            if qty <= 0:
                return
            if qty * price < cfg.min_notional:
                return
            new = self.pos + order.side * qty
            if cfg.spot and new < 0:
                return
            fee = qty * price * rate
            if abs(new) > abs(self.pos):
                avail = cfg.leverage * (equity - fee)
                if abs(new) * price > avail + 1e-9 * max(1.0, abs(avail)):
                    return
        fee = qty * price * rate
        old = self.pos
        self.cash -= order.side * qty * price + fee
        self.pos = 0.0 if order.closes else old + order.side * qty
        self.out.fills.append(RefFill(bar, order.side, qty, price, fee, order.tag))
        if old == 0:
            self.trade = {
                "side": order.side,
                "bar": bar,
                "qty": qty,
                "in": qty * price,
                "fees": fee,
            }
            self.open_exits(order, bar, price, at_open)
        else:
            # the fast path never adds to a position: this fill closes the trade
            t = self.trade
            assert t is not None
            t["fees"] += fee
            side = t["side"]
            pnl = side * (qty * price - t["in"]) - t["fees"]
            self.out.trades.append(
                RefTrade(
                    side,
                    t["bar"],
                    bar,
                    t["qty"],
                    t["in"] / t["qty"],
                    price,
                    t["fees"],
                    pnl,
                    order.tag if order.tag != "entry" else "signal",
                )
            )
            self.trade = None
            self.timeout_at = None
            self.orders = [x for x in self.orders if not x.closes]

    def open_exits(self, entry: RefOrder, bar: int, price: float, at_open: bool) -> None:
        cfg, side = self.cfg, entry.side
        first = bar if at_open else bar + 1
        stop = take = math.nan
        if cfg.stop_distance is not None:
            stop = price - side * cfg.stop_distance[entry.signal_bar]
        elif cfg.stop_loss is not None:
            stop = price * (1 - side * cfg.stop_loss)
        if cfg.take_profit_distance is not None:
            take = price + side * cfg.take_profit_distance[entry.signal_bar]
        elif cfg.take_profit is not None:
            take = price * (1 + side * cfg.take_profit)
        # a level at or below zero is never reached (the engine records it as rejected)
        if not math.isnan(stop) and self.tick_round(stop) > 0:
            self.new_order(
                side=-side,
                kind="stop",
                tag="stop",
                first_bar=first,
                closes=True,
                price=self.tick_round(stop),
            )
        if not math.isnan(take) and self.tick_round(take) > 0:
            self.new_order(
                side=-side,
                kind="limit",
                tag="take_profit",
                first_bar=first,
                closes=True,
                price=self.tick_round(take),
            )
        if cfg.trail_pct is not None or cfg.trail_abs is not None:
            self.new_order(
                side=-side, kind="trail", tag="trailing", first_bar=first, closes=True, price=price
            )
        self.timeout_at = bar + cfg.timeout - 1 if cfg.timeout else None

    # -- one bar -------------------------------------------------------------------------
    def live(self, bar: int) -> list[RefOrder]:
        return [x for x in self.orders if x.first_bar <= bar]

    def run_bar(self, i: int) -> None:
        op, hi, lo, cl = self.o[i], self.h[i], self.l[i], self.c[i]
        # 1. the open, in submission order (children of open fills join the queue)
        done: set[int] = set()
        while True:
            todo = [x for x in self.live(i) if x.oid not in done]
            if not todo:
                break
            x = min(todo, key=lambda z: z.oid)
            done.add(x.oid)
            if x.kind == "market":
                self.fill(x, i, self.slipped(op, x.side), False, True)
            elif x.kind == "limit" and x.side * (x.price - op) >= 0:
                self.fill(x, i, op, x.seen, True)
            elif x.kind == "stop" and x.side * (op - x.price) >= 0:
                self.fill(x, i, self.slipped(op, x.side), False, True)
            elif x.kind == "trail" and x.side * (op - self.trail_level(x)) >= 0:
                self.fill(x, i, self.slipped(op, x.side), False, True)
            if x in self.orders:
                x.seen = True
                if x.kind == "trail":
                    x.price = max(x.price, op) if x.side < 0 else min(x.price, op)
        # 2. the path through the bar
        if self.cfg.rule == "open_distance" or self.pos == 0:
            low_first = not (hi - op < op - lo)
        elif self.cfg.rule == "adverse":
            low_first = self.pos > 0
        else:
            low_first = self.pos < 0
        path = [op, lo, hi, cl] if low_first else [op, hi, lo, cl]
        for a, b in itertools.pairwise(path):
            if a != b and self.orders:
                self.leg(i, a, b)
        # 3. end of bar
        for x in list(self.orders):
            if x.last_bar is not None and x.last_bar <= i:
                self.orders.remove(x)
        if self.timeout_at is not None and i >= self.timeout_at and self.pos != 0:
            self.timeout_at = None
            self.new_order(
                side=-1 if self.pos > 0 else 1,
                kind="market",
                tag="timeout",
                first_bar=i + 1,
                closes=True,
                price=math.nan,
            )

    def leg(self, i: int, a: float, b: float) -> None:
        up = b > a
        while True:
            hits = []
            for x in self.live(i):
                if x.kind == "market":
                    continue
                level = self.trail_level(x) if x.kind == "trail" else x.price
                is_limit = x.kind == "limit"
                # sell limits and buy stops are reached by rising prices
                rising = (x.side < 0) if is_limit else (x.side > 0)
                if rising != up:
                    continue
                if up and level <= b:
                    hits.append((max(level, a), x.oid, x))
                elif not up and level >= b:
                    hits.append((-min(level, a), x.oid, x))
            if not hits:
                break
            key, _, x = min(hits, key=lambda z: (z[0], z[1]))
            px = abs(key)
            if x.kind == "limit":
                self.fill(x, i, px, x.seen, False)
            else:
                self.fill(x, i, self.slipped(px, x.side), False, False)
        for x in self.live(i):
            if x.kind == "trail":
                x.price = max(x.price, b) if x.side < 0 else min(x.price, b)

    def signals(self, i: int, le, lx, se, sx, limit) -> None:
        go_long = le[i] and not lx[i]
        go_short = se[i] and not sx[i]
        if go_long and go_short:
            go_long = go_short = False
        close = False
        if self.pos > 0:
            close = lx[i] or go_short
            go_long = False
        elif self.pos < 0:
            close = sx[i] or go_long
            go_short = False
        if not (close or go_long or go_short):
            return
        self.orders = [x for x in self.orders if x.tag != "entry"]
        if close:
            self.new_order(
                side=-1 if self.pos > 0 else 1,
                kind="market",
                tag="signal",
                first_bar=i + 1,
                closes=True,
                price=math.nan,
            )
        if go_long or go_short:
            lim = limit[i] if limit is not None else math.nan
            if math.isnan(lim):
                self.new_order(
                    side=1 if go_long else -1,
                    kind="market",
                    tag="entry",
                    first_bar=i + 1,
                    price=math.nan,
                    signal_bar=i,
                )
            else:
                self.new_order(
                    side=1 if go_long else -1,
                    kind="limit",
                    tag="entry",
                    first_bar=i + 1,
                    last_bar=i + self.cfg.entry_valid_bars,
                    price=self.tick_round(lim),
                    signal_bar=i,
                )

    def run(self, le, lx, se, sx, limit=None) -> RefResult:
        for i in range(len(self.o)):
            self.run_bar(i)
            self.signals(i, le, lx, se, sx, limit)
            self.out.cash.append(self.cash)
            self.out.position.append(self.pos)
        if self.pos != 0 and self.trade is not None:
            t = self.trade
            q = abs(self.pos)
            pnl = t["side"] * (q * self.c[-1] - t["in"]) - t["fees"]
            self.out.trades.append(
                RefTrade(
                    t["side"],
                    t["bar"],
                    len(self.o) - 1,
                    t["qty"],
                    t["in"] / t["qty"],
                    self.c[-1],
                    t["fees"],
                    pnl,
                    "end_of_data",
                )
            )
        return self.out


def simulate_reference(cfg: RefConfig, o, h, l, c, le, lx, se, sx, limit=None) -> RefResult:  # noqa: E741
    return ReferenceSim(cfg, o, h, l, c).run(le, lx, se, sx, limit)
