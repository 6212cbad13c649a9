"""Keep freed memory in a worker process instead of handing it back to the kernel (glibc only).

A sweep worker allocates and frees the same few arrays per combination (the kernel's state and
records, the equity curve, the metric scratch buffers: ~0.3 MB each at a year of 15m bars). With
glibc's defaults those are either fresh ``mmap`` regions (over the dynamic mmap threshold) or
heap memory trimmed back with ``brk`` as soon as it is freed; either way every combination
faults its pages in again, and on a VM a page fault costs microseconds. Measured on the 2-core
benchmark machine (regime strategy, 2,000 combinations in one process): 3.0–3.9 ms per
combination with the defaults, 1.7–2.2 ms with the settings below. See docs/benchmarks.md.

`keep_freed_memory` sets a fixed mmap threshold (so arrays up to 32 MB come from the heap and are
reused) and a high trim threshold (so the heap top is not given back after every free). The
price is up to ``TRIM_THRESHOLD`` of freed memory kept mapped per worker, which the process would
otherwise return; worker processes are short-lived compared with the machine, and their RSS is
already dominated by the interpreter and libraries. Elsewhere (macOS, musl, Windows) it does
nothing and returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Final

log = logging.getLogger(__name__)

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD: Final = -1
_M_TOP_PAD: Final = -2
_M_MMAP_THRESHOLD: Final = -3

#: allocations below this come from the heap (glibc's upper limit for the setting on 64-bit)
MMAP_THRESHOLD: Final = 32 * 1024 * 1024
#: free memory at the top of the heap is given back only past this much
TRIM_THRESHOLD: Final = 128 * 1024 * 1024
#: extra heap requested from the kernel each time the heap grows
TOP_PAD: Final = 16 * 1024 * 1024

_done: list[bool] = []  # set once per process


def keep_freed_memory() -> bool:
    """Tune glibc's allocator of this process for repeated same-size allocations; once per process.

    Returns True when the settings took effect (Linux with glibc), False otherwise. Never raises:
    a worker that cannot be tuned runs with the defaults, only slower.
    """
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            ok = all(
                mallopt(param, value) == 1
                for param, value in (
                    (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                    (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                    (_M_TOP_PAD, TOP_PAD),
                )
            )
            if not ok:
                log.debug("mallopt refused a setting; the allocator keeps some defaults")
    _done.append(ok)
    return ok
