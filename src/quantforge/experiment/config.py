"""Experiment files: YAML or TOML, validated with pydantic, each mistake reported with its path.

An experiment file names the data (exchange, symbols, interval, date range, catalog), the strategy
and its parameter space, the engine settings, how runs are ranked, where results go and which
executor runs them. See ``docs/experiments.md`` for every key.

`load_experiment` returns an `ExperimentConfig`; a bad file raises `ConfigError` whose message
names the file, the key path (``strategy.params.fast.step``), what was expected, and — for a
misspelt key — the closest valid key.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import logging
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from quantforge.data.schema import normalize_interval
from quantforge.errors import ConfigError
from quantforge.experiment.space import (
    Dimension,
    Fixed,
    Linspace,
    Logspace,
    ParamGrid,
    ParamSpace,
    Range,
    Values,
)

if TYPE_CHECKING:
    from quantforge.engine import Backtest

log = logging.getLogger(__name__)

__all__ = [
    "HEADLINE_METRICS",
    "DataSpec",
    "EngineSpec",
    "ExecutorSpec",
    "ExperimentConfig",
    "FeesSpec",
    "OutputsSpec",
    "RankingSpec",
    "RiskSpec",
    "SizingSpec",
    "SlippageSpec",
    "StrategySpec",
    "load_experiment",
    "parse_dimension",
    "parse_experiment",
]

#: metrics stored as real columns and usable for ranking
HEADLINE_METRICS: Final = (
    "total_return",
    "annual_return",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "n_trades",
    "exposure",
    "pnl_to_max_drawdown",
)
Metric: TypeAlias = Literal[
    "total_return",
    "annual_return",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "n_trades",
    "exposure",
    "pnl_to_max_drawdown",
]

#: resolves a strategy name to its parameter names (None when the strategy is unknown)
StrategyParameters: TypeAlias = Mapping[str, Sequence[str]] | Callable[[str], Sequence[str] | None]

_IDENTIFIER: Final = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- parameter dimensions ---------------------------------------------------------------------


class _SpecError(ValueError):
    """A parameter-space problem with its path relative to the strategy section."""

    def __init__(self, path: tuple[str | int, ...], detail: str, suffix: str = "") -> None:
        super().__init__(detail + suffix)
        self.path = path
        self.detail = detail
        self.suffix = suffix


_KIND_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "range": ("start", "stop", "step"),
    "linspace": ("start", "stop", "num"),
    "logspace": ("start", "stop", "num"),
    "values": ("values",),
    "fixed": ("value",),
}
_ALL_SPEC_KEYS: Final = ("kind", "start", "stop", "step", "num", "log", "values", "value")


def _scalar(value: object) -> bool:
    return isinstance(value, int | float | str | bool)


def _number(value: object, path: tuple[str | int, ...], what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _SpecError(path, f"expected a number for {what}, got {value!r}")
    if not math.isfinite(value):
        raise _SpecError(path, f"expected a finite number for {what}, got {value!r}")
    return value


def _integer(value: object, path: tuple[str | int, ...], what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _SpecError(path, f"expected an integer >= 1 for {what}, got {value!r}")
    return value


def _unknown_key(key: str, allowed: Sequence[str], path: tuple[str | int, ...]) -> _SpecError:
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f" — did you mean {hint[0]!r}?" if hint else f" (allowed: {', '.join(allowed)})"
    return _SpecError(path, f"unknown key {key!r}", suggestion)


def parse_dimension(raw: object, path: tuple[str | int, ...] = ()) -> Dimension:
    """Turn one ``params`` entry of an experiment file into a `Dimension`.

    Accepted forms: a scalar (``fixed``), a list (``values``), or a table with ``start``/``stop``
    and ``step`` (range, inclusive end) or ``num`` (linspace; add ``log = true`` for logspace),
    ``values = [...]``, ``value = x``; an explicit ``kind`` may name the form.

    Parameters
    ----------
    raw
        The value read from the file.
    path
        Where it was read, for error messages.

    Returns
    -------
    Dimension

    Raises
    ------
    ValueError
        (internally `_SpecError`, carrying the path) when the entry is malformed.

    Examples
    --------
    >>> parse_dimension({"start": 5, "stop": 40, "step": 5}).values()[-1]
    40
    """
    if _scalar(raw):
        return Fixed(raw)  # type: ignore[arg-type]
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            if not _scalar(item):
                raise _SpecError((*path, i), f"expected a number, text or boolean, got {item!r}")
        try:
            return Values(tuple(raw))
        except ConfigError as e:
            raise _SpecError(path, str(e)) from e
    if not isinstance(raw, Mapping):
        raise _SpecError(
            path, f"expected a value, a list or a table (start/stop/step ...), got {raw!r}"
        )
    for key in raw:
        if key not in _ALL_SPEC_KEYS:
            unused = [k for k in _ALL_SPEC_KEYS if k not in raw]
            raise _unknown_key(str(key), unused, (*path, str(key)))
    kind = raw.get("kind")
    if kind is None:
        if "step" in raw:
            kind = "range"
        elif "num" in raw:
            kind = "logspace" if raw.get("log") is True else "linspace"
        elif "values" in raw:
            kind = "values"
        elif "value" in raw:
            kind = "fixed"
        else:
            raise _SpecError(
                path,
                "cannot tell the kind of this parameter table; give start/stop/step (range), "
                "start/stop/num (linspace, add log = true for logspace), values or value",
            )
    if kind not in _KIND_KEYS:
        hint = difflib.get_close_matches(str(kind), list(_KIND_KEYS), n=1)
        suggestion = f" — did you mean {hint[0]!r}?" if hint else ""
        raise _SpecError(
            (*path, "kind"),
            f"unknown kind {kind!r}{suggestion} (kinds: {', '.join(_KIND_KEYS)})",
        )
    allowed = ("kind", *_KIND_KEYS[kind], *(("log",) if kind in ("linspace", "logspace") else ()))
    for key in raw:
        if key not in allowed:
            unused = [k for k in allowed if k not in raw]
            raise _unknown_key(str(key), unused, (*path, str(key)))
    for key in _KIND_KEYS[kind]:
        if key not in raw:
            raise _SpecError(
                path, f"missing key {key!r}: a {kind} needs {', '.join(_KIND_KEYS[kind])}"
            )
    if "log" in raw and not isinstance(raw["log"], bool):
        raise _SpecError((*path, "log"), f"expected true or false, got {raw['log']!r}")
    try:
        if kind == "range":
            return Range(
                _number(raw["start"], (*path, "start"), "start"),
                _number(raw["stop"], (*path, "stop"), "stop"),
                _number(raw["step"], (*path, "step"), "step"),
            )
        if kind in ("linspace", "logspace"):
            start = _number(raw["start"], (*path, "start"), "start")
            stop = _number(raw["stop"], (*path, "stop"), "stop")
            num = _integer(raw["num"], (*path, "num"), "num")
            if kind == "logspace" or raw.get("log") is True:
                return Logspace(start, stop, num)
            return Linspace(start, stop, num)
        if kind == "values":
            return parse_dimension(list(raw["values"]), (*path, "values"))
        return parse_dimension(raw["value"], (*path, "value"))
    except ConfigError as e:
        step_issue = "step" in str(e) and kind == "range"
        raise _SpecError((*path, "step") if step_issue else path, str(e)) from e


# --- sections ---------------------------------------------------------------------------------


def _utc(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return _utc(dt.datetime.fromisoformat(value.strip()))
        except ValueError as e:
            raise ValueError(
                f"expected an ISO date or datetime such as 2024-01-01, got {value!r}"
            ) from e
    return value


class DataSpec(_Model):
    """Which bars to load: ``[start, end)`` of ``interval`` bars per symbol from the catalog."""

    catalog: str | None = Field(
        default=None,
        description="catalog folder or URL (s3://...), relative to the file; None: the settings' "
        "catalog (QUANTFORGE_CATALOG / --catalog)",
    )
    exchange: str = "binance"
    market: Literal["spot", "usdm", "coinm"] = "spot"
    symbols: tuple[str, ...] = Field(min_length=1)
    interval: str
    start: dt.datetime
    end: dt.datetime

    @field_validator("symbols", mode="before")
    @classmethod
    def _one_symbol(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("symbols")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"symbols repeat: {list(value)}")
        return tuple(s.upper() for s in value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        return normalize_interval(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates(cls, value: object) -> object:
        return _utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> DataSpec:
        if self.start >= self.end:
            raise ValueError(
                f"start {self.start.isoformat()} must be before end {self.end.isoformat()}"
            )
        return self


class StrategySpec(_Model):
    """A strategy by registry name, its parameter space and constraints between parameters."""

    name: str = Field(pattern=_IDENTIFIER)
    params: dict[str, Any] = Field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    _space: ParamSpace = PrivateAttr()

    @field_validator("constraints", mode="before")
    @classmethod
    def _one_constraint(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _build_space(self) -> StrategySpec:
        dimensions: dict[str, Dimension] = {}
        for key, raw in self.params.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise _SpecError(("params",), f"parameter name {key!r} is not an identifier")
            dimensions[key] = parse_dimension(raw, ("params", key))
        names = list(dimensions)
        parsed = []
        for i, expression in enumerate(self.constraints):
            try:
                parsed.append(ParamSpace.build(dimensions, [expression]).constraints[0])
            except ConfigError as e:
                raise _SpecError(("constraints", i), str(e)) from e
        self._space = ParamSpace(dimensions=dimensions, constraints=tuple(parsed))
        # the first valid combination is enough: len() would walk the whole constrained grid
        if names and next(iter(ParamGrid(self._space)), None) is None:
            raise _SpecError(
                ("constraints",),
                f"no combination satisfies {list(self.constraints)}; loosen the constraints",
            )
        return self

    @property
    def space(self) -> ParamSpace:
        """Return the parameter space (dimensions in file order, parsed constraints)."""
        return self._space

    def grid(self) -> ParamGrid:
        """Return the lazy grid over this strategy's space."""
        return ParamGrid(self._space)


