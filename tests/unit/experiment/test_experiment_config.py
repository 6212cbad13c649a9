"""Experiment files: loading YAML/TOML, every example file, and precise error messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from quantforge.errors import ConfigError
from quantforge.experiment.config import ExperimentConfig, load_experiment, parse_experiment
from quantforge.experiment.space import Fixed, Logspace, Range, Values

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples" / "experiments").glob("*.*"))

MINIMAL_YAML = """
name: demo
data:
  catalog: cat
  symbols: [btcusdt]
  interval: 15m
  start: 2024-01-01
  end: 2024-02-01
strategy:
  name: ma_cross
  params:
    fast: {start: 5, stop: 40, step: 5}
    slow: {start: 50, stop: 120, step: 10}
  constraints: [fast < slow]
"""

MINIMAL_TOML = """
name = "demo"
[data]
catalog = "cat"
symbols = ["btcusdt"]
interval = "15m"
start = 2024-01-01
end = 2024-02-01
[strategy]
name = "ma_cross"
constraints = ["fast < slow"]
[strategy.params]
fast = { start = 5, stop = 40, step = 5 }
slow = { start = 50, stop = 120, step = 10 }
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_experiment(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(path) in message, message
    return message


def test_every_example_file_loads() -> None:
    assert len(EXAMPLES) >= 3
    assert {p.suffix for p in EXAMPLES} >= {".yaml", ".toml"}
    for path in EXAMPLES:
        config = load_experiment(path)
        assert config.n_runs > 0, path


def test_examples_use_real_strategy_parameters() -> None:
    registry = pytest.importorskip("quantforge.strategies.registry")
    for path in EXAMPLES:
        load_experiment(path, strategy_parameters=registry.parameter_names)


def test_naive_vs_regime_example_is_the_64_grid() -> None:
    config = load_experiment(REPO / "examples/experiments/naive_vs_regime_btc_15m.yaml")
    assert [s.name for s in config.all_strategies] == ["ma_cross", "regime_ma_cross"]
    assert config.data.symbols == ("BTCUSDT",)
    assert config.data.interval == "15m"
    for spec in config.all_strategies:
        combos = list(spec.grid())
        assert len(combos) == 64
        assert sorted({c["fast"] for c in combos}) == list(range(5, 41, 5))
        assert sorted({c["slow"] for c in combos}) == list(range(50, 121, 10))
    assert config.n_runs == 128
    assert config.ranking.metric == "pnl_to_max_drawdown"
    assert config.ranking.direction == "max"


def test_constrained_example_and_toml_example() -> None:
    constrained = load_experiment(REPO / "examples/experiments/ma_cross_constrained.yaml")
    assert constrained.strategy is not None
    for combo in constrained.strategy.grid():
        assert combo["fast"] < combo["slow"]
        assert combo["slow"] >= 2 * combo["fast"]
    toml = load_experiment(REPO / "examples/experiments/regime_ma_cross_ray.toml")
    assert toml.strategy is not None
    dims = toml.strategy.space.dimensions
    assert dims["atr_ratio"].values() == (0.6, 0.7, 0.8, 0.9, 1.0)
    assert isinstance(dims["trend_period"], Fixed)
    assert isinstance(dims["atr_stop"], Logspace)
    assert toml.executor.kind == "ray"
    assert toml.executor.address == "auto"
    assert toml.store_url().startswith("postgresql+psycopg://")


def test_yaml_and_toml_give_the_same_config(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, MINIMAL_YAML, "a.yaml"))
    b = load_experiment(write(tmp_path, MINIMAL_TOML, "b.toml"))
    dump_a, dump_b = a.model_dump(exclude={"source"}), b.model_dump(exclude={"source"})
    assert dump_a == dump_b
    assert a.data.symbols == ("BTCUSDT",)
    assert a.data.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert a.strategy is not None
    assert isinstance(a.strategy.space.dimensions["fast"], Range)
    assert len(a.strategy.grid()) == 64  # every fast < every slow
    # relative locations are resolved against the file's folder
    assert a.data.catalog == str((tmp_path / "cat").resolve())
    assert a.outputs.results_dir == str((tmp_path / "results").resolve())
    assert a.store_url() == f"sqlite:///{tmp_path.resolve() / 'results' / 'results.db'}"


def test_param_forms(tmp_path: Path) -> None:
    text = MINIMAL_YAML.replace(
        "    fast: {start: 5, stop: 40, step: 5}\n    slow: {start: 50, stop: 120, step: 10}\n",
        "    fast: [5, 10]\n    slow: {values: [50, 60]}\n    kind: ema\n"
        "    w: {start: 0.0, stop: 1.0, num: 3}\n"
        "    x: {kind: logspace, start: 1, stop: 100, num: 3}\n"
        "    y: {value: 7}\n",
    )
    config = load_experiment(write(tmp_path, text))
    assert config.strategy is not None
    dims = config.strategy.space.dimensions
    assert dims["fast"] == Values((5, 10))
    assert dims["slow"] == Values((50, 60))
    assert dims["kind"] == Fixed("ema")
    assert dims["w"].values() == (0.0, 0.5, 1.0)
    assert dims["x"].values()[-1] == 100.0
    assert dims["y"] == Fixed(7)
    assert list(dims) == ["fast", "slow", "kind", "w", "x", "y"]  # file order kept


