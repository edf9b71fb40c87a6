"""CPU thread counts (``torch.set_num_threads`` and friends): OpenBLAS's GEMMs, the loops shared among its threads
(``kernels/cpu/openblas_threads.py``) and Numba's parallel loops follow the intra-op count. There is no inter-op
pool; its count is kept and reported, and set once, as PyTorch allows."""
import os

__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads", "get_num_interop_threads"]

_state = {"threads": None, "interop": None}


def _check_count(fn, count):
    if type(count) is bool or not hasattr(type(count), "__index__"):
        raise RuntimeError(f"{fn} expects an int, but got {type(count).__name__}")
    count = count.__index__()
    if count <= 0:
        raise RuntimeError(f"{fn} expects a positive integer")
    return count


def set_num_threads(count):
    """Sets the number of threads used for intra-op parallelism on CPU."""
    count = _check_count("set_num_threads", count)
    from kernels.cpu import openblas_threads
    openblas_threads.set_threads(count)
    import numba  # its pool cannot grow past NUMBA_NUM_THREADS, fixed when it starts
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    _state["threads"] = count


def get_num_threads():
    """Returns the number of threads used for parallelizing CPU operations."""
    if _state["threads"] is not None:
        return _state["threads"]
    from kernels.cpu import openblas_threads
    return openblas_threads.blas_thread_count() or os.cpu_count() or 1


def set_num_interop_threads(count):
    """Sets the number of threads used for inter-op parallelism on CPU (once, before any is used)."""
    count = _check_count("set_num_interop_threads", count)
    if _state["interop"] is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _state["interop"] = count


def get_num_interop_threads():
    """Returns the number of threads used for inter-op parallelism on CPU."""
    return _state["interop"] if _state["interop"] is not None else (os.cpu_count() or 1)
