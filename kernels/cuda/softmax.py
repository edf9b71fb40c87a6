"""Softmax and log-softmax along one dim as one CUDA kernel: a block per row, max and sum in shared memory.

The dim is moved last and made contiguous first; float16 rows are computed in float32, as PyTorch does.
A row holding NaN, or only -inf, comes out NaN, as in PyTorch.
"""
import numpy as np

from ._raw import launch_rows

SOURCE = r"""
#define MAX_THREADS 256  // blockDim.x: a power of two up to this

__device__ T block_reduce(T v, T* shared, bool is_max) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            T a = shared[threadIdx.x], b = shared[threadIdx.x + half];
            shared[threadIdx.x] = is_max ? ((b > a || b != b) ? b : a) : a + b;
        }
        __syncthreads();
    }
    T out = shared[0];
    __syncthreads();
    return out;
}

extern "C" __global__ void softmax_rows(const T* x, T* y, long long cols, long long want_log) {
    __shared__ T shared[MAX_THREADS];
    const T* row = x + blockIdx.x * cols;
    T* out = y + blockIdx.x * cols;
    T m = (T)(-__longlong_as_double(0x7ff0000000000000LL));  // -inf (NVRTC has no INFINITY)
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        T v = row[j];
        if (v > m || v != v) m = v;
    }
    m = block_reduce(m, shared, true);
    T total = 0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) total += exp(row[j] - m);
    total = block_reduce(total, shared, false);
    if (want_log) {
        T shift = m + log(total);
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) out[j] = row[j] - shift;
    } else {
        T inv = (T)1 / total;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) out[j] = exp(row[j] - m) * inv;
    }
}
"""


def _rows(x, dim, log):
    import cupy
    if x.size == 0:
        return x.copy()
    if x.ndim == 0:
        return _rows(x.reshape(1), 0, log).reshape(())
    if x.dtype == np.float16:
        return _rows(x.astype(np.float32), dim, log).astype(np.float16)
    moved = cupy.ascontiguousarray(cupy.moveaxis(x, dim, -1))
    out = cupy.empty_like(moved)
    launch_rows(SOURCE, "softmax_rows", x.dtype, moved.size // moved.shape[-1], moved, out, moved.shape[-1], int(log))
    return cupy.moveaxis(out, -1, dim)


def _softmax(x, dim):
    return _rows(x, dim, False)


def _log_softmax(x, dim):
    return _rows(x, dim, True)


KERNELS = {"softmax": _softmax, "log_softmax": _log_softmax}
