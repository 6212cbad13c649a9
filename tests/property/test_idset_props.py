"""`IdSet` (the run-file writer's bitmap of written run ids) behaves like a Python set."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quantforge.experiment.outputs import IdSet

ids = st.lists(st.integers(min_value=-50, max_value=5_000), max_size=300)


@given(ids, st.lists(st.integers(min_value=-100, max_value=5_100), max_size=200))
def test_membership_matches_a_set(added: list[int], probes: list[int]) -> None:
    bitmap, oracle = IdSet(), set()
    for value in added:
        bitmap.add(value)
        oracle.add(value)
        assert value in bitmap
    for value in [*probes, *added, *(v + 1 for v in added), *(v - 1 for v in added)]:
        assert (value in bitmap) == (value in oracle), value


def test_empty_and_foreign_values() -> None:
    bitmap = IdSet()
    assert 0 not in bitmap
    bitmap.add(10)
    assert "10" not in bitmap
    assert 10 in bitmap
    assert 9 not in bitmap
    assert 11 not in bitmap
