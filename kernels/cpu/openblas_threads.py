"""Parallel loops on OpenBLAS's own threads, which hold the other cores for a while after every GEMM anyway.

After a threaded call OpenBLAS's workers wait for the next one by spinning (on x86-64 a run of ``nop``s, not
``sched_yield``) for 2**28 cycles, about 0.1 s, before they sleep: in a training step, whose GEMMs are milliseconds
apart, they never sleep. A second thread of ours, such as a Numba pool thread, then only gets the scheduler's
leftover slices of those cores: a GELU over 1024x512 values between two GEMMs took 8.8 ms on two Numba threads
against 3.1 ms on one. OpenBLAS exports ``gotoblas_pthread(n, function, args, stride)``, which runs
``function(args + i * stride)`` for ``i < n`` on its threads (job 0 on the caller) and returns when all are done:
handed the halves of a loop, the spinning worker computes one of them (the same GELU: 1.5 -> 0.8-1.0 ms).

``threads()`` is OpenBLAS's thread count where numpy's OpenBLAS has that entry point, else 1 (the loops then stay on
one thread or on Numba's pool). ``FRAMEWORK_OPENBLAS_LOOPS=0`` switches the hand-off off. A job must not call a
threaded BLAS routine itself: OpenBLAS's workers would be waiting on each other.
"""
import ctypes
import os

__all__ = ["threads", "run", "set_threads", "blas_thread_count"]

_state = {}


def threads():
    """How many jobs ``run`` spreads over at once: OpenBLAS's threads, or 1 where the hand-off is unavailable."""
    count = _state.get("threads")
    if count is None:
        count = _state["threads"] = _find()
    return count


def blas_thread_count():
    """numpy's OpenBLAS's own thread count, or None where it is not found."""
    threads()
    getter = _state.get("get")
    return None if getter is None else getter()


def run(job_address, descriptors):
    """Call the C function ``void job(void *)`` at ``job_address`` on each row of the int64 array ``descriptors``
    (at most ``threads()`` rows), one row per OpenBLAS thread, and return when every call has returned."""
    _state["run"](descriptors.shape[0], job_address, descriptors.ctypes.data, descriptors.strides[0])


def set_threads(count):
    """Ask numpy's OpenBLAS for ``count`` threads (its GEMMs and the loops ``run`` shares out); False where it is
    not found."""
    threads()
    setter = _state.get("set")
    if setter is None:
        return False
    setter(count)
    if "run" in _state:
        _state["threads"] = max(1, _state["get"]())
    return True


def _find():
    path = _numpy_openblas()
    if path is None:
        return 1
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return 1
    # the entry points' names vary with the build: a "scipy_" prefix, a "64_" suffix
    get_threads, set_threads = (next((getattr(lib, f"{prefix}openblas_{name}{suffix}")
                                      for prefix in ("", "scipy_") for suffix in ("", "64_")
                                      if hasattr(lib, f"{prefix}openblas_{name}{suffix}")), None)
                                for name in ("get_num_threads", "set_num_threads"))
    if get_threads is None or set_threads is None:
        return 1
    get_threads.argtypes, get_threads.restype = [], ctypes.c_int
    set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
    _state["get"], _state["set"] = get_threads, set_threads
    pthread = getattr(lib, "gotoblas_pthread", None)
    if pthread is None or os.environ.get("FRAMEWORK_OPENBLAS_LOOPS", "1") == "0":
        return 1
    pthread.argtypes, pthread.restype = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    _state["run"] = pthread
    return max(1, get_threads())


def _numpy_openblas():
    """The path of numpy's OpenBLAS among the libraries mapped into this process (Linux), or None."""
    import numpy as np
    np.empty((2, 2), np.float32) @ np.empty((2, 2), np.float32)  # numpy loads its BLAS on first use
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "/" in line and "openblas" in line.lower()})
    except OSError:
        return None
    paths = [p for p in paths if ".so" in os.path.basename(p)]
    # numpy's wheels keep it beside the package (numpy.libs, numpy/.libs); SciPy's copy is another library
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    own = [p for p in paths if os.path.relpath(p, site).split(os.sep)[0] in ("numpy", "numpy.libs")]
    if own:
        return own[0]
    return paths[0] if len(paths) == 1 else None
