"""The local process-pool executor: results, errors, the shared payload, dead workers, resume."""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.unit.executors import executor_tasks as tasks  # workers import it by this name

from quantforge.errors import ConfigError, ExecutionBackendError
from quantforge.executors.base import (
    Executor,
    TaskStatus,
    auto_chunk_size,
    chunked,
)
from quantforge.executors.local import LocalExecutor, read_shared, write_shared


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2, chunk_size=4) as ex:
        yield ex


def shared_files() -> set[str]:
    folder = (
        Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(os.environ.get("TMPDIR", "/tmp"))
    )
    return {p.name for p in folder.glob("quantforge-shared-*.bin")}


def test_satisfies_the_protocol(executor: LocalExecutor) -> None:
    assert isinstance(executor, Executor)


def test_results_cover_every_task(executor: LocalExecutor) -> None:
    results = list(executor.map(tasks.square, range(50)))
    assert sorted(r.index for r in results) == list(range(50))
    for r in results:
        assert r.ok
        assert r.value == r.task**2
        assert r.worker.startswith("pid:")
        assert r.duration_s >= 0.0


def test_a_lazy_generator_is_consumed(executor: LocalExecutor) -> None:
    pulled = []

    def gen() -> Iterator[int]:
        for i in range(30):
            pulled.append(i)
            yield i

    stream = executor.map(tasks.square, gen())
    first = next(stream)
    # bounded in flight: 2 workers x 2 chunks x 4 tasks, not the whole iterable
    assert len(pulled) <= 2 * 2 * 4 + 4
    rest = list(stream)
    assert sorted(r.value for r in [first, *rest]) == sorted(i * i for i in range(30))


def test_failures_are_results_and_the_rest_continue(executor: LocalExecutor) -> None:
    results = {r.index: r for r in executor.map(tasks.fail_on_odd, range(20))}
    assert len(results) == 20
    for i, r in results.items():
        if i % 2:
            assert r.status is TaskStatus.ERROR
            assert r.error == f"ValueError: odd task {i}"
            assert r.traceback is not None
            assert "fail_on_odd" in r.traceback
            assert r.value is None
        else:
            assert r.ok
            assert r.value == i


def test_shared_payload_reaches_each_worker_once_zero_copy(executor: LocalExecutor) -> None:
    rng = np.random.default_rng(3)
    payload = {"bars": rng.normal(size=(400, 256)), "meta": {"symbol": "BTCUSDT"}}
    before = shared_files()
    results = list(
        executor.map(tasks.shared_sum, [("bars", i) for i in range(400)], shared=payload)
    )
    assert len(results) == 400
    ids_per_pid = collections.defaultdict(set)
    for r in results:
        total, writeable, array_id, pid = r.value
        assert total == pytest.approx(payload["bars"][r.task[1]].sum(), rel=1e-12)
        assert writeable is False
        ids_per_pid[pid].add(array_id)
    # one rebuilt payload per worker process, shared by all that worker's tasks
    assert all(len(ids) == 1 for ids in ids_per_pid.values())
    views = list(executor.map(tasks.base_of, range(4), shared=payload))
    assert all(r.value is True for r in views)
    assert shared_files() == before  # the payload file is removed afterwards


def test_payload_file_roundtrip(tmp_path: Path) -> None:
    matrix = np.arange(12.0).reshape(3, 4)
    obj = {"a": matrix, "t": matrix.T, "nested": [np.arange(5, dtype=np.int32), "x"], "n": 3}
    path = write_shared(obj, tmp_path)
    back = read_shared(path)
    np.testing.assert_array_equal(back["a"], matrix)
    np.testing.assert_array_equal(back["t"], matrix.T)
    np.testing.assert_array_equal(back["nested"][0], np.arange(5, dtype=np.int32))
    assert back["nested"][1] == "x"
    assert back["n"] == 3
    assert not back["a"].flags.writeable
    assert back["a"].ctypes.data % 64 == 0  # aligned inside the mapping
    with pytest.raises(ValueError, match="read-only"):
        back["a"][0, 0] = 1.0