class FeesSpec(_Model):
    """Fee rates as fractions of notional (0.001 = 0.1% = 10 bps); a negative maker is a rebate."""

    maker: float = Field(default=0.001, ge=-0.01, lt=0.1)
    taker: float = Field(default=0.001, ge=0.0, lt=0.1)


def _check_model_params(
    kind: str,
    name: str,
    params: Mapping[str, float],
    table: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]],
) -> None:
    required, optional = table[name]
    allowed = (*required, *optional)
    for key in params:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = (
                f" — did you mean {hint[0]!r}?"
                if hint
                else f" ({name} takes: {', '.join(allowed) or 'no parameters'})"
            )
            raise ValueError(f"unknown parameter {key!r} for {kind} {name!r}{suggestion}")
    missing = [key for key in required if key not in params]
    if missing:
        raise ValueError(
            f"{kind} {name!r} needs params {missing} (e.g. params: {{{missing[0]}: ...}})"
        )
    for key, value in params.items():
        if not math.isfinite(value):
            raise ValueError(f"{kind} parameter {key!r} must be finite, got {value!r}")


# model -> (required params, optional params); the engine's slippage models (engine/costs.py)
_SLIPPAGE_PARAMS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "none": ((), ()),
    "fixed_bps": (("bps",), ()),
    "range_fraction": (("fraction",), ()),
    "atr_fraction": (("fraction",), ("period",)),
    "sqrt_impact": (("coef",), ()),
}
# mode -> (required params, optional params); the engine's sizers (engine/sizing.py)
_SIZING_PARAMS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "fixed_qty": (("qty",), ()),
    "fixed_notional": (("notional",), ()),
    "percent_equity": (("fraction",), ()),
    "risk_percent": (("fraction",), ()),
}


