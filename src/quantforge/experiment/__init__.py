"""Experiments: config files, parameter spaces and grids, run keys and data fingerprints."""

from __future__ import annotations

from quantforge.experiment.config import (
    ExperimentConfig,
    StrategySpec,
    load_experiment,
    parse_experiment,
)
from quantforge.experiment.keys import data_fingerprint, run_key
from quantforge.experiment.space import (
    Constraint,
    Fixed,
    Linspace,
    Logspace,
    ParamGrid,
    ParamSpace,
    Range,
    Values,
)

__all__ = [
    "Constraint",
    "ExperimentConfig",
    "Fixed",
    "Linspace",
    "Logspace",
    "ParamGrid",
    "ParamSpace",
    "Range",
    "StrategySpec",
    "Values",
    "data_fingerprint",
    "load_experiment",
    "parse_experiment",
    "run_key",
]
