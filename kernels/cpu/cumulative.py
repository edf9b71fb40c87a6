"""Cumulative kernels along one dim: cumsum, cumprod, cummax/cummin, logcumsumexp, n-th differences."""
import numpy as np


def _scan(ufunc, x, dim, reverse=False):
    """Running ``ufunc`` along ``dim``; float16/32 accumulate in float64 as PyTorch's CPU scans do."""
    if x.ndim == 0:
        return x.copy()
    acc = np.float64 if x.dtype.kind == "f" else x.dtype
    if reverse:
        out = np.flip(ufunc.accumulate(np.flip(x, dim), axis=dim, dtype=acc), dim)
    else:
        out = ufunc.accumulate(x, axis=dim, dtype=acc)
    return out.astype(x.dtype, copy=False)


def _cumsum(x, dim, reverse=False):
    return _scan(np.add, x, dim, reverse)


def _cumprod(x, dim):
    return _scan(np.multiply, x, dim)


def _logcumsumexp(x, dim, reverse=False):
    return _scan(np.logaddexp, x, dim, reverse)


def _cum_extreme(ufunc, x, dim):
    """Running extreme and the index where it was last reached (NaN, once seen, stays; each NaN moves the index)."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    values = ufunc.accumulate(x, axis=dim)
    reached = x == values
    if x.dtype.kind == "f":
        reached |= np.isnan(x)
    shape = [1] * x.ndim
    shape[dim] = x.shape[dim]
    positions = np.where(reached, np.arange(x.shape[dim]).reshape(shape), 0)
    return values, np.maximum.accumulate(positions, axis=dim).astype(np.int64, copy=False)


def _cummax(x, dim):
    return _cum_extreme(np.maximum, x, dim)


def _cummin(x, dim):
    return _cum_extreme(np.minimum, x, dim)


def _diff(*parts, n, dim):
    """n-th forward difference along ``dim`` of the parts joined along it (bool uses xor, as PyTorch)."""
    x = np.concatenate(parts, axis=dim) if len(parts) > 1 else parts[0]
    for _ in range(n):
        if x.shape[dim] == 0:
            break
        hi, lo = np.take(x, np.arange(1, x.shape[dim]), axis=dim), np.take(x, np.arange(x.shape[dim] - 1), axis=dim)
        x = hi ^ lo if x.dtype == np.bool_ else hi - lo
    return x.copy() if n == 0 else x


def _diff_adjoint(g, n, dim, length):
    """Transpose of ``_diff``: maps a gradient of the n-th difference back to a gradient of ``length`` inputs."""
    for _ in range(n):
        width = [(0, 0)] * g.ndim
        width[dim] = (1, 1)
        padded = np.pad(g, width)
        size = padded.shape[dim]
        g = np.take(padded, np.arange(size - 1), axis=dim) - np.take(padded, np.arange(1, size), axis=dim)
    if g.shape[dim] != length:  # the difference ran out of elements: those inputs get no gradient
        shape = list(g.shape)
        shape[dim] = length
        return np.zeros(shape, g.dtype)
    return g


KERNELS = {"cumsum": _cumsum, "cumprod": _cumprod, "logcumsumexp": _logcumsumexp, "cummax": _cummax,
           "cummin": _cummin, "diff": _diff, "diff_adjoint": _diff_adjoint}
