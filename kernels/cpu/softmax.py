"""Softmax and log-softmax along one axis: max-shifted for stability; a fused Numba pass for long last-dim rows."""
import numpy as np

from ._numba import jit

# Below this row length numpy's three vectorised passes beat the per-call overhead of the fused loop.
_FUSED_MIN_ROW = 256


@jit
def _rows_fused(x, out, log):
    for r in range(x.shape[0]):
        row = x[r]
        m = row[0]
        for v in row:
            if v > m or v != v:
                m = v
        total = 0.0
        if log:
            for v in row:
                total += np.exp(v - m)
            shift = m + np.log(total)
            for j in range(row.shape[0]):
                out[r, j] = row[j] - shift
        else:
            for j in range(row.shape[0]):
                e = np.exp(row[j] - m)
                out[r, j] = e
                total += e
            inv = 1.0 / total
            for j in range(row.shape[0]):
                out[r, j] *= inv


def _fused_ok(x, axis):
    return (axis == x.ndim - 1 and x.shape[-1] >= _FUSED_MIN_ROW and x.dtype in (np.float32, np.float64)
            and x.size > 0)


def _run_fused(x, log):
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    _rows_fused(rows, out, log)
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
    if _fused_ok(x, dim):
        return _run_fused(x, False)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    e /= np.sum(e, axis=dim, keepdims=True)
    return e


def _log_softmax(x, dim):
    if x.size == 0:
        return x.copy()
    if _fused_ok(x, dim):
        return _run_fused(x, True)
    shifted = x - np.max(x, axis=dim, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
    return shifted


KERNELS = {"softmax": _half_safe(_softmax), "log_softmax": _half_safe(_log_softmax)}