class SlippageSpec(_Model):
    """A slippage model and its parameters.

    ``none``; ``fixed_bps`` (bps); ``range_fraction`` (fraction of the previous bar's range);
    ``atr_fraction`` (fraction, optional period); ``sqrt_impact`` (coef).
    """

    model: Literal["none", "fixed_bps", "range_fraction", "atr_fraction", "sqrt_impact"] = "none"
    params: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params_fit_model(self) -> SlippageSpec:
        _check_model_params("slippage model", self.model, self.params, _SLIPPAGE_PARAMS)
        return self


class SizingSpec(_Model):
    """A sizing mode and its parameters.

    ``percent_equity`` (fraction of equity, 1.0 = all); ``fixed_notional`` (notional, quote
    currency); ``fixed_qty`` (qty, base asset); ``risk_percent`` (fraction of equity lost at the
    entry's stop: the strategy's own or ``risk.stop_loss``; entries without one are rejected).
    """

    mode: Literal["percent_equity", "fixed_notional", "fixed_qty", "risk_percent"] = (
        "percent_equity"
    )
    params: dict[str, float] = Field(default_factory=lambda: {"fraction": 1.0})

    @model_validator(mode="after")
    def _params_fit_mode(self) -> SizingSpec:
        _check_model_params("sizing mode", self.mode, self.params, _SIZING_PARAMS)
        for key, value in self.params.items():
            if value <= 0:
                raise ValueError(f"sizing parameter {key!r} must be > 0, got {value!r}")
        return self