def test_misspelt_param_key_names_path_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_YAML.replace("step: 5}", "stp: 5}"))
    message = error_of(path)
    assert "unknown key 'stp' at strategy.params.fast — did you mean 'step'?" in message


def test_bad_step_names_the_full_key_path(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("step: 5}", "step: five}")))
    assert "strategy.params.fast.step: expected a number for step, got 'five'" in message
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("step: 5}", "step: 0}")))
    assert "strategy.params.fast.step" in message
    assert "must not be 0" in message


def test_unknown_strategy_parameter_suggests_close_match(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL_YAML.replace("    slow:", "    slwo:").replace("[fast < slow]", "[]")
    )
    message = error_of(path, strategy_parameters={"ma_cross": ("fast", "slow")})
    assert message.endswith("unknown key 'slwo' at strategy.params — did you mean 'slow'?")
    message = error_of(path, strategy_parameters=lambda name: None)
    assert "strategy.name: unknown strategy 'ma_cross'" in message
    message = error_of(path, strategy_parameters={"ma_crosss": ("fast", "slow")})
    assert "did you mean 'ma_crosss'?" in message


def test_constraint_with_unknown_name(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("[fast < slow]", "[fast < slwo]")))
    assert "strategy.constraints[0]" in message
    assert "did you mean 'slow'?" in message


def test_impossible_constraints(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("[fast < slow]", "[fast > slow]")))
    assert "no combination satisfies" in message


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = MINIMAL_YAML + "engine: {feez: {maker: 0.1}, cash: -5}\nranking: {metric: sharp}\n"
    message = error_of(write(tmp_path, text))
    assert "3 problems" in message
    assert "unknown key 'feez' at engine — did you mean 'fees'?" in message
    assert "engine.cash:" in message
    assert "greater than 0" in message
    assert "ranking.metric: 'sharp' is not one of" in message
    assert "did you mean 'sharpe'?" in message


def test_section_level_mistakes(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("data:", "dta:")))
    assert "unknown key 'dta' at <top level> — did you mean 'data'?" in message
    assert "missing key 'data' at <top level>" in message
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("end: 2024-02-01", "end: 2023-02-01")))
    assert "must be before end" in message
    message = error_of(write(tmp_path, MINIMAL_YAML.replace("interval: 15m", "interval: 15x")))
    assert "data.interval" in message
    message = error_of(
        write(tmp_path, MINIMAL_YAML + "executor: {kind: local, address: 'ray://h:1'}\n")
    )
    assert "only used by the ray executor" in message
    both = MINIMAL_YAML + "strategies:\n  - name: x\n"
    assert "exactly one of 'strategy'" in error_of(write(tmp_path, both))


def test_unreadable_files(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "name: [unclosed\n"))
    assert "invalid YAML at line" in message
    assert "invalid TOML" in error_of(write(tmp_path, "name = ", "x.toml"))
    assert "expected a table" in error_of(write(tmp_path, "- 1\n- 2\n"))
    assert "use .yaml, .yml or .toml" in error_of(write(tmp_path, "{}", "x.json"))
    assert "does not exist" in error_of(tmp_path / "nope.yaml")


def test_strategies_list_paths(tmp_path: Path) -> None:
    text = MINIMAL_YAML.replace("strategy:\n  name: ma_cross", "strategies:\n- name: ma_cross")
    text = text.replace("\n  params:", "\n  params:")
    config = load_experiment(write(tmp_path, text))
    assert isinstance(config, ExperimentConfig)
    assert config.strategies is not None
    assert len(config.strategies) == 1
    bad = text.replace("step: 5}", "stp: 5}")
    assert "at strategies[0].params.fast" in error_of(write(tmp_path, bad))


def test_parse_experiment_from_a_mapping(tmp_path: Path) -> None:
    config = load_experiment(write(tmp_path, MINIMAL_YAML))
    dumped = config.model_dump(mode="json")
    again = parse_experiment(dumped)
    assert again == config  # a stored config validates back to the same model
    assert dumped == again.model_dump(mode="json")
    no_catalog = {**dumped, "data": {**dumped["data"], "catalog": None}}
    assert parse_experiment(no_catalog).data.catalog is None  # falls back to the settings
    raw = {"name": "x", "data": {"catalog": "c"}, "strategy": {"name": "ma_cross"}}
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw, source="POST /experiments")
    message = str(info.value)
    assert message.startswith("POST /experiments: ")
    assert "missing key 'symbols' at data" in message
    assert raw == {"name": "x", "data": {"catalog": "c"}, "strategy": {"name": "ma_cross"}}
    with pytest.raises(ConfigError, match="expected a table"):
        parse_experiment([1, 2])  # type: ignore[arg-type]


