"""Shared fixtures: the real data folder (skipped with a reason when absent), a seeded RNG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]

# CI runs property tests derandomized (same examples every run, so a landing never depends on
# luck); locally each run explores new examples. HYPOTHESIS_PROFILE overrides either choice.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _shared_data_dir() -> Path | None:
    env = os.environ.get("QUANTFORGE_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "MANIFEST.md").is_file():
            return path
    return None


SHARED_DATA = _shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data (real market data); skip the test when it is not there."""
    if SHARED_DATA is None:
        pytest.skip(
            "real market data not found: ../shared/data is absent (set QUANTFORGE_SHARED_DATA "
            "to a folder holding MANIFEST.md to run this test)"
        )
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    """Return a seeded generator so every run sees the same 'random' data."""
    return np.random.default_rng(20261122)


@pytest.fixture
def artifacts_dir() -> Path:
    """Return a folder for test artefacts (screenshots, reports) kept after the run."""
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