class RiskSpec(_Model):
    """Exits attached to every entry (fractions of the entry price) and the leverage cap.

    ``None`` switches a rail off.
    """

    stop_loss: float | None = Field(default=None, gt=0.0, lt=1.0)
    take_profit: float | None = Field(default=None, gt=0.0)
    trailing_stop: float | None = Field(default=None, gt=0.0, lt=1.0)
    timeout_bars: int | None = Field(default=None, ge=1)
    max_leverage: float = Field(default=1.0, gt=0.0, le=125.0)


class EngineSpec(_Model):
    """Simulation settings shared by every run of the experiment."""

    cash: float = Field(default=10_000.0, gt=0.0)
    fees: FeesSpec = FeesSpec()
    slippage: SlippageSpec = SlippageSpec()
    sizing: SizingSpec = SizingSpec()
    risk: RiskSpec = RiskSpec()
    intrabar: Literal["adverse", "favorable", "open_distance"] = "adverse"


class RankingSpec(_Model):
    """How runs are ranked: one headline metric, a direction, how many to keep in reports."""

    metric: Metric = "pnl_to_max_drawdown"
    direction: Literal["max", "min"] = "max"
    top_n: int = Field(default=10, ge=1)


class OutputsSpec(_Model):
    """Where results go; relative paths are resolved against the experiment file's folder."""

    results_dir: str = "results"
    store: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<results_dir>/results.db"
    )
    plots_top_n: int = Field(default=5, ge=0)


class ExecutorSpec(_Model):
    """Which executor runs the tasks: local processes or a Ray cluster."""

    kind: Literal["local", "ray"] = "local"
    workers: int | None = Field(default=None, ge=1, description="default: all cores")
    address: str | None = Field(default=None, description="Ray address; None starts a local Ray")
    chunk_size: int | None = Field(default=None, ge=1, description="tasks per worker call")

    @model_validator(mode="after")
    def _address_needs_ray(self) -> ExecutorSpec:
        if self.address is not None and self.kind != "ray":
            raise ValueError(
                f"address {self.address!r} is only used by the ray executor; "
                "set kind = 'ray' or drop address"
            )
        return self


