from __future__ import annotations

import quantforge


def test_all_is_sorted_and_public() -> None:
    names = [n for n in quantforge.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in quantforge.__all__:
        assert hasattr(quantforge, name), name
