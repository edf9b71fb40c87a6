"""Softmax and log-softmax along one axis: max-shifted for stability; a vectorised Numba exp for float32 rows."""
import numpy as np

from ._numba import jit

# Below this many elements numpy's vectorised passes cost no more than the Numba call.
_FAST_MIN_SIZE = 4096

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)  # ln 2 split in two so n * ln2 is exact for the range reduction
_LN2_LO = np.float32(-2.12194440e-4)


@jit(inline="always", error_model="numpy")
def exp_of_nonpositive(v):
    """exp(``v``) of a float32 ``v`` <= 0 (NaN stays NaN, below -87 gives 0), vectorisable in a Numba loop.

    numpy's float32 exp runs scalar on this machine (no AVX-512); this branch-free polynomial (2.5 ulp on
    [-87, 0]) vectorises: exp(v) = p(r) * 2**n, 2**n built from its exponent bits.
    """
    tiny = v < np.float32(-87.0)
    w = np.float32(0.0) if tiny else v
    n = np.floor(w * _LOG2E + np.float32(0.5))
    r = w - n * _LN2_HI - n * _LN2_LO
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    scale = np.int32((np.int32(n) + np.int32(127)) << np.int32(23)).view(np.float32)
    return np.float32(0.0) if tiny else ((p * r * r + r) + np.float32(1.0)) * scale


# reassociation (for the vectorised row sums) but no "no NaNs/infs" assumption: NaN rows must stay NaN
@jit(fastmath={"reassoc", "contract", "arcp", "nsz", "afn"}, error_model="numpy")
def _softmax_rows(rows, shift, out, log):
    """Softmax (or the row sums of exp, for log-softmax) of float32 rows shifted by their max, row by row.

    Returns nothing; ``out`` holds the softmax, or for ``log`` the per-row sums in ``out[:, 0]``.
    """
    for i in range(rows.shape[0]):
        m = shift[i, 0]
        for j in range(rows.shape[1]):
            out[i, j] = exp_of_nonpositive(rows[i, j] - m)
        total = np.float32(0.0)
        for j in range(rows.shape[1]):
            total += out[i, j]
        if log:
            out[i, 0] = total
        else:
            inv = np.float32(1.0) / total
            for j in range(rows.shape[1]):
                out[i, j] *= inv


def _fast_ok(x, axis):
    return axis == x.ndim - 1 and x.dtype == np.float32 and x.size >= _FAST_MIN_SIZE and x.shape[-1] > 0


def _fast_rows(x, log):
    """Softmax / log-softmax over the last dim of float32 ``x`` with the vectorised exp."""
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    shift = rows.max(axis=1, keepdims=True)  # NaN rows stay NaN, as in PyTorch
    out = np.empty_like(rows)
    _softmax_rows(rows, shift, out, log)
    if log:
        out = (rows - shift) - np.log(out[:, :1])
    return out.reshape(x.shape)


def _half_safe(kernel):
    """float16 rows are computed in float32, as PyTorch accumulates them."""
    def run(x, dim):
        if x.dtype == np.float16:
            return kernel(x.astype(np.float32), dim).astype(np.float16)
        return kernel(x, dim)
    return run


def _softmax(x, dim):
    if x.size == 0:
        return x.copy()
    if _fast_ok(x, dim):
        return _fast_rows(x, False)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    e /= np.sum(e, axis=dim, keepdims=True)
    return e


def _log_softmax(x, dim):
    if x.size == 0:
        return x.copy()
    if _fast_ok(x, dim):
        return _fast_rows(x, True)
    shifted = x - np.max(x, axis=dim, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
    return shifted


KERNELS = {"softmax": _half_safe(_softmax), "log_softmax": _half_safe(_log_softmax)}
