"""Matrix-product kernels: GEMM through numpy's BLAS (``np.matmul``), einsum, cross, cdist.

numpy has no BLAS path for float16, so half inputs are computed in float32 and rounded back, as
PyTorch's CPU kernels accumulate half products in float.
"""
import numpy as np

_f16 = np.dtype(np.float16)


def _widen(*arrays):
    return tuple(a.astype(np.float32) if a.dtype == _f16 else a for a in arrays)


def _matmul(a, b):
    """numpy ``matmul`` semantics; a stacked matrix times one matrix becomes a single GEMM when ``a`` is contiguous."""
    if a.dtype == _f16:
        return _matmul(*_widen(a, b)).astype(_f16)
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        rows = a.size // a.shape[-1] if a.shape[-1] else int(np.prod(a.shape[:-1]))
        return np.matmul(a.reshape(rows, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
    return np.matmul(a, b)


def _addmatmul(input, a, b, beta, alpha):
    """``beta * input + alpha * (a @ b)``; beta == 0 ignores ``input`` entirely (NaN included)."""
    half = a.dtype == _f16
    if half:
        input, a, b = _widen(input, a, b)
    out = _matmul(a, b)
    if alpha != 1:
        np.multiply(out, alpha, out=out, casting="unsafe")
    if beta != 0:
        np.add(out, input if beta == 1 else input * beta, out=out, casting="unsafe")
    return out.astype(_f16) if half else out


def _einsum(*operands, equation):
    if operands and operands[0].dtype == _f16:
        return _einsum(*_widen(*operands), equation=equation).astype(_f16)
    # the contraction-path search costs tens of microseconds: only worth it when BLAS can take over
    big = len(operands) > 1 and sum(o.size for o in operands) > 4096
    return np.asarray(np.einsum(equation, *operands, optimize=big))


def _cross(a, b, dim):
    return np.cross(a, b, axis=dim)


def _cdist(x1, x2, p, use_mm):
    """Pairwise p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    if use_mm:
        # |x - y|^2 = |x|^2 + |y|^2 - 2 x.y: one GEMM instead of a P x R x M difference tensor
        sq1 = np.einsum("...pm,...pm->...p", x1, x1)[..., :, None]
        sq2 = np.einsum("...rm,...rm->...r", x2, x2)[..., None, :]
        d2 = sq1 + sq2 - 2 * np.matmul(x1, np.swapaxes(x2, -1, -2))
        return np.sqrt(np.maximum(d2, 0, out=d2), out=d2)
    diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return np.count_nonzero(diff, axis=-1).astype(x1.dtype)
    if p == np.inf:
        return diff.max(axis=-1, initial=0)
    if p == 1:
        return diff.sum(axis=-1)
    if p == 2:
        return np.sqrt(np.einsum("...m,...m->...", diff, diff))
    return np.power(np.power(diff, p).sum(axis=-1), 1.0 / p)


KERNELS = {"matmul": _matmul, "addmatmul": _addmatmul, "einsum": _einsum, "cross": _cross, "cdist": _cdist}
