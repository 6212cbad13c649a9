"""The local executor: a process pool on this machine's cores, shared data memory-mapped once.

How the shared payload travels: `LocalExecutor.map` pickles it once with protocol 5, writing every
contiguous buffer (NumPy arrays, Arrow buffers) out of band into one file in ``/dev/shm`` (RAM)
or the temp folder. Each worker maps that file read-only on its first chunk and rebuilds the object
with its arrays as views over the mapping — zero copies, one page-cache copy for all workers, and
never a per-task transfer. Tasks go in chunks (``chunk_size`` tasks per worker call) with a bounded
number of chunks in flight, so the task iterable is consumed lazily and memory stays flat.

Failure handling: a task that raises becomes an ERROR result. A worker that dies (``os.kill``,
out-of-memory killer, segfault) breaks the pool; the chunks that were in flight come back as LOST
results, the pool is restarted and the remaining tasks continue (up to ``max_restarts`` times).
On Ctrl-C the workers (which ignore SIGINT) are terminated, the payload file is removed and
KeyboardInterrupt propagates; results already yielded are unaffected.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import pickle
import signal
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Final

from quantforge.errors import ConfigError, ExecutionBackendError
from quantforge.executors._allocator import keep_freed_memory
from quantforge.executors.base import (
    RawResult,
    TaskResult,
    TaskStatus,
    auto_chunk_size,
    chunked,
    default_workers,
    lost,
    run_chunk,
    task_count,
    to_results,
)

log = logging.getLogger(__name__)

__all__ = ["LocalExecutor", "read_shared", "write_shared"]

_MAGIC: Final = b"QFSHARE1"
_HEADER: Final = struct.Struct("<8sQQ")  # magic, number of buffers, pickle length
_SPAN: Final = struct.Struct("<QQ")  # offset, length of one buffer
_ALIGN: Final = 64

# Worker-side cache: payload path -> rebuilt object. Module state is unavoidable here (it is what
# makes the payload load once per worker); it lives only in pool worker processes, holds one entry
# and is replaced when a map() call with another payload arrives.
_ATTACHED: dict[str, Any] = {}


def _shared_dir() -> Path:
    shm = Path("/dev/shm")  # RAM-backed tmpfs on Linux
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def write_shared(obj: Any, directory: Path | None = None) -> Path:
    """Write ``obj`` as a protocol-5 pickle with out-of-band buffers to a new file; return its path.

    The layout is: header, buffer table, pickle bytes, then each buffer aligned to 64 bytes.
    """
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    table_end = _HEADER.size + _SPAN.size * len(raws)
    position = table_end + len(data)
    spans = []
    for raw in raws:
        position += -position % _ALIGN
        spans.append((position, raw.nbytes))
        position += raw.nbytes
    path = (directory or _shared_dir()) / f"quantforge-shared-{uuid.uuid4().hex}.bin"
    with path.open("wb") as f:
        f.write(_HEADER.pack(_MAGIC, len(raws), len(data)))
        for span in spans:
            f.write(_SPAN.pack(*span))
        f.write(data)
        for (offset, _), raw in zip(spans, raws, strict=True):
            f.write(b"\0" * (offset - f.tell()))
            f.write(raw)
    log.debug("shared payload: %d bytes in %d buffers at %s", position, len(raws), path)
    return path


def read_shared(path: Path) -> Any:
    """Map a file written by `write_shared` read-only and rebuild the object over the mapping."""
    with path.open("rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapping)
    magic, n_buffers, pickle_length = _HEADER.unpack_from(view, 0)
    if magic != _MAGIC:
        raise ExecutionBackendError(f"{path} is not a quantforge shared payload file")
    buffers = []
    for i in range(n_buffers):
        offset, length = _SPAN.unpack_from(view, _HEADER.size + i * _SPAN.size)
        buffers.append(view[offset : offset + length])
    start = _HEADER.size + _SPAN.size * n_buffers
    return pickle.loads(view[start : start + pickle_length], buffers=buffers)


def _attach(path: str) -> Any:
    if path not in _ATTACHED:
        _ATTACHED.clear()
        _ATTACHED[path] = read_shared(Path(path))
    return _ATTACHED[path]


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group; only the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()


def _worker_chunk(
    fn: Callable[..., Any],
    payload: str | None,
    chunk: list[tuple[int, Any]],
) -> list[RawResult]:
    shared = _attach(payload) if payload is not None else None
    return run_chunk(fn, shared, payload is not None, chunk, f"pid:{os.getpid()}")


class LocalExecutor:
    """Run tasks in a pool of worker processes on this machine.

    Parameters
    ----------
    workers
        Number of processes; default all CPUs this process may use.
    chunk_size
        Tasks per worker call; default about four chunks per worker (1..64 tasks).
    start_method
        ``"forkserver"`` (default where available: workers fork from a clean server process that
        has already imported quantforge, so pools start fast and no threads are inherited),
        ``"spawn"`` (the fallback elsewhere) or ``"fork"`` (unsafe with threaded libraries such
        as Polars).
    max_restarts
        How many times one `map` call may restart a pool broken by a dead worker before it raises
        `ExecutionBackendError`.

    Examples
    --------
    >>> with LocalExecutor(workers=2) as ex:  # doctest: +SKIP
    ...     results = sorted(ex.map(abs, [-1, -2, -3]), key=lambda r: r.index)
    >>> [r.value for r in results]  # doctest: +SKIP
    [1, 2, 3]
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        chunk_size: int | None = None,
        start_method: str | None = None,
        max_restarts: int = 3,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1; got {workers}")
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1; got {chunk_size}")
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "forkserver" if "forkserver" in methods else "spawn"
        if start_method not in methods:
            raise ConfigError(
                f"start method {start_method!r} is not available here; use one of {methods}"
            )
        self.workers = workers if workers is not None else default_workers()
        self.chunk_size = chunk_size
        self.start_method = start_method
        self.max_restarts = max_restarts
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        """Return self; the pool starts on the first `map`."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the pool."""
        self.close()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                # The server imports this module once; every worker forks from it ready to run.
                context.set_forkserver_preload([__name__])  # type: ignore[attr-defined]
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_init_worker
            )
        return self._pool

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public "terminate" before Python 3.14; its process table is
        # the only handle on workers that are still busy with abandoned chunks.
        processes = dict(getattr(pool, "_processes", None) or {})
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes.values():
            if process.is_alive():
                process.terminate()
        for process in processes.values():
            process.join(timeout=5)

    def close(self) -> None:
        """Shut the pool down, waiting for workers to exit."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Iterable[Any],
        *,
        shared: Any = None,
    ) -> Iterator[TaskResult]:
        """Yield a `TaskResult` per task as chunks complete (unordered; see ``index``).

        Parameters
        ----------
        fn
            A picklable (module-level) function, called as ``fn(task, shared)``, or ``fn(task)``
            when ``shared`` is None.
        tasks
            Picklable task specs; consumed lazily.
        shared
            A read-only payload every task reads (e.g. a dict of NumPy arrays), written once to
            a memory-mapped file; arrays arrive in workers as read-only views.

        Raises
        ------
        ExecutionBackendError
            When workers keep dying (more than ``max_restarts`` pool restarts in this call).
        """
        try:
            pickle.dumps(fn)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise ExecutionBackendError(
                f"{fn!r} cannot be sent to worker processes ({e}); "
                "pass a function defined at module level"
            ) from e
        size = self.chunk_size or auto_chunk_size(task_count(tasks), self.workers)
        try:
            payload = write_shared(shared) if shared is not None else None
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise ExecutionBackendError(f"the shared payload cannot be pickled: {e}") from e
        payload_arg = str(payload) if payload is not None else None
        chunks = chunked(tasks, size)
        in_flight: dict[Future[list[RawResult]], list[tuple[int, Any]]] = {}
        limit = 2 * self.workers
        restarts = 0
        finished = False
        try:
            exhausted = False
            while True:
                while not exhausted and len(in_flight) < limit:
                    chunk = next(chunks, None)
                    if chunk is None:
                        exhausted = True
                        break
                    future = self._ensure_pool().submit(_worker_chunk, fn, payload_arg, chunk)
                    in_flight[future] = chunk
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    results, died = self._collect(future, in_flight.pop(future))
                    broken = broken or died
                    yield from results
                if broken:
                    # Every other chunk in flight fails with the pool; collect whatever finished.
                    done, _ = wait(in_flight)
                    for future in done:
                        results, _ = self._collect(future, in_flight.pop(future))
                        yield from results
                    self._kill_pool()
                    restarts += 1
                    if restarts > self.max_restarts:
                        raise ExecutionBackendError(
                            f"worker processes died {restarts} times in one map() call; "
                            "the remaining tasks were not run — look for tasks that crash the "
                            "interpreter or exhaust memory, then resume"
                        )
                    log.warning("a worker process died; restarting the pool (%d)", restarts)
            finished = True
        finally:
            if not finished:
                for future in in_flight:
                    future.cancel()
                self._kill_pool()
            if payload is not None:
                payload.unlink(missing_ok=True)

    @staticmethod
    def _collect(
        future: Future[list[RawResult]], chunk: list[tuple[int, Any]]
    ) -> tuple[list[TaskResult], bool]:
        try:
            raw = future.result()
        except BrokenProcessPool as e:
            reason = f"worker process died before returning ({e})"
            return lost(chunk, reason), True
        except Exception as e:
            # The chunk ran but its results (or fn) could not cross the process boundary.
            error = f"{type(e).__name__}: {e}"
            return [
                TaskResult(index=i, task=t, status=TaskStatus.ERROR, error=error) for i, t in chunk
            ], False
        return to_results(raw, dict(chunk)), False
