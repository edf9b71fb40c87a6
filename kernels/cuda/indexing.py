"""``scatter_reduce``'s combining loop as a CUDA kernel, in place of the Numba ``_reduce_at`` of the CPU kernel.

No atomics: the flat target positions are sorted (stably, so each target sees its values in input order,
as the CPU loop does), and one thread per distinct target folds its run of values with the reduction.
The results are the CPU kernel's, NaN propagation and integer wrap-around included, for every dtype
(float16 is combined in float32); the CPU ``_scatter_reduce`` around it (positions, mean's division)
runs unchanged on the device.
"""
import numpy as np

from ._raw import CTYPES, array_module, launch

SOURCE = r"""

// mode: 0 sum, 1 prod, 2 mean (summed here), 3 amax, 4 amin; NaN wins amax and amin
extern "C" __global__ void reduce_runs(long long total, T* out, const T* values, const long long* order,
                                       const long long* starts, const long long* targets, long long mode,
                                       long long include_self) {
    GRID_STRIDE(s) {
        long long p = targets[s], i = starts[s], end = starts[s + 1];
        T acc = include_self ? out[p] : values[order[i++]];
        for (; i < end; ++i) {
            T v = values[order[i]];
            if (mode == 0 || mode == 2) acc += v;
            else if (mode == 1) acc *= v;
            else if (mode == 3) { if (v > acc || v != v) acc = v; }
            else if (!(v >= acc)) acc = v;
        }
        out[p] = acc;
    }
}
"""


def reduce_at(out, pos, values, mode, include_self):
    """Combine ``values`` into flat ``out[pos]`` with ``mode``; returns the per-position count mean divides by."""
    xp = array_module(out)
    count = xp.full(out.size, int(include_self), np.int64)
    if pos.size == 0:
        return count
    order = xp.argsort(pos, kind="stable")
    ordered = pos[order]
    starts = xp.concatenate((xp.zeros(1, np.int64), xp.flatnonzero(ordered[1:] != ordered[:-1]) + 1,
                             xp.full(1, pos.size, np.int64)))
    targets = ordered[starts[:-1]]
    count[targets] += starts[1:] - starts[:-1]
    dtype = out.dtype if out.dtype in CTYPES else np.dtype(np.float32)
    work = out if dtype == out.dtype else out.astype(dtype)
    launch(SOURCE, "reduce_runs", dtype, targets.size, work, xp.ascontiguousarray(values, dtype=dtype),
           order.astype(np.int64, copy=False), starts, xp.ascontiguousarray(targets), mode, int(include_self))
    if work is not out:
        out[...] = work
    return count


LOOPS = {"kernels.cpu.indexing": {"_reduce_at": reduce_at}}
