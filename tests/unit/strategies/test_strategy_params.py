"""Typed parameter declarations: conversion, ranges, choices, unknown names, constraints."""

from __future__ import annotations

import math

import pytest

from quantforge.errors import ConfigError
from quantforge.strategies.params import Param, ParamSpace
from quantforge.strategies.registry import STRATEGIES, get

SPACE = ParamSpace(
    (
        Param("fast", int, 10, "fast", minimum=1),
        Param("slow", int, 30, "slow", minimum=2, maximum=500),
        Param("stop_pct", float, 0.01, "stop", minimum=0.0, maximum=0.5),
        Param("ma_type", str, "sma", "type", choices=("sma", "ema")),
        Param("use_filter", bool, True, "switch"),
    ),
    (("slow ({slow}) must be > fast ({fast})", lambda v: v["slow"] > v["fast"]),),
)


def test_defaults_and_overrides() -> None:
    assert SPACE.resolve() == {
        "fast": 10, "slow": 30, "stop_pct": 0.01, "ma_type": "sma", "use_filter": True,
    }  # fmt: skip
    got = SPACE.resolve({"fast": 5, "stop_pct": 0, "slow": 40.0, "use_filter": False})
    assert got["fast"] == 5
    assert got["stop_pct"] == 0.0
    assert got["use_filter"] is False
    assert type(got["slow"]) is int
    assert type(got["stop_pct"]) is float


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"fast": 0}, "'fast' = 0 is invalid; allowed: int >= 1"),
        ({"slow": 501}, "allowed: int >= 2 and <= 500"),
        ({"stop_pct": 0.6}, "'stop_pct' = 0.6 is invalid; allowed: float >= 0 and <= 0.5"),
        ({"stop_pct": math.nan}, "'stop_pct'"),
        ({"fast": 2.5}, "'fast' = 2.5"),
        ({"fast": True}, "'fast' = True"),
        ({"fast": "10"}, "'fast' = '10'"),
        ({"use_filter": 1}, "allowed: true or false"),
        ({"ma_type": "emma"}, "allowed: one of sma, ema — did you mean 'ema'?"),
        ({"fast": 40}, "slow (30) must be > fast (40)"),
    ],
)
def test_bad_values_name_the_parameter_and_range(values: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        SPACE.resolve(values, owner="demo")
    assert needle in str(info.value)
    assert str(info.value).startswith("demo: ")


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ConfigError, match=r"parameter 'slwo' for demo; did you mean 'slow'"):
        SPACE.resolve({"slwo": 3}, owner="demo")
    with pytest.raises(ConfigError, match=r"demo takes: fast, slow, stop_pct"):
        SPACE.resolve({"zzzz": 3}, owner="demo")


def test_a_default_outside_its_own_range_is_rejected() -> None:
    with pytest.raises(ConfigError, match="'x' = 0"):
        Param("x", int, 0, "x", minimum=1)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_builtin_validates_its_defaults_and_documents_params(name: str) -> None:
    d = get(name)
    assert d.resolve() == d.space.defaults
    assert all(p.doc for p in d.space.params)
    assert "Rules" in d.rules or "rules" in d.rules
    assert d.summary


def test_builtin_errors_are_specific() -> None:
    with pytest.raises(ConfigError, match=r"ma_cross: slow \(10\) must be > fast \(10\)"):
        get("ma_cross").resolve({"fast": 10, "slow": 10})
    with pytest.raises(ConfigError, match=r"unknown parameter 'stop' for ma_cross; did you mean"):
        get("ma_cross").resolve({"stop": 0.02})
    with pytest.raises(ConfigError, match=r"rsi_min \(80.0\) must be <= rsi_max \(75.0\)"):
        get("regime_ma_cross").resolve({"rsi_min": 80})
    with pytest.raises(ConfigError, match="enable at least one entry tier"):
        get("ema_rsi_atr").resolve({"tier1": False, "tier2": False, "tier3": False,
                                    "tier4": False})  # fmt: skip


def test_exclusive_minimum() -> None:
    p = Param("x", float, 0.5, "x", minimum=0.0, exclusive_minimum=True)
    assert p.allowed == "float > 0"
    with pytest.raises(ConfigError, match=r"'x' = 0\.0 is invalid; allowed: float > 0"):
        p.validate(0.0)
