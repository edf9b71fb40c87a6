"""Random numbers drawn on the GPU: counter-based Philox4x32-10, one CUDA kernel per distribution.

A generator's whole state is ``(seed, offset)``. Element ``i`` of a draw is computed from the Philox block
with key ``seed`` and counter ``(i, offset)`` (two 64-bit halves), so a draw needs no per-thread state,
any element can be recomputed alone, and saving a generator is saving two integers. The framework advances
``offset`` by one per draw, which gives each draw its own counter space (2^64 elements).

The streams are Philox4x32-10 as in Random123 (checked against its known-answer values), but not PyTorch's
CUDA streams: PyTorch splits the counter differently and uses its own transforms, so seeded results differ
from torch on CUDA (they are not meant to match; CPU streams do match PyTorch bit for bit).

Each kernel allocates its result with ``_empty`` (CuPy on the current device), so the module imports
without CuPy and tests run the same sources on the host.
"""
import numpy as np

from ._raw import launch

__all__ = ["SOURCE", "KERNELS"]

SOURCE = r"""
typedef unsigned int u32;
typedef unsigned long long u64;

__device__ void philox(u64 index, u64 offset, u64 seed, u32 *r) {
    u32 c0 = (u32)index, c1 = (u32)(index >> 32), c2 = (u32)offset, c3 = (u32)(offset >> 32);
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        if (round) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        u64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;
        u32 n0 = (u32)(p1 >> 32) ^ c1 ^ k0, n2 = (u32)(p0 >> 32) ^ c3 ^ k1;
        c1 = (u32)p1; c3 = (u32)p0; c0 = n0; c2 = n2;
    }
    r[0] = c0; r[1] = c1; r[2] = c2; r[3] = c3;
}

// uniform on [0, 1) with T's precision: 24 bits for float, 53 for double (every value exact in T)
__device__ T unit(u32 hi, u32 lo) {
    if (sizeof(T) == 4) return (T)(hi >> 8) * (T)(1.0 / 16777216.0);
    return (T)(((u64)hi << 21) ^ (lo >> 11)) * (T)(1.0 / 9007199254740992.0);
}

__device__ double unit53(u32 hi, u32 lo) {
    return (double)(((u64)hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

#define EACH(i) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; \
                     i += (long long)blockDim.x * gridDim.x)

extern "C" __global__ void rng_uniform(long long total, T *out, long long seed, long long offset,
                                       double low, double high) {
    T lo = (T)low, span = (T)(high - low);
    EACH(i) {
        u32 r[4]; philox((u64)i, (u64)offset, (u64)seed, r);
        T x = lo + unit(r[0], r[1]) * span;
        out[i] = (x < (T)high || !(high > low)) ? x : lo;  // rounding must not reach the open end
    }
}

extern "C" __global__ void rng_normal(long long total, T *out, long long seed, long long offset,
                                      double mean, double std) {
    EACH(i) {
        u32 r[4]; philox((u64)i, (u64)offset, (u64)seed, r);
        double u1 = 1.0 - unit53(r[0], r[1]);  // (0, 1]: log stays finite
        double u2 = unit53(r[2], r[3]);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        out[i] = (T)(mean + std * z);
    }
}

extern "C" __global__ void rng_bernoulli(long long total, T *out, long long seed, long long offset, double p) {
    EACH(i) {
        u32 r[4]; philox((u64)i, (u64)offset, (u64)seed, r);
        out[i] = unit53(r[0], r[1]) < p ? (T)1 : (T)0;
    }
}

// lo + (64 random bits mod span); span == 0 means all 2^64 values (arithmetic modulo 2^64)
extern "C" __global__ void rng_integers(long long total, long long *out, long long seed, long long offset,
                                        long long lo, long long span) {
    EACH(i) {
        u32 r[4]; philox((u64)i, (u64)offset, (u64)seed, r);
        u64 bits = ((u64)r[0] << 32) | r[1];
        out[i] = (long long)((u64)lo + (span ? bits % (u64)span : bits));
    }
}
"""


def _empty(shape, dtype):
    import cupy
    return cupy.empty(shape, dtype)


def _signed(value):
    """A 64-bit unsigned value as the ``long long`` with the same bits (how kernel arguments travel)."""
    value = int(value) & 0xFFFF_FFFF_FFFF_FFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def _draw(name, shape, dtype, seed, offset, *params):
    out = _empty(shape, dtype)
    key = np.float64 if out.dtype == np.int64 else out.dtype
    launch(SOURCE, name, key, out.size, out, _signed(seed), _signed(offset), *params)
    return out


def rng_uniform(shape, dtype, seed, offset, low, high):
    """A new float32/float64 array of U[low, high) samples from the Philox stream ``(seed, offset)``."""
    return _draw("rng_uniform", shape, dtype, seed, offset, np.float64(low), np.float64(high))


def rng_normal(shape, dtype, seed, offset, mean, std):
    """A new float32/float64 array of N(mean, std^2) samples (Box-Muller in double precision)."""
    return _draw("rng_normal", shape, dtype, seed, offset, np.float64(mean), np.float64(std))


def rng_bernoulli(shape, dtype, seed, offset, p):
    """A new float32/float64 array of 0/1 samples, 1 with probability ``p``."""
    return _draw("rng_bernoulli", shape, dtype, seed, offset, np.float64(p))


def rng_integers(shape, seed, offset, low, span):
    """A new int64 array of integers ``low + k``, k uniform on [0, span) (``span`` 0: all 2^64 bit patterns)."""
    return _draw("rng_integers", shape, np.int64, seed, offset, _signed(low), _signed(span))


KERNELS = {"rng_uniform": rng_uniform, "rng_normal": rng_normal, "rng_bernoulli": rng_bernoulli,
           "rng_integers": rng_integers}