class ExperimentConfig(_Model):
    """A whole experiment file. Give exactly one of ``strategy`` or ``strategies``."""

    name: str = Field(min_length=1)
    description: str = ""
    data: DataSpec
    strategy: StrategySpec | None = None
    strategies: tuple[StrategySpec, ...] | None = None
    engine: EngineSpec = EngineSpec()
    ranking: RankingSpec = RankingSpec()
    outputs: OutputsSpec = OutputsSpec()
    executor: ExecutorSpec = ExecutorSpec()
    # read and validated by `quantforge optimize` / `quantforge validate`
    # (quantforge.experiment.optimize.load_optimize_file); a sweep ignores them
    optimize: dict[str, Any] | None = None
    walk_forward: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    source: str | None = Field(default=None, description="the file it was loaded from")

    @model_validator(mode="after")
    def _one_strategy_section(self) -> ExperimentConfig:
        if (self.strategy is None) == (self.strategies is None):
            raise ValueError("give exactly one of 'strategy' (a table) or 'strategies' (a list)")
        if self.strategies is not None:
            if len(self.strategies) == 0:
                raise ValueError("'strategies' is empty; list at least one strategy")
            names = [s.name for s in self.strategies]
            if len(set(names)) != len(names):
                raise ValueError(f"strategy names repeat: {names}; each may appear once")
        return self

    @property
    def all_strategies(self) -> tuple[StrategySpec, ...]:
        """Return the strategies in file order (one for a ``strategy`` section)."""
        if self.strategy is not None:
            return (self.strategy,)
        assert self.strategies is not None
        return self.strategies

    @property
    def n_runs(self) -> int:
        """Return the number of runs: combinations summed over strategies, times symbols."""
        return len(self.data.symbols) * sum(len(s.grid()) for s in self.all_strategies)

    def store_url(self) -> str:
        """Return the results store URL (the default is a SQLite file in ``results_dir``)."""
        if self.outputs.store is not None:
            return self.outputs.store
        return f"sqlite:///{Path(self.outputs.results_dir) / 'results.db'}"

    def backtest(self, symbol: str = "") -> Backtest:
        """Return the engine's `Backtest` settings for one symbol of this experiment.

        Fees, slippage, sizing, exits, the same-bar rule and cash come from ``engine``; the
        instrument is ``spot`` or a linear perpetual (``data.market``) with ``risk.max_leverage``
        and no tick/lot rounding — replace it (``dataclasses.replace(bt, instrument=...)``) with
        the exchange's rules when they are known.

        Raises
        ------
        ConfigError
            When the engine rejects a setting (e.g. leverage on a spot market).
        """
        # imported here so that loading a config does not pull in the compiled engine
        from quantforge.engine import (
            Backtest,
            ExitRules,
            Fees,
            Instrument,
            sizing,
            slippage,
        )

        engine = self.engine
        params = engine.slippage.params
        models: dict[str, Callable[[], Any]] = {
            "none": slippage.NoSlippage,
            "fixed_bps": lambda: slippage.FixedBps(params["bps"]),
            "range_fraction": lambda: slippage.RangeFraction(params["fraction"]),
            "atr_fraction": lambda: slippage.AtrFraction(
                params["fraction"], int(params.get("period", 14))
            ),
            "sqrt_impact": lambda: slippage.SqrtImpact(params["coef"]),
        }
        amount = engine.sizing.params
        sizers: dict[str, Callable[[], Any]] = {
            "percent_equity": lambda: sizing.PercentEquity(amount["fraction"]),
            "fixed_notional": lambda: sizing.FixedNotional(amount["notional"]),
            "fixed_qty": lambda: sizing.FixedQty(amount["qty"]),
            "risk_percent": lambda: sizing.RiskPercent(amount["fraction"]),
        }
        risk = engine.risk
        return Backtest(
            cash=engine.cash,
            fees=Fees(maker=engine.fees.maker, taker=engine.fees.taker),
            slippage=models[engine.slippage.model](),
            sizing=sizers[engine.sizing.mode](),
            exit_rules=ExitRules(
                stop_loss=risk.stop_loss,
                take_profit=risk.take_profit,
                trailing=risk.trailing_stop,
                timeout_bars=risk.timeout_bars,
            ),
            instrument=Instrument(
                market="spot" if self.data.market == "spot" else "linear_perp",
                leverage=risk.max_leverage,
            ),
            same_bar_rule=engine.intrabar,
            symbol=symbol,
        )


# --- loading ----------------------------------------------------------------------------------


def _format_path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _model_at(parts: Sequence[str | int]) -> type[BaseModel] | None:
    """Return the model class that validates the mapping at ``parts`` (None if not a model)."""
    current: type[BaseModel] = ExperimentConfig
    for part in parts:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        found = _find_model(info.annotation)
        if found is None:
            return None
        current = found
    return current


