"""Keep freed large buffers in the process heap so the next allocation of that size is not page-faulted anew.

glibc serves big allocations with fresh mmap pages and returns them on free; every new ``a + b`` on a
large array then pays a page fault per 4 KiB, halving elementwise throughput (see docs/benchmarks.md).
Raising the mmap and trim thresholds makes malloc reuse freed blocks, which is what a caching
allocator would do, at the cost of keeping up to the peak heap mapped.
"""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ONE_GIB = 1 << 30


def keep_freed_buffers(limit=_ONE_GIB):
    """Ask glibc to recycle freed blocks up to ``limit`` bytes; returns False where that is not possible."""
    try:
        libc = ctypes.CDLL("libc.so.6")  # find_library would spawn ldconfig: ~50 ms of import time
    except OSError:
        name = ctypes.util.find_library("c")
        if name is None:
            return False
        libc = ctypes.CDLL(name)
    try:
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, limit)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, limit))
    except (OSError, AttributeError):
        return False
