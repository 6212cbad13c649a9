"""The Ray executor: the same `Executor` contract on a Ray cluster (or a local Ray instance).

The shared payload is stored once with ``ray.put``; every chunk call receives its ObjectRef, which
Ray resolves in the worker from the node's object store (NumPy arrays arrive zero-copy, read-only).
The function is stored once too. Chunks run as Ray tasks with ``max_retries=0`` by default, so a
killed worker costs exactly the chunk it was running: those tasks come back LOST and the rest
continue. Ray must be installed (``pip install 'quantforge[ray]'``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from quantforge.errors import ConfigError, ExecutionBackendError
from quantforge.executors._allocator import keep_freed_memory
from quantforge.executors.base import (
    RawResult,
    TaskResult,
    TaskStatus,
    auto_chunk_size,
    chunked,
    lost,
    run_chunk,
    task_count,
    to_results,
)

log = logging.getLogger(__name__)

__all__ = ["RayExecutor"]


def _ray_chunk(
    fn: Callable[..., Any], shared: Any, has_shared: bool, chunk: list[tuple[int, Any]]
) -> list[RawResult]:
    keep_freed_memory()  # once per worker process
    return run_chunk(fn, shared, has_shared, chunk, f"ray:{os.uname().nodename}:{os.getpid()}")


class RayExecutor:
    """Run tasks as Ray tasks, in chunks, on a cluster or a Ray instance started here.

    Parameters
    ----------
    address
        Cluster address (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None starts a
        local Ray instance (or reuses one this process already initialised).
    num_cpus
        CPUs for a local instance (ignored when connecting to a cluster).
    chunk_size
        Tasks per Ray task; default about four chunks per cluster CPU (1..64 tasks).
    max_in_flight
        Chunks submitted but not finished; default twice the cluster's CPUs.
    max_retries
        Ray retries of a chunk whose worker died; 0 (default) reports those tasks LOST at once.
    init_kwargs
        Extra keyword arguments for ``ray.init`` (e.g. ``runtime_env``).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        chunk_size: int | None = None,
        max_in_flight: int | None = None,
        max_retries: int = 0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1; got {chunk_size}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be >= 1; got {max_in_flight}")
        if num_cpus is not None and num_cpus < 1:
            raise ConfigError(f"num_cpus must be >= 1; got {num_cpus}")
        self.address = address
        self.num_cpus = num_cpus
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self.max_retries = max_retries
        self.init_kwargs = dict(init_kwargs or {})
        self._started = False
        self._remote: Any = None

    def __enter__(self) -> RayExecutor:
        """Return self; Ray is initialised on the first `map`."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close (shut Ray down if this executor started it)."""
        self.close()

    def _ray(self) -> Any:
        try:
            import ray  # optional dependency, imported on use
        except ImportError as e:
            raise ExecutionBackendError(
                "the ray executor needs Ray: pip install 'quantforge[ray]'"
            ) from e
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": True,
                "configure_logging": False,
                **self.init_kwargs,
            }
            if self.address is None and self.num_cpus is not None:
                kwargs["num_cpus"] = self.num_cpus
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutionBackendError(
                    f"cannot start or reach Ray at {self.address or 'a new local instance'}: {e}"
                ) from e
            self._started = True
            log.info("ray initialised at %s", self.address or "a new local instance")
        if self._remote is None:
            self._remote = ray.remote(_ray_chunk).options(max_retries=self.max_retries)
        return ray

    def close(self) -> None:
        """Shut Ray down if this executor initialised it."""
        if self._started:
            import ray  # optional dependency

            ray.shutdown()
            self._started = False
            self._remote = None

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Iterable[Any],
        *,
        shared: Any = None,
    ) -> Iterator[TaskResult]:
        """Yield a `TaskResult` per task as chunks complete (unordered; see ``index``).

        Same contract as `LocalExecutor.map`: ``fn(task, shared)`` (or ``fn(task)``), the shared
        payload delivered once (``ray.put``), tasks consumed lazily, errors and lost workers
        reported per task. ``fn`` must be importable on the workers (or pickled by value).
        """
        ray = self._ray()
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = self.chunk_size or auto_chunk_size(task_count(tasks), cpus)
        limit = self.max_in_flight or 2 * cpus
        fn_ref = ray.put(fn)
        shared_ref = ray.put(shared) if shared is not None else None
        in_flight: dict[Any, list[tuple[int, Any]]] = {}
        chunks = chunked(tasks, size)
        finished = False
        try:
            exhausted = False
            while True:
                while not exhausted and len(in_flight) < limit:
                    chunk = next(chunks, None)
                    if chunk is None:
                        exhausted = True
                        break
                    ref = self._remote.remote(fn_ref, shared_ref, shared is not None, chunk)
                    in_flight[ref] = chunk
                if not in_flight:
                    break
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    yield from self._collect(ray, ref, in_flight.pop(ref))
            finished = True
        finally:
            if not finished:
                for ref in in_flight:
                    ray.cancel(ref, force=True)
            del fn_ref, shared_ref

    @staticmethod
    def _collect(ray: Any, ref: Any, chunk: list[tuple[int, Any]]) -> list[TaskResult]:
        try:
            raw = ray.get(ref)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
            return lost(chunk, f"ray worker died before returning ({type(e).__name__})")
        except ray.exceptions.RayError as e:
            error = f"{type(e).__name__}: {e}"
            return [
                TaskResult(index=i, task=t, status=TaskStatus.ERROR, error=error) for i, t in chunk
            ]
        return to_results(raw, dict(chunk))
