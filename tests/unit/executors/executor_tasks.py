"""Module-level task functions for executor tests (workers import them by name)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np


def square(x: int) -> int:
    return x * x


def fail_on_odd(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd task {x}")
    return x


def shared_sum(task: tuple[str, int], shared: dict[str, Any]) -> tuple[float, bool, int, int]:
    """Return (sum of a row slice, whether the array is writeable, payload id, pid)."""
    name, row = task
    array = shared[name]
    return float(array[row].sum()), bool(array.flags.writeable), id(array), os.getpid()


def kill_self_on(task: tuple[int, int]) -> int:
    """Kill the worker process when the task says so (simulates an OOM kill or a segfault)."""
    index, kill = task
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return index


def pid_of(task: int) -> int:
    time.sleep(0.005)
    return os.getpid()


def base_of(task: int, shared: dict[str, Any]) -> bool:
    """Return whether the shared array is a view over foreign memory (not an owned copy)."""
    array = shared["bars"]
    return array.base is not None and not array.flags.owndata and isinstance(array, np.ndarray)


def exit_on_two(x: int) -> int:
    if x == 2:
        raise SystemExit(3)
    return x


def heap_keeps_freed(size: int) -> tuple[bool, int]:
    """Free a ``size``-byte array and return (this worker was tuned, free bytes left in the heap).

    Reads glibc's ``mallinfo2`` (glibc >= 2.33): with `keep_freed_memory` in effect the freed
    array stays in the heap as free space; with glibc's defaults it is unmapped again.
    """
    import ctypes

    from quantforge.executors import _allocator

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )]  # fmt: skip

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    array = np.ones(size // 8)
    del array
    return bool(_allocator._done and _allocator._done[0]), int(libc.mallinfo2().fordblks)
