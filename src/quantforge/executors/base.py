"""The executor interface: map a picklable function over task specs, stream results as they finish.

Executors know nothing about backtests. A caller hands `Executor.map` a module-level function, an
iterable of small picklable task specs and, optionally, one large read-only ``shared`` payload
(e.g. a dict of NumPy arrays: bars and precomputed indicators). The payload reaches each worker
once — never once per task — and the function is called as ``fn(task, shared)`` (or ``fn(task)``
when no payload is given).

Results stream back **unordered**, as chunks of tasks complete; each `TaskResult` carries the
task's position in the input (``index``) and the task itself. A task that raises becomes an
``ERROR`` result with the error text and traceback; a task whose worker died (killed, out of
memory, Ctrl-C) becomes a ``LOST`` result. Either way the other tasks continue, so a caller that
stores results as they stream can always resume by re-submitting the tasks it has no result for.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

log = logging.getLogger(__name__)

__all__ = [
    "Executor",
    "TaskResult",
    "TaskStatus",
    "auto_chunk_size",
    "run_chunk",
]

T = TypeVar("T")
R = TypeVar("R")


class TaskStatus(enum.StrEnum):
    """What became of a task."""

    OK = "ok"
    ERROR = "error"  # the function raised; error text and traceback are kept
    LOST = "lost"  # the worker died (killed, crashed) or the run was interrupted


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The outcome of one task.

    Attributes
    ----------
    index
        Position of the task in the iterable given to `Executor.map`.
    task
        The task spec itself.
    status
        `TaskStatus`.
    value
        The function's return value (None unless OK).
    error
        ``"ExcType: message"`` for ERROR/LOST results.
    traceback
        The formatted traceback of an ERROR result (None otherwise).
    duration_s
        Wall time of the call in the worker (0.0 for LOST).
    worker
        Where it ran, e.g. ``"pid:4242"`` or a Ray node id.
    """

    index: int
    task: Any
    status: TaskStatus
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        """Return True when the task returned normally."""
        return self.status is TaskStatus.OK


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over task specs on some pool of workers (local processes, a Ray cluster)."""

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Iterable[Any],
        *,
        shared: Any = None,
    ) -> Iterator[TaskResult]:
        """Yield one `TaskResult` per task, in completion order (unordered).

        ``tasks`` is consumed lazily, with a bounded number of chunks in flight, so memory stays
        flat however many tasks there are.
        """
        ...

    def close(self) -> None:
        """Release workers and any cluster connection this executor opened."""
        ...


# Raw result as it crosses the process boundary: the parent re-attaches the task it kept.
RawResult = tuple[int, str, Any, str | None, str | None, float, str]


def run_chunk(
    fn: Callable[..., Any],
    shared: Any,
    has_shared: bool,
    chunk: Sequence[tuple[int, Any]],
    worker: str,
) -> list[RawResult]:
    """Run ``fn`` over one chunk of ``(index, task)`` pairs inside a worker; never raises.

    Used by every executor backend; only KeyboardInterrupt (and other non-`Exception` signals
    of the interpreter) propagates and costs the chunk.
    """
    out: list[RawResult] = []
    for index, task in chunk:
        start = time.perf_counter()
        try:
            value = fn(task, shared) if has_shared else fn(task)
        except (Exception, SystemExit) as e:  # sys.exit() in a task fails the task, not the worker
            out.append(
                (
                    index,
                    TaskStatus.ERROR.value,
                    None,
                    f"{type(e).__name__}: {e}",
                    traceback.format_exc(),
                    time.perf_counter() - start,
                    worker,
                )
            )
        else:
            out.append(
                (index, TaskStatus.OK.value, value, None, None, time.perf_counter() - start, worker)
            )
    return out


def to_results(raw: Sequence[RawResult], tasks: dict[int, Any]) -> list[TaskResult]:
    """Turn raw worker tuples into `TaskResult` objects, re-attaching the tasks."""
    return [
        TaskResult(
            index=index,
            task=tasks[index],
            status=TaskStatus(status),
            value=value,
            error=error,
            traceback=trace,
            duration_s=duration,
            worker=worker,
        )
        for index, status, value, error, trace, duration, worker in raw
    ]


def lost(chunk: Sequence[tuple[int, Any]], reason: str) -> list[TaskResult]:
    """Return LOST results for every task of a chunk whose worker died."""
    return [
        TaskResult(index=index, task=task, status=TaskStatus.LOST, error=reason)
        for index, task in chunk
    ]


def auto_chunk_size(n_tasks: int | None, workers: int) -> int:
    """Pick tasks per worker call: about 4 chunks per worker, between 1 and 64 tasks each."""
    if n_tasks is None:
        return 8
    return max(1, min(64, math.ceil(n_tasks / (4 * max(1, workers)))))


def task_count(tasks: Iterable[Any]) -> int | None:
    """Return ``len(tasks)`` when the iterable knows it, else None (never consumes it)."""
    try:
        return len(tasks)  # type: ignore[arg-type]
    except TypeError:
        return None


def default_workers() -> int:
    """Return the CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def chunked(tasks: Iterable[Any], size: int, start: int = 0) -> Iterator[list[tuple[int, Any]]]:
    """Yield lists of ``(index, task)`` of at most ``size`` items, lazily."""
    chunk: list[tuple[int, Any]] = []
    for index, task in enumerate(tasks, start=start):
        chunk.append((index, task))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