def test_engine_section_matches_the_engine_vocabulary(tmp_path: Path) -> None:
    config = load_experiment(write(tmp_path, MINIMAL_YAML))
    engine = config.engine
    assert engine.sizing.mode == "percent_equity"
    assert engine.sizing.params == {"fraction": 1.0}
    assert engine.slippage.model == "none"
    assert engine.intrabar == "adverse"
    toml = load_experiment(REPO / "examples/experiments/regime_ma_cross_ray.toml")
    assert toml.engine.slippage.params == {"fraction": 0.05, "period": 14}
    assert toml.engine.risk.timeout_bars == 120
    cases = {
        "engine: {slippage: {model: fixed_bps, params: {bsp: 2}}}": (
            "engine.slippage: unknown parameter 'bsp' for slippage model 'fixed_bps'"
            " — did you mean 'bps'?"
        ),
        "engine: {slippage: {model: fixed_bps}}": "needs params ['bps']",
        "engine: {slippage: {model: fixed_bsp}}": "did you mean 'fixed_bps'?",
        "engine: {sizing: {mode: fixed_qty, params: {qty: -1}}}": "must be > 0",
        "engine: {intrabar: adverse_first}": "did you mean 'adverse'?",
        "engine: {fees: {maker: -0.02}}": "engine.fees.maker",
    }
    for text, expected in cases.items():
        assert expected in error_of(write(tmp_path, MINIMAL_YAML + text + "\n")), text
    ok = MINIMAL_YAML + (
        "engine: {sizing: {mode: risk_percent, params: {fraction: 0.01}}, risk: {stop_loss: 0.02},"
        " fees: {maker: -0.0001, taker: 0.0004}}\n"
    )
    assert load_experiment(write(tmp_path, ok)).engine.fees.maker == -0.0001


def test_engine_settings_build_the_engines_backtest(tmp_path: Path) -> None:
    engine = pytest.importorskip("quantforge.engine")
    naive = load_experiment(REPO / "examples/experiments/naive_vs_regime_btc_15m.yaml")
    bt = naive.backtest("BTCUSDT")
    assert isinstance(bt, engine.Backtest)
    assert bt.cash == 10_000
    assert bt.fees == engine.Fees(maker=0.001, taker=0.001)
    assert bt.slippage == engine.slippage.FixedBps(1.0)
    assert bt.sizing == engine.sizing.PercentEquity(1.0)
    assert bt.same_bar_rule == "adverse"
    assert bt.symbol == "BTCUSDT"
    perp = load_experiment(REPO / "examples/experiments/regime_ma_cross_ray.toml").backtest()
    assert perp.instrument.market == "linear_perp"
    assert perp.instrument.leverage == 2.0
    assert perp.slippage == engine.slippage.AtrFraction(0.05, 14)
    assert perp.exit_rules == engine.ExitRules(trailing=0.08, timeout_bars=120)
    assert perp.same_bar_rule == "open_distance"
    spot_levered = load_experiment(
        write(tmp_path, MINIMAL_YAML + "engine: {risk: {max_leverage: 3}}\n")
    )
    with pytest.raises(ConfigError, match="spot"):
        spot_levered.backtest()


def test_loading_a_huge_constrained_space_does_not_walk_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3,000 x 3,000 x 20 = 1.8e8 combinations: counting them at load used to hang the command
    from quantforge.experiment.space import Constraint

    checked = 0
    holds = Constraint.holds

    def counting(self: Constraint, combination: dict[str, object]) -> bool:
        nonlocal checked
        checked += 1
        if checked > 10_000:
            raise AssertionError("loading walks the constrained grid")
        return holds(self, combination)

    monkeypatch.setattr(Constraint, "holds", counting)
    text = """
name: huge
data: {symbols: [BTCUSDT], interval: 15m, start: 2024-01-01, end: 2024-02-01}
strategy:
  name: ma_cross
  params:
    fast: {start: 2, stop: 3001, step: 1}
    slow: {start: 3, stop: 3002, step: 1}
    stop_pct: {start: 0.01, stop: 0.2, step: 0.01}
  constraints: ["slow >= 2 * fast"]
"""
    config = load_experiment(write(tmp_path, text))
    assert config.all_strategies[0].grid().product_size == 3000 * 3000 * 20
    # a space no combination satisfies is still refused at load
    impossible = text.replace("slow >= 2 * fast", "slow < 0")
    monkeypatch.setattr(Constraint, "holds", holds)
    small = impossible.replace("stop: 3001", "stop: 30").replace("stop: 3002", "stop: 31")
    assert "no combination satisfies" in error_of(write(tmp_path, small, "none.yaml"))
