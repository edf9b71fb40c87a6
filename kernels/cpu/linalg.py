"""Linear-algebra kernels: LAPACK through ``numpy.linalg``, and vector norms.

numpy raises ``numpy.linalg.LinAlgError`` for singular or non-definite input; the framework turns it
into PyTorch's ``linalg.LinAlgError`` with the op's name.
"""
import numpy as np

_f16 = np.dtype(np.float16)


def _vector_norm(x, ord, dims, keepdim):
    """The ``ord``-norm over ``dims`` (None: all); float16 accumulates in float32 as PyTorch does."""
    if x.dtype == _f16:
        return _vector_norm(x.astype(np.float32), ord, dims, keepdim).astype(_f16)
    if x.ndim == 0:
        x, dims, keepdim = x.reshape(1), None, False
    a = np.abs(x)
    if ord == 2:
        return np.sqrt(np.sum(a * a, axis=dims, keepdims=keepdim))
    if ord == 1:
        return np.sum(a, axis=dims, keepdims=keepdim)
    if ord == np.inf:
        return np.max(a, axis=dims, keepdims=keepdim)
    if ord == -np.inf:
        return np.min(a, axis=dims, keepdims=keepdim)
    if ord == 0:
        return np.asarray(np.count_nonzero(a, axis=dims, keepdims=keepdim), dtype=x.dtype)
    return np.power(np.sum(np.power(a, ord), axis=dims, keepdims=keepdim), 1.0 / ord)


def _slogdet(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.asarray(sign), np.asarray(logabs)


def _solve(a, b):
    return np.linalg.solve(a, b)


def _cholesky(a, upper):
    low = np.linalg.cholesky(a)
    return np.swapaxes(low, -1, -2).copy() if upper else low


def _qr(a, mode):
    if mode == "r":
        return np.empty((0,), a.dtype), np.linalg.qr(a, mode="r")
    q, r = np.linalg.qr(a, mode=mode)
    return q, r


def _eigh(a, uplo):
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return w, v


def _svd(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return u, s, vh


def _svdvals(a):
    return np.linalg.svd(a, compute_uv=False)


KERNELS = {
    "linalg_vector_norm": _vector_norm,
    "linalg_inv": np.linalg.inv,
    "linalg_det": lambda a: np.asarray(np.linalg.det(a)),
    "linalg_slogdet": _slogdet,
    "linalg_solve": _solve,
    "linalg_cholesky": _cholesky,
    "linalg_qr": _qr,
    "linalg_eigh": _eigh,
    "linalg_svd": _svd,
    "linalg_svdvals": _svdvals,
}