def test_killed_worker_loses_only_tasks_in_flight_and_caller_resumes() -> None:
    n, kill_at = 60, 9
    specs = [(i, i == kill_at) for i in range(n)]
    with LocalExecutor(workers=2, chunk_size=3) as ex:
        results = list(ex.map(tasks.kill_self_on, specs))
        assert sorted(r.index for r in results) == list(range(n))  # every task accounted for
        lost = [r for r in results if r.status is TaskStatus.LOST]
        assert kill_at in {r.index for r in lost}
        assert len(lost) <= 2 * 2 * 3  # at most the chunks in flight (2 per worker)
        assert all("worker process died" in (r.error or "") for r in lost)
        assert all(r.value == r.index for r in results if r.ok)
        # resume: re-run only what has no result, now without the fatal flag
        retry = [(r.index, False) for r in lost]
        again = list(ex.map(tasks.kill_self_on, retry))
        assert all(r.ok for r in again)
        done = {r.index for r in results if r.ok} | {r.value for r in again}
        assert done == set(range(n))


def test_workers_that_keep_dying_raise_after_max_restarts() -> None:
    with LocalExecutor(workers=1, chunk_size=1, max_restarts=0) as ex:
        stream = ex.map(tasks.kill_self_on, [(0, True), (1, False), (2, False)])
        with pytest.raises(ExecutionBackendError, match="died 1 times"):
            list(stream)


def test_closing_the_stream_early_cleans_up(executor: LocalExecutor) -> None:
    before = shared_files()
    stream = executor.map(tasks.shared_sum, [("a", 0)] * 100, shared={"a": np.ones((2, 2))})
    next(stream)
    stream.close()
    assert shared_files() == before
    assert [r.value for r in executor.map(tasks.square, [7])] == [49]  # still usable


def test_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="workers"):
        LocalExecutor(workers=0)
    with pytest.raises(ConfigError, match="chunk_size"):
        LocalExecutor(chunk_size=0)
    with pytest.raises(ConfigError, match="start method"):
        LocalExecutor(start_method="teleport")


def test_chunking_helpers() -> None:
    assert auto_chunk_size(None, 4) == 8
    assert auto_chunk_size(10, 4) == 1
    assert auto_chunk_size(1000, 2) == 64
    assert auto_chunk_size(200, 2) == 25
    assert auto_chunk_size(100_000, 8) == 64
    chunks = list(chunked(iter("abcdefg"), 3))
    assert chunks == [
        [(0, "a"), (1, "b"), (2, "c")],
        [(3, "d"), (4, "e"), (5, "f")],
        [(6, "g")],
    ]


def test_interrupt_stops_workers_and_cleans_up() -> None:
    # Ctrl-C raises KeyboardInterrupt wherever the main thread is; raising it from the task
    # iterable reaches the same clean-up path deterministically.
    def specs() -> Iterator[int]:
        yield from range(8)
        raise KeyboardInterrupt

    before = shared_files()
    with LocalExecutor(workers=2, chunk_size=2) as ex:
        workers = {r.value for r in ex.map(tasks.pid_of, range(40))}
        stream = ex.map(tasks.pid_of, specs(), shared={"x": np.zeros(3)})
        with pytest.raises(KeyboardInterrupt):
            list(stream)
        assert shared_files() == before
        for pid in workers:  # the pool's workers were stopped, not left running
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert [r.value for r in ex.map(tasks.square, [3])] == [9]  # a fresh pool serves again


def test_unpicklable_inputs_fail_fast_and_sys_exit_fails_one_task(
    executor: LocalExecutor,
) -> None:
    with pytest.raises(ExecutionBackendError, match="module level"):
        list(executor.map(lambda x: x, [1]))
    with pytest.raises(ExecutionBackendError, match="shared payload cannot be pickled"):
        list(executor.map(tasks.square, [1], shared={"f": lambda: 1}))
    results = {r.index: r for r in executor.map(tasks.exit_on_two, range(5))}
    assert results[2].status is TaskStatus.ERROR
    assert results[2].error == "SystemExit: 3"
    assert [results[i].value for i in (0, 1, 3, 4)] == [0, 1, 3, 4]
