"""The optimize section: profiles, fidelities, stage selection, search-space mapping."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from quantforge.errors import ConfigError
from quantforge.experiment.config import parse_experiment
from quantforge.experiment.optimize import (
    PROFILES,
    OptimizeSpec,
    StageSpec,
    _stage_params,
    _suggest,
    load_optimize_file,
)
from quantforge.experiment.space import Linspace, Logspace, Range, Values

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "experiments"


def _spec():
    return parse_experiment(
        {
            "name": "s",
            "data": {
                "symbols": ["X"],
                "interval": "1h",
                "start": "2024-01-01",
                "end": "2024-02-01",
            },
            "strategy": {
                "name": "ma_cross",
                "params": {
                    "fast": {"start": 5, "stop": 20, "step": 5},
                    "slow": [40, 80],
                    "stop_pct": {"start": 0.01, "stop": 0.05, "num": 5},
                    "ma_type": ["sma", "ema"],
                },
            },
        }
    ).all_strategies[0]


def test_profiles_and_overrides() -> None:
    assert OptimizeSpec(profile="fast").budget == 40
    assert OptimizeSpec(profile="balanced").budget == 200
    assert OptimizeSpec(profile="thorough").budget == 1000
    assert OptimizeSpec(profile="thorough", n_trials=7).budget == 7
    assert OptimizeSpec().fractions == PROFILES["balanced"]["fidelities"]
    with pytest.raises(ValueError, match="last fidelity"):
        OptimizeSpec(fidelities=(0.5, 0.9))
    with pytest.raises(ValueError, match="increasing"):
        OptimizeSpec(fidelities=(0.6, 0.3, 1.0))
    with pytest.raises(ValueError, match="either params or select"):
        StageSpec(name="x")


def test_stage_selection_by_kind_and_name() -> None:
    spec = _spec()
    assert _stage_params(spec, StageSpec(name="i", select="integers")) == ("fast", "slow")
    assert _stage_params(spec, StageSpec(name="c", select="continuous")) == ("stop_pct",)
    assert _stage_params(spec, StageSpec(name="t", select="categorical")) == ("ma_type",)
    assert _stage_params(spec, StageSpec(name="n", params=("slow",))) == ("slow",)
    with pytest.raises(ConfigError, match="unknown parameter"):
        _stage_params(spec, StageSpec(name="bad", params=("slwo",)))


def test_dimensions_map_to_optuna_distributions() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    assert _suggest(trial, "a", Range(5, 20, 5)) in (5, 10, 15, 20)
    x = _suggest(trial, "b", Linspace(0.5, 0.1, 5))  # downward bounds are fine
    assert 0.1 <= x <= 0.5
    y = _suggest(trial, "c", Logspace(1e-4, 1e-2, 3))
    assert 1e-4 <= y <= 1e-2
    assert _suggest(trial, "d", Values(("sma", "ema"))) in ("sma", "ema")
    dists = trial.distributions
    assert isinstance(dists["a"], optuna.distributions.IntDistribution)
    assert dists["a"].step == 5
    assert dists["c"].log is True
    assert isinstance(dists["d"], optuna.distributions.CategoricalDistribution)


@pytest.mark.parametrize(
    "name", ["optimize_ma_cross_btc_15m.yaml", "optimize_ema_rsi_atr_staged.yaml"]
)
def test_example_files_load(name: str) -> None:
    loaded = load_optimize_file(EXAMPLES / name)
    assert loaded.optimize.stages
    raw = yaml.safe_load((EXAMPLES / name).read_text())
    assert loaded.config.name == raw["name"]


def test_bad_optimize_section(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    doc = {
        "name": "e",
        "data": {"symbols": ["X"], "interval": "1h", "start": "2024-01-01", "end": "2024-02-01"},
        "strategy": {"name": "ma_cross"},
        "optimize": {"sampler": "annealing"},
    }
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="optimize section"):
        load_optimize_file(path)
