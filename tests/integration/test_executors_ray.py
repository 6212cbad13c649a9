"""The Ray executor against a real local Ray instance (2 CPUs), same contract as the local pool."""

from __future__ import annotations

import collections
import os
import platform
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'quantforge[ray]')")

from quantforge.executors.base import Executor, TaskStatus  # noqa: E402
from quantforge.executors.ray import RayExecutor  # noqa: E402

# Ray workers cannot import this test module by name; ship its functions by value instead.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def cube(x: int) -> int:
    return x**3


def fail_on_three(x: int) -> int:
    if x % 3 == 0:
        raise RuntimeError(f"task {x} refuses")
    return x


def row_sum(row: int, shared: dict[str, Any]) -> tuple[float, bool, int]:
    array = shared["bars"]
    return float(array[row].sum()), bool(array.flags.writeable), os.getpid()


def allocator_tuned(_: int) -> bool:
    from quantforge.executors import _allocator

    return bool(_allocator._done and _allocator._done[0])


def kill_on(task: tuple[int, bool]) -> int:
    index, kill = task
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return index


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    ex = RayExecutor(num_cpus=2, chunk_size=4, init_kwargs={"log_to_driver": False})
    try:
        yield ex
    finally:
        ex.close()
    assert not ray.is_initialized()


def test_results_errors_and_protocol(executor: RayExecutor) -> None:
    assert isinstance(executor, Executor)
    results = {r.index: r for r in executor.map(cube, range(40))}
    assert sorted(results) == list(range(40))
    assert all(r.ok and r.value == r.task**3 for r in results.values())
    failures = {r.index: r for r in executor.map(fail_on_three, range(12))}
    for i, r in failures.items():
        if i % 3 == 0:
            assert r.status is TaskStatus.ERROR
            assert r.error == f"RuntimeError: task {i} refuses"
            assert "fail_on_three" in (r.traceback or "")
        else:
            assert r.value == i


def test_shared_payload_from_the_object_store(executor: RayExecutor) -> None:
    payload = {"bars": np.random.default_rng(5).normal(size=(64, 1000))}
    results = list(executor.map(row_sum, range(64), shared=payload))
    assert len(results) == 64
    pids = collections.Counter(r.value[2] for r in results)
    assert sum(pids.values()) == 64
    for r in results:
        assert r.value[0] == pytest.approx(payload["bars"][r.task].sum(), rel=1e-12)
        assert r.value[1] is False  # zero-copy views of the object store are read-only


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the allocator settings are glibc's (mallopt); elsewhere they are a no-op",
)
def test_workers_keep_freed_memory(executor: RayExecutor) -> None:
    results = list(executor.map(allocator_tuned, range(8)))
    assert [r.value for r in results] == [True] * 8


def test_killed_worker_costs_only_its_chunk(executor: RayExecutor) -> None:
    specs = [(i, i == 6) for i in range(24)]
    results = list(executor.map(kill_on, specs))
    assert sorted(r.index for r in results) == list(range(24))
    lost = sorted(r.index for r in results if r.status is TaskStatus.LOST)
    assert lost == [4, 5, 6, 7]  # the chunk (size 4) holding task 6, nothing else
    assert all(r.value == r.index for r in results if r.ok)
