from __future__ import annotations

import pytest

from quantforge.data.schema import interval_every, interval_ms, normalize_interval
from quantforge.errors import ConfigError


@pytest.mark.parametrize(
    ("interval", "ms"),
    [("1s", 1_000), ("1m", 60_000), ("15m", 900_000), ("4h", 14_400_000), ("1d", 86_400_000)],
)
def test_interval_ms(interval: str, ms: int) -> None:
    assert interval_ms(interval) == ms


def test_month_interval_has_no_fixed_length() -> None:
    assert normalize_interval("1mo") == "1M"
    assert interval_every("1M") == "1mo"
    with pytest.raises(ConfigError, match="months vary"):
        interval_ms("1M")


@pytest.mark.parametrize("bad", ["", "15", "0m", "15x", "m15"])
def test_bad_interval_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid interval"):
        normalize_interval(bad)