def _find_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _describe(error: Mapping[str, Any]) -> str:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _SpecError):
        path = (*loc, *cause.path)
        last = path[-1] if path else None
        if cause.detail.startswith("unknown key") and isinstance(last, str):
            return f"{cause.detail} at {_format_path(path[:-1])}{cause.suffix}"
        return f"{_format_path(path)}: {cause.detail}{cause.suffix}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model is not None else []
        allowed = [a for a in allowed if a != "source"]
        hint = difflib.get_close_matches(key, allowed, n=1)
        listing = f" (allowed: {', '.join(allowed)})"
        suggestion = f" — did you mean {hint[0]!r}?" if hint else listing
        return f"unknown key {key!r} at {_format_path(loc[:-1])}{suggestion}"
    if kind == "literal_error" and isinstance(error.get("input"), str):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = difflib.get_close_matches(error["input"], choices, n=1)
        suggestion = f" — did you mean {hint[0]!r}?" if hint else ""
        return (
            f"{_format_path(loc)}: {error['input']!r} is not one of {', '.join(choices)}"
            f"{suggestion}"
        )
    if kind == "missing":
        return f"missing key {str(loc[-1])!r} at {_format_path(loc[:-1])}"
    message = str(error["msg"])
    if isinstance(cause, ConfigError | ValueError):
        message = str(cause)
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, Mapping | list) else f" (got {got!r})"
    return f"{_format_path(loc)}: {message}{shown}"


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"experiment file {path} does not exist") from e
    except OSError as e:
        raise ConfigError(f"cannot read experiment file {path}: {e}") from e
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            data: object = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: invalid TOML: {e}") from e
    elif suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e)
            raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from e
    else:
        raise ConfigError(
            f"{path}: unknown experiment file type {suffix!r}; use .yaml, .yml or .toml"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of sections (name, data, strategy, ...)")
    return data


def _resolve(base: Path, location: str) -> str:
    if "://" in location or Path(location).is_absolute():
        return location
    return str((base / location).resolve())


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    section = data.get("data")
    if isinstance(section, dict) and isinstance(section.get("catalog"), str):
        section["catalog"] = _resolve(base, section["catalog"])
    outputs = data.get("outputs")
    if outputs is None:
        outputs = data["outputs"] = {}
    if isinstance(outputs, dict):
        results = outputs.get("results_dir", "results")
        if isinstance(results, str):
            outputs["results_dir"] = _resolve(base, results)


def _check_strategies(config: ExperimentConfig, known: StrategyParameters) -> list[str]:
    problems: list[str] = []
    for index, spec in enumerate(config.all_strategies):
        prefix: tuple[str | int, ...] = (
            ("strategy",) if config.strategy is not None else ("strategies", index)
        )
        if isinstance(known, Mapping):
            names = known.get(spec.name)
            catalogue: list[str] = list(known)
        else:
            names = known(spec.name)
            catalogue = []
        if names is None:
            hint = difflib.get_close_matches(spec.name, catalogue, n=1)
            suggestion = f" — did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                f"{_format_path((*prefix, 'name'))}: unknown strategy {spec.name!r}{suggestion}"
            )
            continue
        for key in spec.params:
            if key not in names:
                hint = difflib.get_close_matches(key, list(names), n=1)
                suggestion = (
                    f" — did you mean {hint[0]!r}?"
                    if hint
                    else f" ({spec.name} takes: {', '.join(names)})"
                )
                problems.append(
                    f"unknown key {key!r} at {_format_path((*prefix, 'params'))}{suggestion}"
                )
    return problems


def load_experiment(
    path: str | Path, *, strategy_parameters: StrategyParameters | None = None
) -> ExperimentConfig:
    """Read and validate an experiment file (``.yaml``/``.yml`` or ``.toml``).

    Relative ``data.catalog`` and ``outputs.results_dir`` are resolved against the file's folder.

    Parameters
    ----------
    path
        The file.
    strategy_parameters
        Optional: strategy name -> its parameter names (a mapping, or a function returning None
        for an unknown strategy). When given, unknown strategies and misspelt parameter names are
        errors with a close-match suggestion.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        Naming the file, each offending key path and what was expected.

    Examples
    --------
    >>> cfg = load_experiment("examples/experiments/naive_vs_regime_btc_15m.yaml")  # doctest: +SKIP
    >>> cfg.n_runs  # doctest: +SKIP
    128
    """
    source = Path(path)
    data = _read(source)
    return parse_experiment(
        data,
        source=str(source),
        base_dir=source.resolve().parent,
        strategy_parameters=strategy_parameters,
    )


def parse_experiment(
    data: Mapping[str, Any],
    *,
    source: str = "<experiment>",
    base_dir: str | Path | None = None,
    strategy_parameters: StrategyParameters | None = None,
) -> ExperimentConfig:
    """Validate an experiment given as a mapping (e.g. JSON posted to the API).

    Parameters
    ----------
    data
        The sections, as they would appear in a file.
    source
        How to name the input in error messages.
    base_dir
        Folder that relative ``data.catalog`` and ``outputs.results_dir`` are resolved against;
        None leaves them as given.
    strategy_parameters
        As for `load_experiment`.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        Naming ``source``, each offending key path and what was expected.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table of sections (name, data, strategy, ...)")
    document = copy.deepcopy(dict(data))
    if base_dir is not None:
        _resolve_paths(document, Path(base_dir).resolve())
    document.setdefault("source", source)
    try:
        config = ExperimentConfig.model_validate(document)
    except ValidationError as e:
        problems = [_describe(error) for error in e.errors()]
        raise ConfigError(_summary(source, problems)) from None
    if strategy_parameters is not None:
        problems = _check_strategies(config, strategy_parameters)
        if problems:
            raise ConfigError(_summary(source, problems))
    # the product size, not n_runs: counting a constrained grid walks all of it
    bound = len(config.data.symbols) * sum(s.grid().product_size for s in config.all_strategies)
    log.debug("loaded experiment %r from %s: at most %d runs", config.name, source, bound)
    return config


def _summary(source: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{source}: {len(problems)} problems:\n{lines}"
