"""Workers keep freed memory for reuse (glibc's mallopt), instead of faulting it in per task."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from tests.unit.executors import executor_tasks as tasks  # workers import it by this name

from quantforge.executors import _allocator
from quantforge.executors.local import LocalExecutor

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the allocator settings are glibc's (mallopt); elsewhere they are a no-op",
)

SIZE = 8 * 1024 * 1024  # over glibc's default mmap threshold (128 KiB), under ours (32 MiB)


def _in_fresh_process(tune: bool) -> tuple[bool, int]:
    code = (
        "from tests.unit.executors import executor_tasks as t\n"
        "from quantforge.executors._allocator import keep_freed_memory\n"
        f"{'keep_freed_memory()' if tune else ''}\n"
        f"print(*t.heap_keeps_freed({SIZE}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@glibc
def test_settings_take_effect_once_per_process() -> None:
    assert _allocator.keep_freed_memory() is True
    assert _allocator.keep_freed_memory() is True  # idempotent
    assert _allocator._done == [True]


@glibc
def test_a_freed_array_stays_in_the_heap_only_when_tuned() -> None:
    tuned, free_tuned = _in_fresh_process(tune=True)
    untuned, free_default = _in_fresh_process(tune=False)
    assert tuned
    assert not untuned
    assert free_tuned >= SIZE  # kept: the next array of that size reuses these pages
    assert free_default < SIZE  # glibc's default: mmap'ed, then unmapped on free


@glibc
def test_local_pool_workers_are_tuned() -> None:
    with LocalExecutor(workers=2, chunk_size=1) as executor:
        results = list(executor.map(tasks.heap_keeps_freed, [SIZE] * 4))
    assert all(r.ok for r in results)
    for r in results:
        tuned, free = r.value
        assert tuned
        assert free >= SIZE
